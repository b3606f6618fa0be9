// The load-time transforms of hf_transform.h.
#include "runtime/hf_transform.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <cstring>

#include "core/half.h"

namespace loom::runtime {
namespace {

constexpr const char* kKnown[] = {"rope_permute",  "add",     "neg_exp", "f32",      "squeeze",
                                  "reorder_heads", "reshape", "slice",   "transpose"};

LoadTensor from_f32(std::vector<int64_t> shape, const std::vector<float>& v) {
    LoadTensor t;
    t.type = DType::f32;
    t.shape = std::move(shape);
    t.bytes.resize(v.size() * 4);
    if (!v.empty()) std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
}

Result<int64_t> whole(const HfArgFn& arg, const arch::HfTransform& t, size_t i) {
    if (t.args.size() <= i) return Error::invalid("{}: needs {} argument(s)", t.text, i + 1);
    LOOM_TRY(double v, arg(t.args[i]));
    if (v != std::floor(v) || v < 1 || v > double(int64_t(1) << 40))
        return Error::invalid("{}: argument '{}' = {} is not a positive integer", t.text, t.args[i], v);
    return int64_t(v);
}

Result<LoadTensor> rope_permute(const arch::HfTransform& t, LoadTensor in, const HfArgFn& arg) {
    LOOM_TRY(int64_t n, whole(arg, t, 0));
    if (in.shape.empty()) return Error::invalid("{}: a scalar has no rows to permute", t.text);
    const int64_t rows = in.shape[0];
    if (rows % (2 * n) != 0)
        return Error::invalid("{}: {} rows do not split into {} heads of an even number of rows", t.text, rows, n);
    const int64_t half = rows / n / 2;
    const size_t row_bytes = in.bytes.size() / size_t(rows);
    std::vector<uint8_t> out(in.bytes.size());
    // Within head h: source row half_index·half + i goes to row 2i + half_index (convert_hf_to_gguf's permute).
    for (int64_t h = 0; h < n; ++h)
        for (int64_t s = 0; s < 2; ++s)
            for (int64_t i = 0; i < half; ++i) {
                const int64_t src = h * 2 * half + s * half + i, dst = h * 2 * half + 2 * i + s;
                std::memcpy(out.data() + size_t(dst) * row_bytes, in.bytes.data() + size_t(src) * row_bytes, row_bytes);
            }
    in.bytes = std::move(out);
    return in;
}

size_t element_bytes(const LoadTensor& t) { return t.type == DType::f32 ? 4 : 2; }

int64_t product(const std::vector<int64_t>& shape, size_t from, size_t to) {
    int64_t n = 1;
    for (size_t i = from; i < to; ++i) n *= shape[i];
    return n;
}

// An axis argument: 0..rank-1, or -1 for the last.
Result<size_t> axis_of(const arch::HfTransform& t, const LoadTensor& in, const HfArgFn& arg) {
    if (t.args.empty()) return Error::invalid("{}: needs an axis", t.text);
    LOOM_TRY(double a, arg(t.args[0]));
    const auto rank = double(in.shape.size());
    if (a == -1) a = rank - 1;
    if (a != std::floor(a) || a < 0 || a >= rank)
        return Error::invalid("{}: axis {} is not one of the tensor's {} dimensions", t.text, a, in.shape.size());
    return size_t(a);
}

// The tensor as [outer, n, inner] around `axis`: inner in bytes.
struct AxisView {
    int64_t outer, n;
    size_t inner;
};
AxisView around(const LoadTensor& in, size_t axis) {
    return {product(in.shape, 0, axis), in.shape[axis],
            size_t(product(in.shape, axis + 1, in.shape.size())) * element_bytes(in)};
}

Result<LoadTensor> reorder_heads(const arch::HfTransform& t, LoadTensor in, const HfArgFn& arg) {
    if (t.args.size() != 4) return Error::invalid("{}: needs axis, groups, heads, block", t.text);
    LOOM_TRY(size_t axis, axis_of(t, in, arg));
    LOOM_TRY(int64_t groups, whole(arg, t, 1));
    LOOM_TRY(int64_t heads, whole(arg, t, 2));
    LOOM_TRY(int64_t block, whole(arg, t, 3));
    const AxisView v = around(in, axis);
    if (heads % groups != 0 || heads * block > v.n)
        return Error::invalid("{}: {} heads of {} in {} groups do not fit the {} entries of axis {}", t.text, heads,
                              block, groups, v.n, axis);
    const int64_t per = heads / groups, start = v.n - heads * block;
    std::vector<uint8_t> out(in.bytes);
    const size_t run = size_t(block) * v.inner;
    for (int64_t o = 0; o < v.outer; ++o)
        for (int64_t g = 0; g < groups; ++g)
            for (int64_t j = 0; j < per; ++j) {
                const int64_t src = start + (g * per + j) * block, dst = start + (j * groups + g) * block;
                std::memcpy(out.data() + size_t(o * v.n + dst) * v.inner,
                            in.bytes.data() + size_t(o * v.n + src) * v.inner, run);
            }
    in.bytes = std::move(out);
    return in;
}

Result<LoadTensor> reshape(const arch::HfTransform& t, LoadTensor in, const HfArgFn& arg) {
    if (t.args.empty()) return Error::invalid("{}: needs the new dimensions", t.text);
    std::vector<int64_t> shape;
    int64_t known = 1, rest = -1;
    for (size_t i = 0; i < t.args.size(); ++i) {
        LOOM_TRY(double d, arg(t.args[i]));
        if (d == -1 && rest < 0) {
            rest = int64_t(i);
            shape.push_back(1);
            continue;
        }
        if (d != std::floor(d) || d < 1 || d > double(int64_t(1) << 40))
            return Error::invalid("{}: dimension '{}' = {} is not a positive integer", t.text, t.args[i], d);
        shape.push_back(int64_t(d));
        known *= int64_t(d);
    }
    const int64_t n = product(in.shape, 0, in.shape.size());
    if (rest >= 0 && known > 0 && n % known == 0) shape[size_t(rest)] = n / known, known = n;
    if (known != n)
        return Error::invalid("{}: {} elements ({}) do not make shape [{}]", t.text, n, fmt::join(in.shape, "×"),
                              fmt::join(shape, ", "));
    in.shape = std::move(shape);
    return in;
}

Result<LoadTensor> slice(const arch::HfTransform& t, LoadTensor in, const HfArgFn& arg) {
    if (t.args.size() != 3) return Error::invalid("{}: needs axis, start, length", t.text);
    LOOM_TRY(size_t axis, axis_of(t, in, arg));
    LOOM_TRY(double start, arg(t.args[1]));
    LOOM_TRY(int64_t length, whole(arg, t, 2));
    const AxisView v = around(in, axis);
    if (start != std::floor(start) || start < 0 || int64_t(start) + length > v.n)
        return Error::invalid("{}: entries {}..{} are not within the {} of axis {}", t.text, start,
                              start + double(length), v.n, axis);
    std::vector<uint8_t> out(size_t(v.outer * length) * v.inner);
    for (int64_t o = 0; o < v.outer; ++o)
        std::memcpy(out.data() + size_t(o * length) * v.inner,
                    in.bytes.data() + size_t(o * v.n + int64_t(start)) * v.inner, size_t(length) * v.inner);
    in.shape[axis] = length;
    in.bytes = std::move(out);
    return in;
}

Result<LoadTensor> transpose(const arch::HfTransform& t, LoadTensor in) {
    const size_t rank = in.shape.size();
    if (rank < 2) return Error::invalid("{}: a tensor of {} dimension(s) has no last two to swap", t.text, rank);
    const int64_t rows = in.shape[rank - 2], cols = in.shape[rank - 1], mats = product(in.shape, 0, rank - 2);
    const size_t el = element_bytes(in);
    std::vector<uint8_t> out(in.bytes.size());
    for (int64_t m = 0; m < mats; ++m)
        for (int64_t r = 0; r < rows; ++r)
            for (int64_t c = 0; c < cols; ++c)
                std::memcpy(out.data() + size_t((m * cols + c) * rows + r) * el,
                            in.bytes.data() + size_t((m * rows + r) * cols + c) * el, el);
    std::swap(in.shape[rank - 2], in.shape[rank - 1]);
    in.bytes = std::move(out);
    return in;
}

}  // namespace

std::vector<float> to_f32(const LoadTensor& t) {
    const size_t el = t.type == DType::f32 ? 4 : 2;
    std::vector<float> v(t.bytes.size() / el);
    for (size_t i = 0; i < v.size(); ++i) {
        if (t.type == DType::f32) {
            std::memcpy(&v[i], t.bytes.data() + 4 * i, 4);
            continue;
        }
        uint16_t h;
        std::memcpy(&h, t.bytes.data() + 2 * i, 2);
        v[i] = t.type == DType::bf16 ? bf16_to_f32(h) : f16_to_f32(h);
    }
    return v;
}

bool known_hf_transform(const std::string& op) {
    for (const char* k : kKnown)
        if (op == k) return true;
    return false;
}

Result<LoadTensor> apply_hf_transform(const arch::HfTransform& t, LoadTensor in, const HfArgFn& arg) {
    if (t.op == "rope_permute") return rope_permute(t, std::move(in), arg);
    if (t.op == "reorder_heads") return reorder_heads(t, std::move(in), arg);
    if (t.op == "reshape") return reshape(t, std::move(in), arg);
    if (t.op == "slice") return slice(t, std::move(in), arg);
    if (t.op == "transpose") return transpose(t, std::move(in));
    if (t.op == "squeeze") {
        std::vector<int64_t> s;
        for (int64_t d : in.shape)
            if (d != 1) s.push_back(d);
        in.shape = s.empty() ? std::vector<int64_t>{1} : s;
        return in;
    }
    if (t.op == "f32") return from_f32(in.shape, to_f32(in));
    if (t.op == "add") {
        if (t.args.size() != 1) return Error::invalid("{}: needs one argument", t.text);
        LOOM_TRY(double c, arg(t.args[0]));
        std::vector<float> v = to_f32(in);
        const auto cf = float(c);
        for (float& x : v) x += cf;
        return from_f32(in.shape, v);
    }
    if (t.op == "neg_exp") {
        std::vector<float> v = to_f32(in);
        for (float& x : v) x = -std::exp(x);
        return from_f32(in.shape, v);
    }
    return Error::invalid("{}: unknown transform '{}' (known: {})", t.text, t.op, fmt::join(kKnown, ", "));
}

}  // namespace loom::runtime
