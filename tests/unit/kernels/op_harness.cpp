// The op-test harness's implementations, buffers and comparisons (op_harness.h).
#include "unit/kernels/op_harness.h"

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <sstream>

#include "unit/kernels/matmul_testing.h"

namespace loom::kernels::testing {

const std::vector<Impl>& impls() {
    static ThreadPool pool(3);
    static const std::vector<Impl> all = [] {
        std::vector<Impl> v{{"ref", *op_table(Backend::ref), nullptr, true}};
        for (Backend b : {Backend::cpu, Backend::cuda})
            for (const OpTable& t : variants(b)) {
                v.push_back({std::string(t.variant) + " x1", t, nullptr, false});
                v.push_back({std::string(t.variant) + " x3", t, &pool, false});
            }
        return v;
    }();
    return all;
}

// cpu_ops.cpp names the variants; "cpu portable" is the one without SIMD kernels.
bool is_portable(const OpTable& t) { return t.backend == Backend::cpu && std::string(t.variant) == "cpu portable"; }

int64_t ulp_distance(float a, float b) {
    if (std::isnan(a) && std::isnan(b)) return 0;
    if (a == b) return 0;
    int32_t ia, ib;
    std::memcpy(&ia, &a, 4);
    std::memcpy(&ib, &b, 4);
    if (ia < 0) ia = int32_t(0x80000000u) - ia;
    if (ib < 0) ib = int32_t(0x80000000u) - ib;
    return std::llabs(int64_t(ia) - int64_t(ib));
}

int64_t max_ulp(const std::vector<float>& got, const std::vector<float>& want) {
    int64_t m = 0;
    for (size_t i = 0; i < got.size(); ++i) m = std::max(m, ulp_distance(got[i], want[i]));
    return m;
}

std::string describe(const Tol& t) {
    switch (t.kind) {
        case Tol::Kind::bits: return "bit-exact";
        case Tol::Kind::ulp: return "within " + std::to_string(int64_t(t.bound)) + " ulp";
        case Tol::Kind::abs: return "within " + std::to_string(t.bound) + " absolute";
        case Tol::Kind::nmse: return "nmse within " + std::to_string(t.bound);
    }
    return "?";
}

// ---- buffers -----------------------------------------------------------------------------------------------------

TensorView CaseData::add(DType t, std::initializer_list<int64_t> shape, uint8_t fill) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    std::vector<uint8_t>& b = store_.emplace_back(size_t(row_bytes(t, n)), fill);
    return TensorView::dense(b.data(), t, shape);
}

namespace {
template <typename Dist>
TensorView fill(const TensorView& v, uint32_t seed, Dist dist) {
    std::mt19937 rng(seed);
    auto* p = static_cast<float*>(v.data);
    for (int64_t i = 0; i < v.n_elements(); ++i) p[i] = dist(rng);
    return v;
}
}  // namespace

TensorView CaseData::normal(std::initializer_list<int64_t> shape, uint32_t seed, float sigma, float mean) {
    return fill(add(DType::f32, shape, 0), seed, std::normal_distribution<float>(mean, sigma));
}

TensorView CaseData::uniform(std::initializer_list<int64_t> shape, uint32_t seed, float lo, float hi) {
    return fill(add(DType::f32, shape, 0), seed, std::uniform_real_distribution<float>(lo, hi));
}

TensorView CaseData::values(std::initializer_list<int64_t> shape, const std::vector<float>& x) {
    const TensorView v = add(DType::f32, shape, 0);
    EXPECT_EQ(size_t(v.n_elements()), x.size()) << "CaseData::values: shape and values disagree";
    std::memcpy(v.data, x.data(), std::min(x.size(), size_t(v.n_elements())) * 4);
    return v;
}

TensorView CaseData::ids(std::initializer_list<int64_t> shape, const std::vector<int32_t>& x) {
    const TensorView v = add(DType::i32, shape, 0);
    EXPECT_EQ(size_t(v.n_elements()), x.size()) << "CaseData::ids: shape and values disagree";
    std::memcpy(v.data, x.data(), std::min(x.size(), size_t(v.n_elements())) * 4);
    return v;
}

TensorView CaseData::quantized(DType t, int64_t rows, int64_t cols, uint32_t seed) {
    const testing_data::Matrix m = testing_data::random_matrix(t, rows, cols, seed);
    std::vector<uint8_t>& b = store_.emplace_back(m.bytes);
    return TensorView::dense(b.data(), t, {rows, cols});
}

TensorView CaseData::raw(DType t, std::initializer_list<int64_t> shape) { return add(t, shape, 0); }

TensorView CaseData::output(DType t, std::initializer_list<int64_t> shape, std::optional<Tol> tol) {
    return compared(add(t, shape, 0xff), tol);  // 0xff bytes: NaN in f32, −1 in i32
}

TensorView CaseData::compared(const TensorView& v, std::optional<Tol> tol) {
    outputs_.push_back({v, tol});
    return v;
}

void CaseData::reset() {
    for (size_t i = 0; i < store_.size(); ++i) std::memcpy(store_[i].data(), built_[i].data(), store_[i].size());
}

// ---- comparing ----------------------------------------------------------------------------------------------------

std::vector<uint8_t> bytes_of(const TensorView& v) {
    // Compared views are dense (outputs, and inputs marked compared), so their bytes are one run.
    const auto* p = static_cast<const uint8_t*>(v.data);
    return std::vector<uint8_t>(p, p + row_bytes(v.dtype, v.n_elements()));
}

RunResult snapshot(const CaseData& d, Status st) {
    RunResult r;
    r.status = std::move(st);
    for (const CaseData::Compared& c : d.outputs()) r.outputs.push_back(bytes_of(c.view));
    return r;
}

namespace {

std::vector<float> as_floats(const std::vector<uint8_t>& b) {
    std::vector<float> f(b.size() / 4);
    std::memcpy(f.data(), b.data(), f.size() * 4);
    return f;
}

std::string shape_of(const TensorView& v) {
    std::ostringstream s;
    s << '[';
    for (int i = 0; i < v.rank; ++i) s << (i ? ", " : "") << v.shape[i];
    s << ']';
    return s.str();
}

}  // namespace

void expect_close(const std::string& where, const TensorView& view, const std::vector<uint8_t>& got,
                  const std::vector<uint8_t>& want, const Tol& tol) {
    ASSERT_EQ(got.size(), want.size()) << where;
    if (view.dtype != DType::f32 || tol.kind == Tol::Kind::bits) {
        const auto diff = std::mismatch(got.begin(), got.end(), want.begin());
        if (diff.first == got.end()) return;
        const size_t byte = size_t(diff.first - got.begin()), esize = size_t(row_bytes(view.dtype, 1));
        const size_t i = byte / esize;
        int32_t g = 0, w = 0;  // i32 values; f32 shown as floats below
        std::memcpy(&g, got.data() + i * esize, std::min<size_t>(esize, 4));
        std::memcpy(&w, want.data() + i * esize, std::min<size_t>(esize, 4));
        std::ostringstream vals;
        if (view.dtype == DType::f32) vals << std::bit_cast<float>(g) << " vs ref " << std::bit_cast<float>(w);
        else vals << g << " vs ref " << w;
        ADD_FAILURE() << where << " " << shape_of(view) << ": not bit-exact, first difference at element " << i << ": "
                      << vals.str();
        return;
    }
    const std::vector<float> g = as_floats(got), w = as_floats(want);
    double worst = 0, num = 0, den = 0;
    size_t at = 0;
    for (size_t i = 0; i < g.size(); ++i) {
        const double e = tol.kind == Tol::Kind::ulp             ? double(ulp_distance(g[i], w[i]))
                         : std::isnan(g[i]) != std::isnan(w[i]) ? INFINITY
                         : std::isnan(g[i])                     ? 0.0
                                                                : std::fabs(double(g[i]) - double(w[i]));
        if (!(e <= worst)) worst = e, at = i;  // NaN and inf count as worst
        if (!std::isnan(w[i])) num += (double(g[i]) - w[i]) * (double(g[i]) - w[i]), den += double(w[i]) * w[i];
    }
    const double err = tol.kind == Tol::Kind::nmse ? (den > 0 ? num / den : num) : worst;
    if (err <= tol.bound) return;
    ADD_FAILURE() << where << " " << shape_of(view) << ": error " << err << ", expected " << describe(tol)
                  << "; worst element " << at << ": " << g[at] << " vs ref " << w[at];
}

}  // namespace loom::kernels::testing
