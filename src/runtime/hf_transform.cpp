// The load-time transforms of hf_transform.h.
#include "runtime/hf_transform.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "core/half.h"

namespace loom::runtime {
namespace {

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
    return op == "rope_permute" || op == "add" || op == "neg_exp" || op == "f32" || op == "squeeze";
}

Result<LoadTensor> apply_hf_transform(const arch::HfTransform& t, LoadTensor in, const HfArgFn& arg) {
    if (t.op == "rope_permute") return rope_permute(t, std::move(in), arg);
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
    return Error::invalid("{}: unknown transform '{}' (known: rope_permute, add, neg_exp, f32, squeeze)", t.text, t.op);
}

}  // namespace loom::runtime
