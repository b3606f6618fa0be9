// conv1d and the gated delta rule: the reference against direct double-precision math (every CPU variant
// against the reference: the harness's cases, op_cases_attention.cpp), the state contract: two calls carrying state
// equal one call over the concatenation, and decoding token by token equals a prefill over the same tokens; and the
// AVX2 micro-kernels against a scalar emulation of llama.cpp's order, bit for bit.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/cpu/attention_kernels.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/registry.h"

namespace loom::kernels {
namespace {

// An f32 tensor that owns its data.
struct F32 {
    std::vector<float> x;
    TensorView view;
    F32(std::initializer_list<int64_t> shape) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        x.assign(size_t(n), 0.f);
        view = TensorView::dense(x.data(), DType::f32, shape);
    }
    F32(const F32& o) : x(o.x), view(o.view) { view.data = x.data(); }
    F32& operator=(const F32&) = delete;
    // Rows [r0, r0 + n) of the outermost dim, as a view.
    TensorView rows(int64_t r0, int64_t n) const {
        TensorView v = view;
        v.shape[0] = n;
        v.data = const_cast<float*>(x.data()) + r0 * (view.stride[0] / 4);
        return v;
    }
};

void fill_normal(F32& t, std::mt19937& rng, float sigma = 1.f) {
    std::normal_distribution<float> d(0.f, sigma);
    for (float& v : t.x) v = d(rng);
}

Stream ref_stream() {
    Stream s;
    s.backend = Backend::ref;
    return s;
}

// ---- conv1d --------------------------------------------------------------------------------------

struct Conv {
    F32 x, w, state, y;
    Conv(int64_t n_tok, int64_t n_ch, int64_t k, uint32_t seed)
        : x({n_tok, n_ch}), w({n_ch, k}), state({k - 1, n_ch}), y({n_tok, n_ch}) {
        std::mt19937 rng(seed);
        fill_normal(x, rng);
        fill_normal(w, rng, 0.5f);
        fill_normal(state, rng);
    }
    Conv1dArgs args() { return {x.view, w.view, state.view, y.view}; }
};

using ConvFn = Status (*)(const Conv1dArgs&, Stream&);

TEST(Conv1dRef, MatchesDirectSum) {
    Conv c(6, 5, 4, 1);
    const F32 state0 = c.state;
    Stream s = ref_stream();
    ASSERT_TRUE(ref::conv1d(c.args(), s).ok());
    for (int64_t t = 0; t < 6; ++t)
        for (int64_t ch = 0; ch < 5; ++ch) {
            double want = 0;  // window of output t: inputs t−3 .. t (negative: the carried state)
            for (int64_t i = 0; i < 4; ++i) {
                const int64_t u = t - 3 + i;
                want += double(c.w.x[size_t(ch * 4 + i)]) *
                        (u < 0 ? state0.x[size_t((3 + u) * 5 + ch)] : c.x.x[size_t(u * 5 + ch)]);
            }
            EXPECT_NEAR(c.y.x[size_t(t * 5 + ch)], want, 1e-6) << "t=" << t << " ch=" << ch;
        }
    for (int64_t i = 0; i < 3; ++i)  // the new state is the last three inputs
        for (int64_t ch = 0; ch < 5; ++ch) EXPECT_EQ(c.state.x[size_t(i * 5 + ch)], c.x.x[size_t((3 + i) * 5 + ch)]);
}

TEST(Conv1dRef, ShortCallKeepsOlderState) {
    // One token with K = 4: the new state is [old state rows 1, 2, x].
    Conv c(1, 3, 4, 2);
    const F32 state0 = c.state;
    Stream s = ref_stream();
    ASSERT_TRUE(ref::conv1d(c.args(), s).ok());
    for (int64_t ch = 0; ch < 3; ++ch) {
        EXPECT_EQ(c.state.x[size_t(0 * 3 + ch)], state0.x[size_t(1 * 3 + ch)]);
        EXPECT_EQ(c.state.x[size_t(1 * 3 + ch)], state0.x[size_t(2 * 3 + ch)]);
        EXPECT_EQ(c.state.x[size_t(2 * 3 + ch)], c.x.x[size_t(ch)]);
    }
}

// For ref and cpu: two calls carrying state equal one call over the concatenation (bit for bit), and one
// token at a time equals the whole sequence at once.
void check_conv_state_contract(ConvFn fn, const char* what, ThreadPool* pool) {
    for (int64_t k : {2, 3, 4, 7})
        for (int64_t n_ch : {7, 130}) {
            Conv whole(9, n_ch, k, 3);
            const F32 x = whole.x, state0 = whole.state;
            Stream s;
            s.pool = pool;
            ASSERT_TRUE(fn(whole.args(), s).ok());
            // Split 2 + 7.
            Conv split(9, n_ch, k, 3);
            for (auto [t0, n] : {std::pair<int64_t, int64_t>{0, 2}, {2, 7}})
                ASSERT_TRUE(fn({split.x.rows(t0, n), split.w.view, split.state.view, split.y.rows(t0, n)}, s).ok());
            EXPECT_EQ(split.y.x, whole.y.x) << what << " k=" << k << " n_ch=" << n_ch;
            EXPECT_EQ(split.state.x, whole.state.x) << what;
            // Decode.
            Conv dec(9, n_ch, k, 3);
            for (int64_t t = 0; t < 9; ++t)
                ASSERT_TRUE(fn({dec.x.rows(t, 1), dec.w.view, dec.state.view, dec.y.rows(t, 1)}, s).ok());
            EXPECT_EQ(dec.y.x, whole.y.x) << what << " decode k=" << k << " n_ch=" << n_ch;
            EXPECT_EQ(dec.state.x, whole.state.x) << what;
        }
}

TEST(Conv1dRef, StateCarriesAcrossCalls) { check_conv_state_contract(ref::conv1d, "ref", nullptr); }

TEST(Conv1dCpu, StateCarriesAcrossCalls) {
    ThreadPool pool(2);
    for (const OpTable& var : variants(Backend::cpu)) {
        check_conv_state_contract(var.conv1d, var.variant, nullptr);
        check_conv_state_contract(var.conv1d, var.variant, &pool);
    }
}

TEST(Conv1d, RejectsBadArguments) {
    Conv c(3, 4, 4, 5);
    Conv1dArgs a = c.args();
    a.state.shape[0] = 2;
    Stream s;
    Status st = cpu::conv1d_with(a, s, cpu::conv1d_micro_portable());
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("state has shape"), std::string::npos) << st.error().message();
    a = c.args();
    a.y = a.x;
    EXPECT_FALSE(ref::conv1d(a, s).ok());
}

// ---- delta net -----------------------------------------------------------------------------------

struct Delta {
    int64_t n_tok, n_hk, n_hv, d_k, d_v;
    F32 q, k, v, g, beta, state, out;
    Delta(int64_t n_tok_, int64_t n_hk_, int64_t n_hv_, int64_t d_k_, int64_t d_v_, uint32_t seed)
        : n_tok(n_tok_),
          n_hk(n_hk_),
          n_hv(n_hv_),
          d_k(d_k_),
          d_v(d_v_),
          q({n_tok, n_hk, d_k}),
          k({n_tok, n_hk, d_k}),
          v({n_tok, n_hv, d_v}),
          g({n_tok, n_hv}),
          beta({n_tok, n_hv}),
          state({n_hv, d_v, d_k}),
          out({n_tok, n_hv, d_v}) {
        std::mt19937 rng(seed);
        fill_normal(q, rng);
        fill_normal(k, rng);
        fill_normal(v, rng);
        fill_normal(state, rng, 0.1f);
        // q and k are L2-normalised per head by the caller; g = −softplus(·) <= 0; β = sigmoid(·).
        for (F32* t : {&q, &k})
            for (int64_t r = 0; r < n_tok * n_hk; ++r) {
                double ss = 0;
                for (int64_t e = 0; e < d_k; ++e) ss += double(t->x[size_t(r * d_k + e)]) * t->x[size_t(r * d_k + e)];
                for (int64_t e = 0; e < d_k; ++e) t->x[size_t(r * d_k + e)] /= float(std::sqrt(ss));
            }
        std::normal_distribution<float> nd(0.f, 1.f);
        for (float& x : g.x) x = -std::log1p(std::exp(nd(rng)));
        for (float& x : beta.x) x = 1.f / (1.f + std::exp(-nd(rng)));
    }
    Delta(const Delta&) = default;
    float scale() const { return 1.f / std::sqrt(float(d_k)); }
    DeltaNetArgs args(int64_t t0, int64_t n) {
        return {q.rows(t0, n),    k.rows(t0, n), v.rows(t0, n),   g.rows(t0, n),
                beta.rows(t0, n), state.view,    out.rows(t0, n), scale()};
    }
    DeltaNetArgs args() { return args(0, n_tok); }
};

// The recurrence written out with a double-precision state (architectures.md §6.3).
std::vector<double> delta_double(const Delta& d, std::vector<double>& S) {
    std::vector<double> out(size_t(d.n_tok * d.n_hv * d.d_v));
    for (int64_t t = 0; t < d.n_tok; ++t)
        for (int64_t j = 0; j < d.n_hv; ++j) {
            const int64_t i = j % d.n_hk;
            const float* q = &d.q.x[size_t((t * d.n_hk + i) * d.d_k)];
            const float* k = &d.k.x[size_t((t * d.n_hk + i) * d.d_k)];
            const float* v = &d.v.x[size_t((t * d.n_hv + j) * d.d_v)];
            const double decay = std::exp(double(d.g.x[size_t(t * d.n_hv + j)]));
            const double beta = d.beta.x[size_t(t * d.n_hv + j)];
            double* s = &S[size_t(j * d.d_v * d.d_k)];  // s[r * d_k + c]: row = value index
            for (int64_t r = 0; r < d.d_v * d.d_k; ++r) s[r] *= decay;
            for (int64_t r = 0; r < d.d_v; ++r) {
                double sk = 0;
                for (int64_t c = 0; c < d.d_k; ++c) sk += s[r * d.d_k + c] * k[c];
                const double delta = beta * (v[r] - sk);
                for (int64_t c = 0; c < d.d_k; ++c) s[r * d.d_k + c] += delta * k[c];
            }
            for (int64_t r = 0; r < d.d_v; ++r) {
                double o = 0;
                for (int64_t c = 0; c < d.d_k; ++c) o += s[r * d.d_k + c] * (q[c] * double(d.scale()));
                out[size_t((t * d.n_hv + j) * d.d_v + r)] = o;
            }
        }
    return out;
}

TEST(DeltaNetRef, MatchesDoublePrecisionRecurrence) {
    for (auto [hk, hv] : {std::pair{1, 1}, {2, 4}})
        for (auto [dk, dv] : {std::pair{16, 16}, {12, 20}}) {
            Delta d(9, hk, hv, dk, dv, uint32_t(hk * 100 + dk));
            std::vector<double> S(d.state.x.begin(), d.state.x.end());
            const std::vector<double> want = delta_double(d, S);
            Stream s = ref_stream();
            ASSERT_TRUE(ref::delta_net(d.args(), s).ok());
            double err = 0, serr = 0;
            for (size_t i = 0; i < want.size(); ++i) err = std::max(err, std::fabs(d.out.x[i] - want[i]));
            for (size_t i = 0; i < S.size(); ++i) serr = std::max(serr, std::fabs(d.state.x[i] - S[i]));
            EXPECT_LE(err, 1e-5) << hk << '/' << hv << " d_k=" << dk << " d_v=" << dv;
            EXPECT_LE(serr, 1e-5);
        }
}

TEST(DeltaNetRef, HandCheckedSingleStep) {
    // d_k = d_v = 1, state 2, decay e^{ln 0.5} = 0.5, β = 0.5, k = q = 1, v = 3:
    // S = 1; δ = 0.5 (3 − 1) = 1; S = 2; out = 2 · scale(0.5) = 1.
    Delta d(1, 1, 1, 1, 1, 0);
    d.state.x = {2.f}, d.q.x = {1.f}, d.k.x = {1.f}, d.v.x = {3.f}, d.g.x = {std::log(0.5f)}, d.beta.x = {0.5f};
    DeltaNetArgs a = d.args();
    a.scale = 0.5f;
    Stream s = ref_stream();
    ASSERT_TRUE(ref::delta_net(a, s).ok());
    EXPECT_NEAR(d.state.x[0], 2.f, 1e-6);
    EXPECT_NEAR(d.out.x[0], 1.f, 1e-6);
}

// The reference, then every CPU variant this machine runs (kernels::variants).
std::vector<const OpTable*> delta_tables() {
    std::vector<const OpTable*> v{op_table(Backend::ref)};
    for (const OpTable& t : variants(Backend::cpu)) v.push_back(&t);
    return v;
}

TEST(DeltaNet, DecodeEqualsPrefill) {
    // Same tokens, one call versus one token per call, and a 3 + 8 split: bit for bit, for every variant.
    ThreadPool pool(2);
    for (const OpTable* var : delta_tables())
        for (auto [hk, hv, dk] : {std::tuple{2, 4, 128}, {1, 1, 20}}) {
            Delta whole(11, hk, hv, dk, dk, 21), dec = whole, split = whole;
            Stream s;
            s.backend = var->backend;
            s.pool = &pool;
            ASSERT_TRUE(var->delta_net(whole.args(), s).ok());
            for (int64_t t = 0; t < 11; ++t) ASSERT_TRUE(var->delta_net(dec.args(t, 1), s).ok());
            ASSERT_TRUE(var->delta_net(split.args(0, 3), s).ok());
            ASSERT_TRUE(var->delta_net(split.args(3, 8), s).ok());
            EXPECT_EQ(dec.out.x, whole.out.x) << var->variant << " d_k=" << dk;
            EXPECT_EQ(dec.state.x, whole.state.x) << var->variant;
            EXPECT_EQ(split.out.x, whole.out.x) << var->variant;
            EXPECT_EQ(split.state.x, whole.state.x) << var->variant;
        }
}

TEST(DeltaNet, RejectsBadArguments) {
    Delta d(2, 3, 4, 8, 8, 1);  // 4 value heads over 3 key heads
    Stream s;
    Status st = ref::delta_net(d.args(), s);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("n_hk"), std::string::npos) << st.error().message();
    Delta e(2, 2, 4, 8, 8, 1);
    DeltaNetArgs a = e.args();
    a.state.shape[2] = 4;
    EXPECT_FALSE(cpu::delta_net_with(a, s, cpu::delta_net_micro_portable()).ok());
}

// ---- llama.cpp's order -----------------------------------------------------------------------------
// A scalar emulation of how the pinned llama.cpp's CPU backend computes these ops on an AVX2 + FMA machine (GCC,
// -O3 -march=native), from its source and its compiled code; the AVX2 micro-kernels must equal it bit for bit.
// tools/llama_ref/ggml_ops_check.cpp checks them against libggml itself; these tests keep the order without it.

// A product rounded to f32 on its own (volatile: never contracted into an FMA, whatever the flags).
float rounded_product(float a, float b) {
    volatile float p = a * b;
    return p;
}

// The leftovers of a float sum that GCC vectorised: the first n & ~3 products rounded and added in order, the
// last n & 3 fused multiply-adds (ggml_vec_dot_f32's tail, and ssm_conv's sum over the taps).
float gcc_tail(float sum, const float* x, const float* y, int64_t n) {
    const int64_t n4 = n & ~int64_t(3);
    for (int64_t i = 0; i < n4; ++i) sum += rounded_product(x[i], y[i]);
    for (int64_t i = n4; i < n; ++i) sum = std::fma(x[i], y[i], sum);
    return sum;
}

// ggml_vec_dot_f32 with AVX + FMA: four 8-lane accumulators over 32-value steps (lane l of accumulator j takes
// values 32 s + 8 j + l), GGML_F32x8_REDUCE ((a0 + a2) + (a1 + a3), the two 4-lane halves added, two
// horizontal adds), then the leftovers.
float dot_ggml(const float* x, const float* y, int64_t n) {
    const int64_t n32 = n & ~int64_t(31);
    float acc[4][8] = {};
    for (int64_t s = 0; s < n32; s += 32)
        for (int j = 0; j < 4; ++j)
            for (int l = 0; l < 8; ++l) acc[j][l] = std::fma(x[s + 8 * j + l], y[s + 8 * j + l], acc[j][l]);
    float v[8], h[4];
    for (int l = 0; l < 8; ++l) v[l] = (acc[0][l] + acc[2][l]) + (acc[1][l] + acc[3][l]);
    for (int l = 0; l < 4; ++l) h[l] = v[l] + v[l + 4];
    return gcc_tail((h[0] + h[1]) + (h[2] + h[3]), x + n32, y + n32, n - n32);
}

// One value row of ggml_compute_forward_gated_delta_net_one_chunk: scale (ggml_vec_scale_f32), dot with k,
// δ, the update (ggml_vec_mad_f32: an FMA per value), dot with q.
void delta_row_ggml(float* s, int64_t d_k, const float* q, const float* k, float v, float decay, float beta,
                    float scale, float* out) {
    for (int64_t e = 0; e < d_k; ++e) s[e] = rounded_product(s[e], decay);
    const float delta = (v - dot_ggml(s, k, d_k)) * beta;
    for (int64_t e = 0; e < d_k; ++e) s[e] = std::fma(k[e], delta, s[e]);
    *out = dot_ggml(s, q, d_k) * scale;
}

// The attention scores of llama.cpp's unfused path are ggml_vec_dot_f32 too, whatever the head size (tails
// included: a head of 40 leaves 8 values after the 32-value steps).
TEST(AttentionAvx2, DotMatchesGgmlOrder) {
    if (!cpu_features().avx2_kernels()) GTEST_SKIP() << "no AVX2 on this CPU";
    std::mt19937 rng(9);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (int64_t n : {8, 32, 40, 48, 64, 72, 96, 104, 120, 128, 200, 576}) {
        std::vector<float> x(static_cast<size_t>(n)), y(static_cast<size_t>(n));
        for (auto& v : x) v = nd(rng);
        for (auto& v : y) v = nd(rng);
        const float want = dot_ggml(x.data(), y.data(), n),
                    got = cpu::attention_micro_avx2().dot_ggml(x.data(), y.data(), n);
        EXPECT_EQ(std::bit_cast<uint32_t>(want), std::bit_cast<uint32_t>(got))
            << "n = " << n << ": " << want << " vs " << got;
    }
}

TEST(DeltaNetAvx2, MatchesGgmlOrder) {
    if (!cpu_features().avx2_kernels()) GTEST_SKIP() << "no AVX2 on this CPU";
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(0.f, 1.f);
    // d_k = 128, 64, 32: whole 32-value steps; the rest: the leftovers of every length class.
    for (int64_t d_k : {128, 64, 32, 48, 61, 23, 7, 4, 1})
        for (int64_t n_rows : {1, 2, 5}) {
            const auto rows = size_t(n_rows), dk = size_t(d_k);
            std::vector<float> s(rows * dk), q(dk), k(dk), v(rows);
            for (float& x : s) x = 0.1f * nd(rng);
            for (std::vector<float>* t : {&q, &k, &v})
                for (float& x : *t) x = nd(rng) / std::sqrt(float(d_k));
            const float decay = std::exp(-std::log1p(std::exp(nd(rng)))), beta = 1.f / (1.f + std::exp(-nd(rng)));
            const float scale = 1.f / std::sqrt(float(d_k));
            std::vector<float> s_want = s, out_want(rows), out(rows);
            for (int64_t r = 0; r < n_rows; ++r)
                delta_row_ggml(&s_want[size_t(r * d_k)], d_k, q.data(), k.data(), v[size_t(r)], decay, beta, scale,
                               &out_want[size_t(r)]);
            cpu::delta_net_micro_avx2().rows(s.data(), n_rows, d_k, q.data(), k.data(), v.data(), decay, beta, scale,
                                             out.data());
            // Bytes, not values: a different rounding anywhere shows, and so would −0 for +0.
            EXPECT_EQ(std::memcmp(out.data(), out_want.data(), out.size() * 4), 0)
                << "d_k=" << d_k << " rows=" << n_rows;
            EXPECT_EQ(std::memcmp(s.data(), s_want.data(), s.size() * 4), 0) << "d_k=" << d_k << " rows=" << n_rows;
        }
}

TEST(Conv1dAvx2, MatchesGgmlOrder) {
    if (!cpu_features().avx2_kernels()) GTEST_SKIP() << "no AVX2 on this CPU";
    std::mt19937 rng(8);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (int64_t k : {2, 3, 4, 5, 7, 8, 13})
        for (int64_t n_ch : std::initializer_list<int64_t>{1, 7, 8, 33, cpu::kConvBlock}) {
            // Taps [K][kConvBlock] and K input rows, as the driver passes them.
            const auto taps = size_t(k), nc = size_t(n_ch);
            std::vector<float> w(taps * size_t(cpu::kConvBlock)), x(taps * nc), y(nc), want(nc);
            for (float& e : w) e = 0.5f * nd(rng);
            for (float& e : x) e = nd(rng);
            std::vector<const float*> src;
            for (int64_t i = 0; i < k; ++i) src.push_back(&x[size_t(i * n_ch)]);
            for (int64_t c = 0; c < n_ch; ++c) {
                std::vector<float> wc, xc;  // channel c's taps and window, oldest first
                for (int64_t i = 0; i < k; ++i) {
                    wc.push_back(w[size_t(i * cpu::kConvBlock + c)]);
                    xc.push_back(src[size_t(i)][c]);
                }
                want[size_t(c)] = gcc_tail(0.f, wc.data(), xc.data(), k);  // ssm_conv: a float sum from 0
            }
            cpu::conv1d_micro_avx2().taps(src.data(), w.data(), cpu::kConvBlock, k, n_ch, y.data());
            EXPECT_EQ(std::memcmp(y.data(), want.data(), y.size() * 4), 0) << "K=" << k << " n_ch=" << n_ch;
        }
}

TEST(RecurrentCpu, RegisteredInTheCpuTable) {
    const OpTable* t = op_table(Backend::cpu);
    ASSERT_NE(t, nullptr);
    EXPECT_NE(t->conv1d, nullptr);
    EXPECT_NE(t->delta_net, nullptr);
}

}  // namespace
}  // namespace loom::kernels
