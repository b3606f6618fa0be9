// Harness cases of the routing ops (top_k, moe_route, weighted_sum). Their CPU code is the reference's row
// routines run over a pool, so every variant must give the reference's ids and weights bit for bit, ties and NaNs
// included.
#include <cmath>

#include "unit/kernels/op_cases.h"

namespace loom::kernels::testing {
namespace {

// Five rows of normals: as drawn; rounded to halves (ties); all equal; NaN every fifth; −inf every seventh.
TensorView ranked_rows(CaseData& c, int64_t n, uint32_t seed) {
    const TensorView x = c.normal({5, n}, seed);
    auto* p = static_cast<float*>(x.data);
    for (int64_t i = 0; i < n; ++i) {
        p[n + i] = std::round(p[n + i] * 2.f) / 2.f;
        p[2 * n + i] = 1.f;
        if (i % 5 == 3) p[3 * n + i] = NAN;
        if (i % 7 == 0) p[4 * n + i] = -INFINITY;
    }
    return x;
}

// Router probabilities as a softmax gate makes them (rows summing to 1), or as a sigmoid gate (each in (0, 1)).
TensorView router_probs(CaseData& c, int64_t n_tok, int64_t n_expert, uint32_t seed, bool softmax) {
    const TensorView probs = c.normal({n_tok, n_expert}, seed, 1.5f);
    auto* p = static_cast<float*>(probs.data);
    for (int64_t t = 0; t < n_tok; ++t) {
        float* row = p + t * n_expert;
        double sum = 0;
        for (int64_t e = 0; e < n_expert; ++e)
            sum += row[e] = softmax ? std::exp(row[e]) : 1.f / (1.f + std::exp(-row[e]));
        if (softmax)
            for (int64_t e = 0; e < n_expert; ++e) row[e] = float(row[e] / sum);
    }
    return probs;
}

}  // namespace

std::vector<OpCase<TopKArgs>> top_k_cases() {
    std::vector<OpCase<TopKArgs>> v;
    for (int64_t n : {1, 7, 33, 256, 5000})
        for (int k : {1, 2, 8, 32, 33, 100, 5000}) {  // the CPU switches algorithm at 32
            if (k > n) continue;
            const uint32_t seed = uint32_t(n * 13 + k);
            v.push_back({"x=[5, " + std::to_string(n) + "] k=" + std::to_string(k) + " seed=" + std::to_string(seed) +
                             " (rows: plain, ties, all equal, NaN, -inf)",
                         [=](CaseData& c) {
                             return TopKArgs{ranked_rows(c, n, seed), c.output(DType::i32, {5, k}),
                                             c.output(DType::f32, {5, k}), k};
                         }});
        }
    v.push_back({"x=[3, 4, 128] k=8 seed=77", [](CaseData& c) {
                     return TopKArgs{c.normal({3, 4, 128}, 77), c.output(DType::i32, {3, 4, 8}),
                                     c.output(DType::f32, {3, 4, 8}), 8};
                 }});
    v.push_back({"x=[5, 300] k=40 seed=5 without values", [](CaseData& c) {
                     return TopKArgs{ranked_rows(c, 300, 5), c.output(DType::i32, {5, 40}), TensorView{}, 40};
                 }});
    return v;
}

std::vector<OpCase<MoeRouteArgs>> moe_route_cases() {
    struct Route {
        const char* what;
        int k, n_group, n_group_used;
        bool bias, softmax_weights, normalize;
        float scale;
    };
    const Route kRoutes[] = {
        {"qwen3moe: softmax gate, top-8, renormalised", 8, 1, 1, false, false, true, 0.f},
        {"qwen2moe: not renormalised", 4, 1, 1, false, false, false, 0.f},
        {"deepseek-v3: sigmoid gate, bias, 8 groups keep 3, scale 2.5", 6, 8, 3, true, false, true, 2.5f},
        {"groups without bias, scale 1 (no scale)", 6, 8, 3, false, false, false, 1.f},
        {"softmax over the chosen weights", 4, 1, 1, false, true, false, 0.f},
        {"one expert, bias, renormalised", 1, 1, 1, true, false, true, 0.f},
        {"every expert", 64, 1, 1, false, false, true, 0.f},
    };
    std::vector<OpCase<MoeRouteArgs>> v;
    for (size_t i = 0; i < std::size(kRoutes); ++i) {
        const Route r = kRoutes[i];
        const bool softmax = i % 2 == 0;
        v.push_back({std::string(r.what) + " n_tok=37 n_expert=64 k=" + std::to_string(r.k) + " probs_seed=" +
                         std::to_string(i + 1) + (softmax ? " (softmax rows)" : " (sigmoid rows)") + " bias_seed=5",
                     [=](CaseData& c) {
                         MoeRouteArgs a;
                         a.probs = router_probs(c, 37, 64, uint32_t(i + 1), softmax);
                         if (r.bias) a.bias = c.normal({64}, 5, 0.05f);
                         a.ids = c.output(DType::i32, {37, r.k});
                         a.weights = c.output(DType::f32, {37, r.k});
                         a.n_group = r.n_group;
                         a.n_group_used = r.n_group_used;
                         a.softmax_weights = r.softmax_weights;
                         a.normalize = r.normalize;
                         a.scale = r.scale;
                         return a;
                     }});
    }
    return v;
}

std::vector<OpCase<WeightedSumArgs>> weighted_sum_cases() {
    std::vector<OpCase<WeightedSumArgs>> v;
    for (int64_t n_slot : {1, 2, 8})
        for (int64_t d : {1, 7, 2048})
            v.push_back({"x=[9, " + std::to_string(n_slot) + ", " + std::to_string(d) +
                             "] x_seed=" + std::to_string(n_slot * 100 + d) + " w_seed=" + std::to_string(d),
                         [=](CaseData& c) {
                             return WeightedSumArgs{c.normal({9, n_slot, d}, uint32_t(n_slot * 100 + d), 3.f),
                                                    c.uniform({9, n_slot}, uint32_t(d), 0.f, 1.f),
                                                    c.output(DType::f32, {9, d})};
                         }});
    return v;
}

TEST(OpHarness, TopK) { expect_matches_ref("top_k", &OpTable::top_k, top_k_cases()); }
TEST(OpHarness, MoeRoute) { expect_matches_ref("moe_route", &OpTable::moe_route, moe_route_cases()); }
TEST(OpHarness, WeightedSum) { expect_matches_ref("weighted_sum", &OpTable::weighted_sum, weighted_sum_cases()); }

}  // namespace loom::kernels::testing
