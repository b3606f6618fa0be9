// Norm ops (rms, layer, l2): every implementation against double-precision formulas written here, in place,
// strided rows, and errors; the CPU variants against the reference over a shape grid with odd sizes are harness
// cases (op_cases_elementwise.cpp). Tolerance, CPU vs reference: layer norm bit-identical (same row code); rms and l2
// within 1 ulp (the double sum of squares is accumulated in another order, which can flip the f32 rounding of the
// mean).
#include "unit/kernels/elementwise_testing.h"

namespace loom::kernels::testing {
namespace {

Status run_norm(const Impl& im, NormKind kind, const F32& x, F32& y, const F32* w, const F32* b, float eps) {
    NormArgs a;
    a.kind = kind;
    a.x = x.view;
    a.y = y.view;
    if (w) a.w = w->view;
    if (b) a.b = b->view;
    a.eps = eps;
    Stream s = im.stream();
    return im.table.norm(a, s);
}

// The textbook formulas in double, per row.
std::vector<double> norm_double(NormKind kind, const F32& x, int64_t d, const F32* w, const F32* b, double eps) {
    const int64_t rows = int64_t(x.size()) / d;
    std::vector<double> y(x.size());
    for (int64_t r = 0; r < rows; ++r) {
        const float* xr = x.data.data() + r * d;
        double sum = 0, sum_sq = 0;
        for (int64_t i = 0; i < d; ++i) sum += xr[i], sum_sq += double(xr[i]) * xr[i];
        for (int64_t i = 0; i < d; ++i) {
            double v = 0;
            if (kind == NormKind::rms) v = xr[i] / std::sqrt(sum_sq / d + eps);
            if (kind == NormKind::l2) v = xr[i] / std::max(std::sqrt(sum_sq), eps);
            if (kind == NormKind::layer) {
                const double mean = sum / d;
                double var = 0;
                for (int64_t j = 0; j < d; ++j) var += (xr[j] - mean) * (xr[j] - mean);
                v = (xr[i] - mean) / std::sqrt(var / d + eps);
            }
            if (w) v *= (*w)[size_t(i)];
            if (b) v += (*b)[size_t(i)];
            y[size_t(r * d + i)] = v;
        }
    }
    return y;
}

class NormTest : public ::testing::TestWithParam<Impl> {};

TEST_P(NormTest, MatchesDoubleFormula) {
    const Impl& im = GetParam();
    for (NormKind kind : {NormKind::rms, NormKind::layer, NormKind::l2}) {
        for (int64_t d : {1, 7, 64, 1000}) {
            F32 x({5, d}), y({5, d}), w({d}), b({d});
            fill_normal(x, uint32_t(d), 2.f, kind == NormKind::layer ? 3.f : 0.f);
            fill_normal(w, 7, 1.f, 1.f);
            fill_normal(b, 8);
            const bool affine = kind != NormKind::l2;
            const F32* wp = affine ? &w : nullptr;
            const F32* bp = kind == NormKind::layer ? &b : nullptr;
            LOOM_EXPECT_OK(run_norm(im, kind, x, y, wp, bp, 1e-5f));
            const auto want = norm_double(kind, x, d, wp, bp, 1e-5);
            // d = 1 layer norm is (x − x)/sqrt(eps) = 0 exactly; elsewhere a few f32 roundings.
            // Outputs are O(1): relative error with a floor of 1 (an absolute error near zero).
            EXPECT_LT(max_rel(y.data, want, 1.0), kind == NormKind::layer ? 1e-5 : 1e-6)
                << ref::op_name(kind) << " d=" << d;
        }
    }
}

TEST_P(NormTest, L2ClampsTinyRowsAtEps) {
    const Impl& im = GetParam();
    F32 x({2, 4}), y({2, 4});
    const float tiny[] = {1e-7f, -2e-7f, 0.f, 3e-7f};
    for (int i = 0; i < 4; ++i) x[size_t(i)] = tiny[i], x[size_t(4) + size_t(i)] = 3.f * float(i + 1);
    LOOM_EXPECT_OK(run_norm(im, NormKind::l2, x, y, nullptr, nullptr, 1e-6f));
    for (int i = 0; i < 4; ++i) {
        EXPECT_NEAR(y[size_t(i)], tiny[i] / 1e-6, 1e-6) << "row 0 (‖x‖ < eps) divides by eps";
        EXPECT_NEAR(y[size_t(4 + i)], 3.0 * (i + 1) / std::sqrt(9.0 * 30), 1e-6);
    }
}

TEST_P(NormTest, RmsEpsAndWeight) {
    // x = [3, 4]: mean(x²) = 12.5; with eps = 0.5 the scale is 1/sqrt(13).
    const Impl& im = GetParam();
    F32 x({1, 2}), y({1, 2}), w({2});
    x[0] = 3, x[1] = 4, w[0] = 2, w[1] = -1;
    LOOM_EXPECT_OK(run_norm(im, NormKind::rms, x, y, &w, nullptr, 0.5f));
    EXPECT_NEAR(y[0], 6 / std::sqrt(13.0), 1e-6);
    EXPECT_NEAR(y[1], -4 / std::sqrt(13.0), 1e-6);
}

TEST_P(NormTest, InPlaceEqualsOutOfPlace) {
    const Impl& im = GetParam();
    for (NormKind kind : {NormKind::rms, NormKind::layer, NormKind::l2}) {
        F32 x({4, 3, 37}), y({4, 3, 37}), w({37});
        fill_normal(x, 3);
        fill_normal(w, 4);
        const F32* wp = kind == NormKind::l2 ? nullptr : &w;
        LOOM_EXPECT_OK(run_norm(im, kind, x, y, wp, nullptr, 1e-6f));
        LOOM_EXPECT_OK(run_norm(im, kind, x, x, wp, nullptr, 1e-6f));
        EXPECT_EQ(max_ulp(x.data, y.data), 0) << ref::op_name(kind);
    }
}

TEST_P(NormTest, StridedRows) {
    // x: rows of 20 taken from a [6, 32] buffer (a view with a row stride wider than the row).
    const Impl& im = GetParam();
    F32 buf({6, 32}), dense({6, 20}), y1({6, 20}), y2({6, 20});
    fill_normal(buf, 9);
    for (int r = 0; r < 6; ++r)
        for (int i = 0; i < 20; ++i) dense[size_t(r) * 20 + size_t(i)] = buf[size_t(r) * 32 + size_t(i)];
    F32 strided = buf;
    strided.view = TensorView::dense(strided.data.data(), DType::f32, {2, 3, 20});
    strided.view.stride = {3 * 32 * 4, 32 * 4, 4, 0};
    LOOM_EXPECT_OK(run_norm(im, NormKind::rms, dense, y1, nullptr, nullptr, 1e-6f));
    y2.view = TensorView::dense(y2.data.data(), DType::f32, {2, 3, 20});
    LOOM_EXPECT_OK(run_norm(im, NormKind::rms, strided, y2, nullptr, nullptr, 1e-6f));
    EXPECT_EQ(max_ulp(y1.data, y2.data), 0);
}

TEST_P(NormTest, RejectsBadArguments) {
    const Impl& im = GetParam();
    F32 x({3, 8}), y({3, 9}), y_ok({3, 8}), w({7}), b({8});
    expect_invalid(run_norm(im, NormKind::rms, x, y, nullptr, nullptr, 1e-6f), "rms_norm", "[3, 9]");
    expect_invalid(run_norm(im, NormKind::layer, x, y_ok, &w, nullptr, 1e-6f), "layer_norm", "w");
    expect_invalid(run_norm(im, NormKind::rms, x, y_ok, nullptr, &b, 1e-6f), "rms_norm", "bias");
    expect_invalid(run_norm(im, NormKind::l2, x, y_ok, &b, nullptr, 1e-6f), "l2_norm", "weight");
    expect_invalid(run_norm(im, NormKind::rms, x, y_ok, nullptr, nullptr, -1.f), "rms_norm", "eps");
    I32 xi({3, 8});
    NormArgs a;
    a.x = xi.view;
    a.y = y_ok.view;
    Stream s = im.stream();
    expect_invalid(im.table.norm(a, s), "rms_norm", "i32");
}

INSTANTIATE_TEST_SUITE_P(Impls, NormTest, ::testing::ValuesIn(impls()), impl_name);

}  // namespace
}  // namespace loom::kernels::testing
