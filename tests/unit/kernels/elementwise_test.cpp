// Unary, binary, scale and glu: every implementation against double-precision formulas written here (with
// ggml's f16-table semantics for the GELUs checked at the clamps), broadcasting, aliasing, and errors. The CPU
// variants against the reference over odd sizes and special values are harness cases (op_cases_elementwise.cpp).
// Tolerance, CPU vs reference: bit-identical except silu/swiglu on AVX2, within 4 ulp (ggml's polynomial exp,
// ~1.5 ulp from expf).
#include <functional>
#include <numbers>

#include "unit/kernels/elementwise_testing.h"

namespace loom::kernels::testing {
namespace {

bool is_avx2(const Impl& im) { return std::string(im.table.variant).find("avx2") != std::string::npos; }

// ulp budget of a CPU variant against the reference.
int64_t cpu_ulp(const Impl& im, UnaryOp op) { return is_avx2(im) && op == UnaryOp::silu ? 4 : 0; }

Status run_unary(const Impl& im, UnaryOp op, const TensorView& x, const TensorView& y) {
    UnaryArgs a;
    a.op = op;
    a.x = x;
    a.y = y;
    Stream s = im.stream();
    return im.table.unary(a, s);
}

Status run_glu(const Impl& im, UnaryOp act, const TensorView& g, const TensorView& u, const TensorView& y) {
    GluArgs a;
    a.act = act;
    a.gate = g;
    a.up = u;
    a.y = y;
    Stream s = im.stream();
    return im.table.glu(a, s);
}

Status run_binary(const Impl& im, BinaryOp op, const TensorView& a_, const TensorView& b, const TensorView& y) {
    BinaryArgs a;
    a.op = op;
    a.a = a_;
    a.b = b;
    a.y = y;
    Stream s = im.stream();
    return im.table.binary(a, s);
}

Status run_scale(const Impl& im, const TensorView& x, const TensorView& y, float sc, float bias) {
    ScaleArgs a;
    a.x = x;
    a.y = y;
    a.scale = sc;
    a.bias = bias;
    Stream s = im.stream();
    return im.table.scale(a, s);
}

// The activations in double, and how far from them an f32 implementation may be: |got − want| <=
// rel·|want| + abs_x·|x| + abs.
struct Formula {
    std::function<double(double)> f;
    double rel, abs_x, abs;
};

Formula formula(UnaryOp op) {
    const double gelu_k = std::sqrt(2 / std::numbers::pi);
    auto gelu_tanh = [gelu_k](double x) { return 0.5 * x * (1 + std::tanh(gelu_k * (x + 0.044715 * x * x * x))); };
    switch (op) {
        case UnaryOp::identity: return {[](double x) { return x; }, 0, 0, 0};
        case UnaryOp::silu: return {[](double x) { return x / (1 + std::exp(-x)); }, 1e-6, 0, 0};
        // f16 table: the input and the output are rounded to f16 (2^-11 relative each).
        case UnaryOp::gelu_tanh: return {gelu_tanh, 1.5e-3, 1.5e-3, 1e-7};
        case UnaryOp::gelu_quick:
            return {[](double x) { return x / (1 + std::exp(-1.702 * x)); }, 1.5e-3, 1.5e-3, 1e-7};
        // 1 + erf(x/√2) cancels for negative x: the error is about ulp(1)·|x|.
        case UnaryOp::gelu_erf:
            return {[](double x) { return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0))); }, 1e-6, 2e-7, 0};
        case UnaryOp::sigmoid: return {[](double x) { return 1 / (1 + std::exp(-x)); }, 1e-6, 0, 0};
        case UnaryOp::softplus: return {[](double x) { return std::log1p(std::exp(x)); }, 1e-6, 0, 1e-7};
        case UnaryOp::exp: return {[](double x) { return std::exp(x); }, 1e-6, 0, 0};
        case UnaryOp::relu: return {[](double x) { return x > 0 ? x : 0; }, 0, 0, 0};
        case UnaryOp::tanh: return {[](double x) { return std::tanh(x); }, 1e-6, 0, 1e-7};
        case UnaryOp::neg: return {[](double x) { return -x; }, 0, 0, 0};
        case UnaryOp::sqr: return {[](double x) { return x * x; }, 1e-7, 0, 0};
        case UnaryOp::sqrt: return {[](double x) { return std::sqrt(x); }, 1e-7, 0, 0};
    }
    return {};
}

class ElementwiseTest : public ::testing::TestWithParam<Impl> {};

TEST_P(ElementwiseTest, UnaryMatchesDoubleFormula) {
    const Impl& im = GetParam();
    F32 x({9, 37}), y({9, 37});
    fill_normal(x, 17, 4.f);
    x[0] = 0.f, x[1] = -25.f, x[2] = 25.f, x[3] = 9.99f, x[4] = -9.99f, x[5] = 1e-6f;
    for (UnaryOp op : kAllUnary) {
        F32 in = x;
        if (op == UnaryOp::sqrt)
            for (float& v : in.data) v = std::fabs(v);
        LOOM_EXPECT_OK(run_unary(im, op, in.view, y.view));
        const Formula fm = formula(op);
        for (size_t i = 0; i < in.size(); ++i) {
            const double want = fm.f(in[i]);
            EXPECT_LE(std::fabs(y[i] - want), fm.rel * std::fabs(want) + fm.abs_x * std::fabs(in[i]) + fm.abs)
                << name(op) << "(" << in[i] << ")";
        }
    }
}

TEST_P(ElementwiseTest, GeluFollowsGgmlTableSemantics) {
    // ggml's CPU GELU: 0 at or below −10, x at or above 10, f16 in and out between (quick GELU: no clamps).
    const Impl& im = GetParam();
    F32 x({1, 9}), y({1, 9});
    const float in[] = {-10.f, -10.5f, -9.9f, 10.f, 12.f, 9.9f, 0.1f, -1.f, 3.f};
    for (int i = 0; i < 9; ++i) x[size_t(i)] = in[i];
    LOOM_EXPECT_OK(run_unary(im, UnaryOp::gelu_tanh, x.view, y.view));
    EXPECT_EQ(y[0], 0.f);
    EXPECT_EQ(y[1], 0.f);
    EXPECT_EQ(y[3], 10.f);
    EXPECT_EQ(y[4], 12.f);
    for (int i : {2, 5, 6, 7, 8}) {
        const float v = y[size_t(i)];
        EXPECT_EQ(f16_to_f32(f32_to_f16(v)), v) << "gelu(" << in[i] << ") is an f16 value";
    }
    LOOM_EXPECT_OK(run_unary(im, UnaryOp::gelu_quick, x.view, y.view));
    for (int i = 0; i < 9; ++i) EXPECT_EQ(f16_to_f32(f32_to_f16(y[size_t(i)])), y[size_t(i)]) << in[i];
}

TEST_P(ElementwiseTest, SoftplusIsLinearAbove20) {
    const Impl& im = GetParam();
    F32 x({1, 3}), y({1, 3});
    x[0] = 20.5f, x[1] = 100.f, x[2] = -100.f;
    LOOM_EXPECT_OK(run_unary(im, UnaryOp::softplus, x.view, y.view));
    EXPECT_EQ(y[0], 20.5f);
    EXPECT_EQ(y[1], 100.f);
    EXPECT_EQ(y[2], 0.f);
}

// Inputs for the CPU-vs-reference grid: normals plus values at every special point of the kernels.
F32 grid_input(int64_t rows, int64_t d, uint32_t seed) {
    F32 x({rows, d});
    fill_normal(x, seed, 5.f);
    put_specials(x.data.data(), int64_t(x.size()));
    return x;
}

TEST_P(ElementwiseTest, GluMatchesDoubleFormulaAndReference) {
    const Impl& im = GetParam();
    const Impl& oracle = impls()[0];
    for (UnaryOp act : kAllUnary) {
        if (act == UnaryOp::sqrt) continue;  // not an activation anyone gates with; negative gates give NaN
        for (int64_t d : {1, 7, 33, 4099, 20001}) {
            const F32 g = grid_input(2, d, uint32_t(d + 1));
            F32 u({2, d}), y({2, d}), want({2, d});
            fill_normal(u, uint32_t(d + 2));
            LOOM_EXPECT_OK(run_glu(im, act, g.view, u.view, y.view));
            // Against the formula on finite, moderate gates.
            // The activation's budget, plus one rounding of the product, scaled by |up|.
            const Formula fm = formula(act);
            int64_t bad = 0;
            for (size_t i = 0; i < g.size(); ++i) {
                if (!std::isfinite(g[i]) || std::fabs(g[i]) > 50) continue;
                const double act_g = fm.f(g[i]);
                const double budget = (fm.rel + 1e-7) * std::fabs(act_g) + fm.abs_x * std::fabs(g[i]) + fm.abs;
                bad += std::fabs(y[i] - act_g * u[i]) > budget * std::fabs(u[i]) + 1e-30;
            }
            EXPECT_EQ(bad, 0) << name(act) << " d=" << d;
            if (im.is_ref) continue;
            LOOM_EXPECT_OK(run_glu(oracle, act, g.view, u.view, want.view));
            EXPECT_LE(max_ulp(y.data, want.data), cpu_ulp(im, act)) << name(act) << " d=" << d;
            F32 g2 = g, u2 = u;  // y aliasing gate, then up
            LOOM_EXPECT_OK(run_glu(im, act, g2.view, u.view, g2.view));
            EXPECT_EQ(max_ulp(g2.data, y.data), 0) << "y = gate";
            LOOM_EXPECT_OK(run_glu(im, act, g.view, u2.view, u2.view));
            EXPECT_EQ(max_ulp(u2.data, y.data), 0) << "y = up";
        }
    }
}

TEST_P(ElementwiseTest, BinaryBroadcastsAndMatches) {
    const Impl& im = GetParam();
    const BinaryOp ops[] = {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div};
    for (BinaryOp op : ops) {
        for (int64_t d : {1, 7, 33, 4099, 20001}) {
            F32 a({6, d}), b_full({6, d}), b_row({d}), b_two({2, d}), y({6, d});
            fill_normal(a, uint32_t(d));
            fill_normal(b_full, uint32_t(d + 1));
            fill_normal(b_row, uint32_t(d + 2), 1.f, 3.f);
            fill_normal(b_two, uint32_t(d + 3), 1.f, -3.f);
            for (const F32* b : {&b_full, &b_row, &b_two}) {
                LOOM_EXPECT_OK(run_binary(im, op, a.view, b->view, y.view));
                // In double, then rounded: exactly the f32 result for + − × ÷ (53 >= 2·24 + 2 bits).
                const int64_t nb = int64_t(b->size()) / d;
                int64_t mismatches = 0;
                for (int64_t r = 0; r < 6; ++r)
                    for (int64_t i = 0; i < d; ++i) {
                        const double av = a[size_t(r * d + i)], bv = (*b)[size_t((r % nb) * d + i)];
                        const double want = op == BinaryOp::add   ? av + bv
                                            : op == BinaryOp::sub ? av - bv
                                            : op == BinaryOp::mul ? av * bv
                                                                  : av / bv;
                        mismatches += y[size_t(r * d + i)] != float(want);
                    }
                EXPECT_EQ(mismatches, 0) << ref::op_name(op) << " d=" << d << " b rows " << nb;
            }
            F32 in_place = a;  // y aliasing a, with a broadcast b
            LOOM_EXPECT_OK(run_binary(im, op, in_place.view, b_two.view, in_place.view));
            LOOM_EXPECT_OK(run_binary(im, op, a.view, b_two.view, y.view));
            EXPECT_EQ(max_ulp(in_place.data, y.data), 0);
        }
    }
}

TEST_P(ElementwiseTest, BinaryOverHeadsBroadcast) {
    // a [n_tok, n_head, d] with b [n_head, d]: row (t, h) meets b's row h.
    const Impl& im = GetParam();
    F32 a({3, 4, 5}), b({4, 5}), y({3, 4, 5});
    fill_normal(a, 1);
    fill_normal(b, 2);
    LOOM_EXPECT_OK(run_binary(im, BinaryOp::mul, a.view, b.view, y.view));
    for (int t = 0; t < 3; ++t)
        for (int h = 0; h < 4; ++h)
            for (int i = 0; i < 5; ++i)
                EXPECT_EQ(y[size_t((t * 4 + h) * 5 + i)], a[size_t((t * 4 + h) * 5 + i)] * b[size_t(h * 5 + i)]);
}

TEST_P(ElementwiseTest, ScaleWithAndWithoutBias) {
    const Impl& im = GetParam();
    for (int64_t d : {1, 7, 33, 4099, 20001}) {
        F32 x({3, d}), y({3, d});
        fill_normal(x, uint32_t(d));
        LOOM_EXPECT_OK(run_scale(im, x.view, y.view, 0.37f, 0.f));
        int64_t mismatches = 0;
        for (size_t i = 0; i < x.size(); ++i) mismatches += y[i] != x[i] * 0.37f;
        EXPECT_EQ(mismatches, 0) << "d=" << d;
        LOOM_EXPECT_OK(run_scale(im, x.view, y.view, 0.37f, -1.25f));
        // A single rounding of x·s + b (FMA, as ggml's mad1).
        for (size_t i = 0; i < x.size(); ++i) mismatches += y[i] != std::fma(x[i], 0.37f, -1.25f);
        EXPECT_EQ(mismatches, 0) << "bias, d=" << d;
        LOOM_EXPECT_OK(run_scale(im, x.view, x.view, 0.37f, -1.25f));
        EXPECT_EQ(max_ulp(x.data, y.data), 0) << "in place";
    }
}

TEST_P(ElementwiseTest, RejectsBadArguments) {
    const Impl& im = GetParam();
    F32 a({4, 8}), y({4, 8}), y_bad({4, 9}), b_bad_cols({9}), b_bad_rows({3, 8}), u_bad({2, 8});
    expect_invalid(run_unary(im, UnaryOp::silu, a.view, y_bad.view), "silu", "[4, 9]");
    expect_invalid(run_binary(im, BinaryOp::add, a.view, b_bad_cols.view, y.view), "add", "[9]");
    expect_invalid(run_binary(im, BinaryOp::div, a.view, b_bad_rows.view, y.view), "div", "[3, 8]");
    expect_invalid(run_binary(im, BinaryOp::mul, a.view, a.view, y_bad.view), "mul", "y");
    expect_invalid(run_scale(im, a.view, y_bad.view, 1.f, 0.f), "scale", "[4, 9]");
    expect_invalid(run_glu(im, UnaryOp::silu, a.view, u_bad.view, y.view), "glu", "up");
    expect_invalid(run_glu(im, UnaryOp::silu, a.view, a.view, y_bad.view), "glu", "y");
    expect_invalid(run_unary(im, UnaryOp::exp, TensorView{}, y.view), "exp", "missing");
}

INSTANTIATE_TEST_SUITE_P(Impls, ElementwiseTest, ::testing::ValuesIn(impls()), impl_name);

}  // namespace
}  // namespace loom::kernels::testing
