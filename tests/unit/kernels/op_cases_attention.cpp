// Harness cases of the attention family (attention, conv1d, delta_net). Tolerances are absolute: the variants
// sum in other orders (SIMD lanes, fused multiply-adds, KV chunks merged by a streaming softmax, vectorised channel
// loops) on values of order 1; carried conv state is copied, so it must be bit-exact.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "core/half.h"
#include "unit/kernels/op_cases.h"

namespace loom::kernels::testing {
namespace {

// Uniform in [−√3, √3) (unit variance) from a cheap generator: the attention grid draws millions of values.
struct FastRng {
    uint64_t state;
    float next() {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        return (float(state >> 40) * 0x1p-24f * 2.f - 1.f) * 1.7320508f;
    }
};

void put(const TensorView& v, int64_t i, float x) {
    if (v.dtype == DType::f16) static_cast<uint16_t*>(v.data)[i] = f32_to_f16(x);
    else static_cast<float*>(v.data)[i] = x;
}

struct AttnShape {
    int64_t n_tok, n_kv, n_head, n_head_kv, d_head, d_v;
    DType kv;
    float scale, softcap;
    int window;
    bool causal;
};

std::string label(const AttnShape& s, uint32_t seed) {
    return "n_tok=" + std::to_string(s.n_tok) + " n_kv=" + std::to_string(s.n_kv) +
           " heads=" + std::to_string(s.n_head) + "/" + std::to_string(s.n_head_kv) +
           " d_head=" + std::to_string(s.d_head) + " d_v=" + std::to_string(s.d_v) + " kv=" + std::string(name(s.kv)) +
           " scale=" + std::to_string(s.scale) + " softcap=" + std::to_string(s.softcap) +
           " window=" + std::to_string(s.window) + (s.causal ? " causal" : " not causal") +
           " seed=" + std::to_string(seed);
}

// Random q/k/v; kv slots hold a shuffled range of positions with about 1 in 8 slots empty (their K/V rows NaN,
// which no implementation may read); the queries are the last n_tok positions.
OpCase<AttentionArgs> attention_case(const AttnShape& s, uint32_t seed) {
    OpCase<AttentionArgs> c{label(s, seed), [=](CaseData& d) {
                                AttentionArgs a;
                                a.q = d.raw(DType::f32, {s.n_tok, s.n_head, s.d_head});
                                a.k = d.raw(s.kv, {s.n_kv, s.n_head_kv, s.d_head});
                                a.v = d.raw(s.kv, {s.n_kv, s.n_head_kv, s.d_v});
                                FastRng fast{0x9e3779b97f4a7c15ull * (seed + 1)};
                                for (int64_t i = 0; i < a.q.n_elements(); ++i) put(a.q, i, 1.5f * fast.next());
                                for (int64_t i = 0; i < a.k.n_elements(); ++i) put(a.k, i, fast.next());
                                for (int64_t i = 0; i < a.v.n_elements(); ++i) put(a.v, i, fast.next());
                                std::mt19937 rng(seed);
                                std::vector<int32_t> pos(size_t(s.n_kv)), q_pos(size_t(s.n_tok));
                                std::iota(pos.begin(), pos.end(), 0);
                                std::shuffle(pos.begin(), pos.end(), rng);
                                for (int64_t j = 0; j < s.n_kv; ++j) {
                                    if (s.n_kv == 1 || rng() % 8 != 0) continue;
                                    pos[size_t(j)] = -1;
                                    for (int64_t e = 0; e < s.n_head_kv * s.d_head; ++e)
                                        put(a.k, j * s.n_head_kv * s.d_head + e, NAN);
                                    for (int64_t e = 0; e < s.n_head_kv * s.d_v; ++e)
                                        put(a.v, j * s.n_head_kv * s.d_v + e, NAN);
                                }
                                std::iota(q_pos.begin(), q_pos.end(), int32_t(s.n_kv - s.n_tok));
                                a.kv_pos = d.ids({s.n_kv}, pos);
                                a.q_pos = d.ids({s.n_tok}, q_pos);
                                a.out = d.output(DType::f32, {s.n_tok, s.n_head, s.d_v});
                                a.scale = s.scale;
                                a.softcap = s.softcap;
                                a.window = s.window;
                                a.causal = s.causal;
                                return a;
                            }};
    c.tol = within_abs(1e-5);
    return c;
}

}  // namespace

std::vector<OpCase<AttentionArgs>> attention_cases() {
    std::vector<OpCase<AttentionArgs>> v;
    uint32_t seed = 7;
    for (auto [h, hkv] : {std::pair{4, 4}, {8, 2}, {6, 1}})
        for (int64_t d : {64, 128, 80})
            for (DType kv : {DType::f16, DType::f32})
                for (int64_t n_tok : {1, 7, 33})
                    for (int64_t n_kv : {1, 17, 300})
                        for (bool causal : {true, false})
                            for (int window : {0, 5})
                                for (float cap : {0.f, 50.f})
                                    v.push_back(attention_case({n_tok, n_kv, h, hkv, d, d, kv,
                                                                1.f / std::sqrt(float(d)), cap, window, causal},
                                                               ++seed));
    // Few (token, group) units and a long cache: the KV range is cut into chunks and merged.
    for (int64_t n_tok : {1, 2})
        for (DType kv : {DType::f16, DType::f32})
            v.push_back(attention_case({n_tok, 2000, 8, 1, 64, 64, kv, 0.125f, 0.f, 1500, true}, 11));
    // d_head not a multiple of 8 (the AVX2 variant falls back to portable loops), and d_v != d_head (MLA).
    for (auto [d, dv] : {std::pair{36, 36}, {20, 12}, {72, 40}})
        v.push_back(attention_case({5, 40, 40, 1, d, dv, DType::f16, 0.2f, 0.f, 0, true}, 12));
    return v;
}

std::vector<OpCase<Conv1dArgs>> conv1d_cases() {
    std::vector<OpCase<Conv1dArgs>> v;
    for (int64_t n_tok : {1, 7, 33})
        for (int64_t n_ch : {1, 7, 100, 130, 6144})
            for (int64_t k : {2, 3, 4, 20}) {
                const uint32_t seed = uint32_t(n_tok * 1000 + n_ch + k);
                OpCase<Conv1dArgs> c{"n_tok=" + std::to_string(n_tok) + " n_ch=" + std::to_string(n_ch) +
                                         " K=" + std::to_string(k) + " seeds=" + std::to_string(seed) + "+{0,1,2}",
                                     [=](CaseData& d) {
                                         Conv1dArgs a;
                                         a.x = d.normal({n_tok, n_ch}, seed);
                                         a.w = d.normal({n_ch, k}, seed + 1, 0.5f);
                                         a.state = d.compared(d.normal({k - 1, n_ch}, seed + 2), bit_exact());
                                         a.y = d.output(DType::f32, {n_tok, n_ch});
                                         return a;
                                     }};
                c.tol = within_abs(1e-5);
                v.push_back(c);
            }
    return v;
}

namespace {
// Rows of [n, d] scaled to unit L2 norm (the caller's normalisation of q and k), the norm summed in double.
void l2_rows(const TensorView& t, int64_t d) {
    auto* p = static_cast<float*>(t.data);
    for (int64_t r = 0; r < t.n_elements() / d; ++r) {
        double ss = 0;
        for (int64_t e = 0; e < d; ++e) ss += double(p[r * d + e]) * p[r * d + e];
        for (int64_t e = 0; e < d; ++e) p[r * d + e] /= float(std::sqrt(ss));
    }
}
}  // namespace

std::vector<OpCase<DeltaNetArgs>> delta_net_cases() {
    std::vector<OpCase<DeltaNetArgs>> v;
    for (int64_t n_tok : {1, 7, 33})
        for (const auto& heads : {std::pair{1, 1}, {2, 4}, {4, 4}})
            for (const auto& dims : {std::pair{128, 128}, {64, 64}, {20, 20}, {32, 44}}) {
                // Plain locals: the case's lambda captures them by value (C++20 lets GCC capture structured
                // bindings, clang 14 does not).
                const int64_t hk = heads.first, hv = heads.second, dk = dims.first, dv = dims.second;
                const uint32_t seed = uint32_t(n_tok * 7 + hk * 3 + dk);
                OpCase<DeltaNetArgs> c{"n_tok=" + std::to_string(n_tok) + " heads=" + std::to_string(hk) + "/" +
                                           std::to_string(hv) + " d_k=" + std::to_string(dk) +
                                           " d_v=" + std::to_string(dv) + " seeds=" + std::to_string(seed) + "+{0..6}",
                                       [=](CaseData& d) {
                                           DeltaNetArgs a;
                                           a.q = d.normal({n_tok, hk, dk}, seed);
                                           a.k = d.normal({n_tok, hk, dk}, seed + 1);
                                           l2_rows(a.q, dk);
                                           l2_rows(a.k, dk);
                                           a.v = d.normal({n_tok, hv, dv}, seed + 2);
                                           // g = −softplus(·) <= 0; β = sigmoid(·).
                                           a.g = d.normal({n_tok, hv}, seed + 3);
                                           a.beta = d.normal({n_tok, hv}, seed + 4);
                                           for (int64_t i = 0; i < n_tok * hv; ++i) {
                                               float& g = static_cast<float*>(a.g.data)[i];
                                               float& b = static_cast<float*>(a.beta.data)[i];
                                               g = -std::log1p(std::exp(g));
                                               b = 1.f / (1.f + std::exp(-b));
                                           }
                                           a.state = d.compared(d.normal({hv, dv, dk}, seed + 5, 0.1f));
                                           a.out = d.output(DType::f32, {n_tok, hv, dv});
                                           a.scale = 1.f / std::sqrt(float(dk));
                                           return a;
                                       }};
                c.tol = within_abs(2e-5);
                v.push_back(c);
            }
    return v;
}

// 1303 cases: each variant runs a case single-threaded or on the pool, not both (ASan + UBSan: 2 minutes both).
TEST(OpHarness, Attention) {
    expect_matches_ref("attention", &OpTable::attention, attention_cases(), Threads::alternate);
}
TEST(OpHarness, Conv1d) { expect_matches_ref("conv1d", &OpTable::conv1d, conv1d_cases()); }
TEST(OpHarness, DeltaNet) { expect_matches_ref("delta_net", &OpTable::delta_net, delta_net_cases()); }

}  // namespace loom::kernels::testing
