// Softmax: every implementation against a double-precision softmax written here (scale, mask with −inf and
// row broadcast, soft-cap, fully masked rows → zeros), in place, and errors; the CPU variants against the
// reference over odd sizes are harness cases (op_cases_elementwise.cpp). Tolerance, CPU vs reference: portable
// bit-identical; AVX2 within 8 ulp per element (ggml's polynomial exp on groups of 8 is ~1.5 ulp from expf, and
// the sum is grouped).
#include <limits>

#include "unit/kernels/elementwise_testing.h"

namespace loom::kernels::testing {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

Status run_softmax(const Impl& im, const F32& x, F32& y, const F32* mask, float scale, float softcap) {
    SoftmaxArgs a;
    a.x = x.view;
    a.y = y.view;
    if (mask) a.mask = mask->view;
    a.scale = scale;
    a.softcap = softcap;
    Stream s = im.stream();
    return im.table.softmax(a, s);
}

std::vector<double> softmax_double(const F32& x, int64_t n, const F32* mask, double scale, double cap) {
    const int64_t rows = int64_t(x.size()) / n, mask_rows = mask ? int64_t(mask->size()) / n : 1;
    std::vector<double> y(x.size());
    for (int64_t r = 0; r < rows; ++r) {
        std::vector<double> s(static_cast<size_t>(n));
        double max = -INFINITY;
        for (int64_t i = 0; i < n; ++i) {
            double v = x[size_t(r * n + i)] * scale;
            if (cap > 0) v = cap * std::tanh(v / cap);
            if (mask) v += (*mask)[size_t((r % mask_rows) * n + i)];
            s[size_t(i)] = v;
            max = std::max(max, v);
        }
        double sum = 0;
        for (int64_t i = 0; i < n; ++i) sum += (s[size_t(i)] = std::exp(s[size_t(i)] - max));
        for (int64_t i = 0; i < n; ++i) y[size_t(r * n + i)] = max == -INFINITY ? 0.0 : s[size_t(i)] / sum;
    }
    return y;
}

class SoftmaxTest : public ::testing::TestWithParam<Impl> {};

TEST_P(SoftmaxTest, MatchesDoubleFormula) {
    const Impl& im = GetParam();
    for (int64_t n : {1, 7, 33, 1000}) {
        for (float cap : {0.f, 30.f}) {
            F32 x({6, n}), y({6, n}), mask({3, n});
            fill_normal(x, uint32_t(n), 4.f);
            // A causal-looking mask: −inf beyond a per-row limit (row 0 keeps only its first element).
            for (int64_t r = 0; r < 3; ++r)
                for (int64_t i = 0; i < n; ++i)
                    mask[size_t(r * n + i)] = i <= r * (n / 3) ? 0.1f * float(i % 5) : -kInf;
            LOOM_EXPECT_OK(run_softmax(im, x, y, &mask, 0.125f, cap));
            // Probabilities: relative error with a floor of 1e-9. f32 scores carry ~6e-8·|s − max| of absolute error
            // into the exponent, so 5e-6 for scores spread over ±30.
            EXPECT_LT(max_rel(y.data, softmax_double(x, n, &mask, 0.125, cap), 1e-9), 5e-6)
                << "n=" << n << " cap=" << cap;
            LOOM_EXPECT_OK(run_softmax(im, x, y, nullptr, 1.f, cap));
            EXPECT_LT(max_rel(y.data, softmax_double(x, n, nullptr, 1.0, cap), 1e-9), 5e-6) << "no mask n=" << n;
        }
    }
}

TEST_P(SoftmaxTest, SoftcapBoundsTheScores) {
    // Scores 0 and 1000 capped at 5: the larger becomes 5·tanh(200) = 5, so p = [1, e^5] / (1 + e^5).
    const Impl& im = GetParam();
    F32 x({1, 2}), y({1, 2});
    x[0] = 0.f, x[1] = 1000.f;
    LOOM_EXPECT_OK(run_softmax(im, x, y, nullptr, 1.f, 5.f));
    EXPECT_NEAR(y[0], 1 / (1 + std::exp(5.0)), 1e-7);
    EXPECT_NEAR(y[1], std::exp(5.0) / (1 + std::exp(5.0)), 1e-6);
}

TEST_P(SoftmaxTest, FullyMaskedRowsAreZero) {
    const Impl& im = GetParam();
    for (int64_t n : {1, 5, 8, 37}) {
        F32 x({4, n}), y({4, n}, NAN), mask({2, n}, -kInf);
        fill_normal(x, 1);
        for (int64_t i = 0; i < n; ++i) mask[size_t(n + i)] = 0.f;  // mask row 1 open: rows 1 and 3 normal
        LOOM_EXPECT_OK(run_softmax(im, x, y, &mask, 1.f, 0.f));
        for (int64_t r = 0; r < 4; ++r) {
            double sum = 0;
            for (int64_t i = 0; i < n; ++i) {
                const float v = y[size_t(r * n + i)];
                ASSERT_FALSE(std::isnan(v)) << "row " << r;
                if (r % 2 == 0) {
                    EXPECT_EQ(v, 0.f) << "fully masked row " << r;
                }
                sum += v;
            }
            if (r % 2 == 1) {
                EXPECT_NEAR(sum, 1.0, 1e-6);
            }
        }
    }
}

TEST_P(SoftmaxTest, InPlaceEqualsOutOfPlace) {
    const Impl& im = GetParam();
    F32 x({2, 5, 19}), y({2, 5, 19}), mask({5, 19});
    fill_normal(x, 2);
    fill_normal(mask, 3);
    LOOM_EXPECT_OK(run_softmax(im, x, y, &mask, 0.5f, 0.f));
    LOOM_EXPECT_OK(run_softmax(im, x, x, &mask, 0.5f, 0.f));
    EXPECT_EQ(max_ulp(x.data, y.data), 0);
}

TEST_P(SoftmaxTest, RejectsBadArguments) {
    const Impl& im = GetParam();
    F32 x({4, 8}), y({4, 8}), y_bad({4, 7}), mask_cols({1, 9}), mask_rows({3, 8});
    expect_invalid(run_softmax(im, x, y_bad, nullptr, 1.f, 0.f), "softmax", "[4, 7]");
    expect_invalid(run_softmax(im, x, y, &mask_cols, 1.f, 0.f), "softmax", "mask");
    expect_invalid(run_softmax(im, x, y, &mask_rows, 1.f, 0.f), "softmax", "mask");
    expect_invalid(run_softmax(im, x, y, nullptr, 1.f, -1.f), "softmax", "softcap");
}

INSTANTIATE_TEST_SUITE_P(Impls, SoftmaxTest, ::testing::ValuesIn(impls()), impl_name);

}  // namespace
}  // namespace loom::kernels::testing
