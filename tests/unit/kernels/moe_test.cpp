// Mixture-of-experts routing (moe_route) and the weighted sum of expert outputs (weighted_sum), every
// implementation against an independent computation written here from the documented recipe (ops.h: sort by
// value then index, group scores of the best two, double sums, the f16-min clamp), bit for bit; hand-checked
// rows; and the argument errors. Also the binary ops' one-value-per-row broadcast that gates a shared expert.
#include <algorithm>
#include <limits>
#include <numeric>

#include "unit/kernels/elementwise_testing.h"

namespace loom::kernels::testing {
namespace {

struct RouteOptions {
    int k = 2;
    int n_group = 1, n_group_used = 1;
    bool bias = false, softmax_weights = false, normalize = false;
    float scale = 0.f;
};

struct RouteResult {
    std::vector<int32_t> ids;
    std::vector<float> weights;
    Status status;
};

RouteResult run_route(const Impl& im, const F32& probs, const F32* bias, const RouteOptions& o) {
    const int64_t n_tok = probs.view.dim(0);
    I32 ids({n_tok, int64_t(o.k)});
    F32 w({n_tok, int64_t(o.k)}, NAN);
    MoeRouteArgs a;
    a.probs = probs.view;
    if (bias) a.bias = bias->view;
    a.ids = ids.view;
    a.weights = w.view;
    a.n_group = o.n_group;
    a.n_group_used = o.n_group_used;
    a.softmax_weights = o.softmax_weights;
    a.normalize = o.normalize;
    a.scale = o.scale;
    Stream s = im.stream();
    RouteResult r;
    r.status = im.table.moe_route(a, s);
    r.ids = ids.data;
    r.weights = w.data;
    return r;
}

// Indices of x sorted by value descending, then index.
std::vector<int32_t> ranked(const std::vector<float>& x) {
    std::vector<int32_t> order(x.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return x[size_t(a)] > x[size_t(b)]; });
    return order;
}

// The documented recipe, written out for one row.
void expected_route(const float* p, int64_t n, const float* bias, const RouteOptions& o, int32_t* ids, float* w) {
    std::vector<float> sel(p, p + n);
    if (bias)
        for (int64_t e = 0; e < n; ++e) sel[size_t(e)] += bias[e];
    if (o.n_group > 1) {
        const int64_t per = n / o.n_group;
        std::vector<float> score(size_t(o.n_group));
        for (int g = 0; g < o.n_group; ++g) {
            const std::vector<float> part(sel.begin() + g * per, sel.begin() + (g + 1) * per);
            const auto r = ranked(part);
            score[size_t(g)] = float(double(part[size_t(r[0])]) + double(part[size_t(r[1])]));
        }
        const auto best_groups = ranked(score);
        for (int64_t e = 0; e < n; ++e) {
            const auto end = best_groups.begin() + o.n_group_used;
            if (std::find(best_groups.begin(), end, int32_t(e / per)) == end)
                sel[size_t(e)] = -std::numeric_limits<float>::infinity();
        }
    }
    const auto r = ranked(sel);
    for (int i = 0; i < o.k; ++i) {
        ids[i] = r[size_t(i)];
        w[i] = p[r[size_t(i)]];
    }
    if (o.softmax_weights) {
        const float mx = *std::max_element(w, w + o.k);
        double sum = 0;
        for (int i = 0; i < o.k; ++i) sum += double(w[i] = std::exp(w[i] - mx));
        for (int i = 0; i < o.k; ++i) w[i] *= float(1.0 / sum);
    }
    if (o.normalize) {
        double sum = 0;
        for (int i = 0; i < o.k; ++i) sum += double(w[i]);
        const float den = std::max(float(sum), 6.103515625e-5f);
        for (int i = 0; i < o.k; ++i) w[i] /= den;
    }
    if (o.scale != 0.f && o.scale != 1.f)
        for (int i = 0; i < o.k; ++i) w[i] *= o.scale;
}

// Router probabilities as a softmax gate makes them (rows summing to 1), or as a sigmoid gate (each in (0, 1)).
F32 random_probs(int64_t n_tok, int64_t n_expert, uint32_t seed, bool softmax) {
    F32 p({n_tok, n_expert});
    fill_normal(p, seed, 1.5f);
    for (int64_t t = 0; t < n_tok; ++t) {
        float* row = p.data.data() + t * n_expert;
        double sum = 0;
        for (int64_t e = 0; e < n_expert; ++e) {
            row[e] = softmax ? std::exp(row[e]) : 1.f / (1.f + std::exp(-row[e]));
            sum += row[e];
        }
        if (softmax)
            for (int64_t e = 0; e < n_expert; ++e) row[e] = float(row[e] / sum);
    }
    return p;
}

class MoeRouteTest : public ::testing::TestWithParam<Impl> {};

TEST_P(MoeRouteTest, MatchesTheDocumentedRecipe) {
    const Impl& im = GetParam();
    const int64_t n_tok = 37, n_expert = 64;
    F32 bias({n_expert});
    fill_normal(bias, 5, 0.05f);
    const RouteOptions cases[] = {
        {8, 1, 1, false, false, true, 0.f},   // qwen3moe: softmax, top-8, renormalised
        {4, 1, 1, false, false, false, 0.f},  // qwen2moe: not renormalised
        {6, 8, 3, true, false, true, 2.5f},   // deepseek-v3: sigmoid, bias, 8 groups keep 3, scale
        {6, 8, 3, false, false, false, 1.f},  // groups without bias; a scale of 1 is no scale
        {4, 1, 1, false, true, false, 0.f},   // softmax over the chosen weights
        {1, 1, 1, true, false, true, 0.f},    // one expert: weight 1 after normalisation
        {64, 1, 1, false, false, true, 0.f},  // every expert
    };
    for (size_t c = 0; c < std::size(cases); ++c) {
        const RouteOptions& o = cases[c];
        const F32 probs = random_probs(n_tok, n_expert, uint32_t(c + 1), c % 2 == 0);
        const RouteResult got = run_route(im, probs, o.bias ? &bias : nullptr, o);
        LOOM_EXPECT_OK(got.status);
        for (int64_t t = 0; t < n_tok; ++t) {
            int32_t want_ids[64] = {};
            float want_w[64] = {};
            expected_route(probs.data.data() + t * n_expert, n_expert, o.bias ? bias.data.data() : nullptr, o, want_ids,
                           want_w);
            for (int i = 0; i < o.k; ++i) {
                ASSERT_EQ(got.ids[size_t(t * o.k + i)], want_ids[i]) << "case " << c << " token " << t << " slot " << i;
                ASSERT_EQ(ulp_distance(got.weights[size_t(t * o.k + i)], want_w[i]), 0)
                    << "case " << c << " token " << t << " slot " << i;
            }
        }
    }
}

TEST_P(MoeRouteTest, HandCheckedRows) {
    const Impl& im = GetParam();
    F32 probs({1, 4});
    probs.data = {0.1f, 0.4f, 0.2f, 0.3f};
    RouteOptions o;
    RouteResult r = run_route(im, probs, nullptr, o);
    LOOM_EXPECT_OK(r.status);
    EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 3}));
    EXPECT_EQ(r.weights, (std::vector<float>{0.4f, 0.3f}));
    // Renormalised: 0.4 / 0.7 and 0.3 / 0.7 (the sum in double, rounded to f32 once).
    o.normalize = true;
    r = run_route(im, probs, nullptr, o);
    const float den = float(double(0.4f) + double(0.3f));
    EXPECT_EQ(r.weights, (std::vector<float>{0.4f / den, 0.3f / den}));
    // A selection bias moves expert 0 to the front, but its weight stays its unbiased probability.
    F32 bias({4});
    bias.data = {0.5f, 0.f, 0.f, 0.f};
    o.normalize = false;
    o.bias = true;
    r = run_route(im, probs, &bias, o);
    EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(r.weights, (std::vector<float>{0.1f, 0.4f}));
    // Two groups {0.1, 0.4} (score 0.5) and {0.2, 0.3} (score 0.5 as well: the tie keeps the lower group).
    o.bias = false;
    o.n_group = 2;
    o.n_group_used = 1;
    r = run_route(im, probs, nullptr, o);
    EXPECT_EQ(r.ids, (std::vector<int32_t>{1, 0}));
    // Weights that sum to zero are divided by the clamp, not by zero.
    probs.data = {0.f, 0.f, 0.f, 0.f};
    o = RouteOptions{};
    o.normalize = true;
    r = run_route(im, probs, nullptr, o);
    EXPECT_EQ(r.ids, (std::vector<int32_t>{0, 1}));
    EXPECT_EQ(r.weights, (std::vector<float>{0.f, 0.f}));
}

TEST_P(MoeRouteTest, RejectsBadArguments) {
    const Impl& im = GetParam();
    const F32 probs = random_probs(3, 8, 1, true);
    RouteOptions o;
    o.k = 9;
    EXPECT_NE(run_route(im, probs, nullptr, o).status.error().message().find("expected 1..8"), std::string::npos);
    o = RouteOptions{};
    o.n_group = 3;
    EXPECT_NE(run_route(im, probs, nullptr, o).status.error().message().find("do not divide"), std::string::npos);
    o.n_group = 8;
    EXPECT_NE(run_route(im, probs, nullptr, o).status.error().message().find("best 2"), std::string::npos);
    o.n_group = 4;
    o.n_group_used = 5;
    EXPECT_NE(run_route(im, probs, nullptr, o).status.error().message().find("groups used"), std::string::npos);
    o.n_group_used = 1;
    o.k = 3;  // one group of 2 experts cannot supply 3
    EXPECT_NE(run_route(im, probs, nullptr, o).status.error().message().find("cannot supply"), std::string::npos);
    F32 short_bias({7});
    o = RouteOptions{};
    o.bias = true;
    EXPECT_FALSE(run_route(im, probs, &short_bias, o).status.ok());
}

INSTANTIATE_TEST_SUITE_P(Impls, MoeRouteTest, ::testing::ValuesIn(impls()), impl_name);

class WeightedSumTest : public ::testing::TestWithParam<Impl> {};

TEST_P(WeightedSumTest, AddsTheWeightedSlotsInOrder) {
    const Impl& im = GetParam();
    for (const int64_t n_slot : {1, 2, 8}) {
        for (const int64_t d : {1, 7, 2048}) {
            const int64_t n_tok = 9;
            F32 x({n_tok, n_slot, d}), w({n_tok, n_slot}), y({n_tok, d}, NAN);
            fill_normal(x, uint32_t(n_slot * 100 + d), 3.f);
            fill_uniform(w, uint32_t(d), 0.f, 1.f);
            Stream s = im.stream();
            LOOM_EXPECT_OK(im.table.weighted_sum({x.view, w.view, y.view}, s));
            for (int64_t t = 0; t < n_tok; ++t) {
                for (int64_t i = 0; i < d; ++i) {
                    float want = x[size_t((t * n_slot) * d + i)] * w[size_t(t * n_slot)];
                    for (int64_t k = 1; k < n_slot; ++k) {
                        const volatile float p = x[size_t((t * n_slot + k) * d + i)] * w[size_t(t * n_slot + k)];
                        want = want + p;
                    }
                    ASSERT_EQ(ulp_distance(y[size_t(t * d + i)], want), 0) << n_slot << " slots, d=" << d;
                }
            }
        }
    }
}

TEST_P(WeightedSumTest, RejectsBadArguments) {
    const Impl& im = GetParam();
    F32 x({2, 3, 4}), w({2, 2}), y({2, 4});
    Stream s = im.stream();
    const Status st = im.table.weighted_sum({x.view, w.view, y.view}, s);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("[2, 3]"), std::string::npos) << st.error().message();
}

INSTANTIATE_TEST_SUITE_P(Impls, WeightedSumTest, ::testing::ValuesIn(impls()), impl_name);

class ColumnBroadcastTest : public ::testing::TestWithParam<Impl> {};

// b [n_rows, 1]: one value per row of a (a per-token gate), for every binary op.
TEST_P(ColumnBroadcastTest, OneValuePerRow) {
    const Impl& im = GetParam();
    for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div}) {
        F32 a({6, 300}), b({6, 1}), y({6, 300}, NAN);
        fill_normal(a, 1);
        fill_uniform(b, 2, 0.5f, 2.f);
        Stream s = im.stream();
        LOOM_EXPECT_OK(im.table.binary({op, a.view, b.view, y.view}, s));
        for (int64_t r = 0; r < 6; ++r)
            for (int64_t i = 0; i < 300; ++i)
                ASSERT_EQ(y[size_t(r * 300 + i)], ref::apply_binary(op, a[size_t(r * 300 + i)], b[size_t(r)]));
        // Rows of b repeat when a has a multiple of them.
        F32 b2({2, 1});
        b2.data = {2.f, 4.f};
        LOOM_EXPECT_OK(im.table.binary({op, a.view, b2.view, y.view}, s));
        ASSERT_EQ(y[300 * 3 + 5], ref::apply_binary(op, a[300 * 3 + 5], 4.f));
    }
    F32 a({6, 300}), b({4, 1}), y({6, 300});
    Stream s = im.stream();
    EXPECT_FALSE(im.table.binary({BinaryOp::mul, a.view, b.view, y.view}, s).ok());
}

INSTANTIATE_TEST_SUITE_P(Impls, ColumnBroadcastTest, ::testing::ValuesIn(impls()), impl_name);

}  // namespace
}  // namespace loom::kernels::testing
