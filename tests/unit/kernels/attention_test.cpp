// Attention: the reference against independent double-precision math and hand-checkable cases, then every
// CPU variant this machine runs on strided cache views (the grid of shapes, masks, dtypes and threads against the
// reference is the harness's, op_cases_attention.cpp).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "core/thread_pool.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/registry.h"

namespace loom::kernels {
namespace {

// An owned buffer and a view of it.
struct Buf {
    std::vector<uint8_t> bytes;
    TensorView view;
};

Buf make(DType t, std::initializer_list<int64_t> shape) {
    Buf b;
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    b.bytes.assign(size_t(row_bytes(t, n)), 0);
    b.view = TensorView::dense(b.bytes.data(), t, shape);
    return b;
}

// Writes value x at flat index i (f32 or f16 storage).
void put(Buf& b, int64_t i, float x) {
    if (b.view.dtype == DType::f16) {
        const uint16_t h = f32_to_f16(x);
        std::memcpy(b.bytes.data() + 2 * i, &h, 2);
    } else {
        std::memcpy(b.bytes.data() + 4 * i, &x, 4);
    }
}
float get(const Buf& b, int64_t i) {
    if (b.view.dtype == DType::f16) {
        uint16_t h;
        std::memcpy(&h, b.bytes.data() + 2 * i, 2);
        return f16_to_f32(h);
    }
    float x;
    std::memcpy(&x, b.bytes.data() + 4 * i, 4);
    return x;
}
void put_i32(Buf& b, int64_t i, int32_t x) { std::memcpy(b.bytes.data() + 4 * i, &x, 4); }

// One attention problem with its buffers.
struct Problem {
    int64_t n_tok, n_kv, n_head, n_head_kv, d_head, d_v;
    DType kv_type;
    Buf q, k, v, out, q_pos, kv_pos;
    AttentionArgs args() {
        AttentionArgs a;
        a.q = q.view;
        a.k = k.view;
        a.v = v.view;
        a.out = out.view;
        a.q_pos = q_pos.view;
        a.kv_pos = kv_pos.view;
        return a;
    }
};

// Random q/k/v; kv slots hold a shuffled range of positions with about 1 in 8 slots empty (their K/V rows
// filled with NaN, which no implementation may read); the queries are the last n_tok positions.
Problem random_problem(uint32_t seed, int64_t n_tok, int64_t n_kv, int64_t n_head, int64_t n_head_kv, int64_t d_head,
                       int64_t d_v, DType kv_type) {
    std::mt19937 rng(seed);
    // Uniform in [−√3, √3) (unit variance) from a cheap generator: the grid draws millions of values.
    uint64_t state = 0x9e3779b97f4a7c15ull * (seed + 1);
    auto normal = [&state](std::mt19937&) {
        state ^= state << 13, state ^= state >> 7, state ^= state << 17;
        return (float(state >> 40) * 0x1p-24f * 2.f - 1.f) * 1.7320508f;
    };
    Problem p{n_tok, n_kv, n_head, n_head_kv, d_head, d_v, kv_type, {}, {}, {}, {}, {}, {}};
    p.q = make(DType::f32, {n_tok, n_head, d_head});
    p.k = make(kv_type, {n_kv, n_head_kv, d_head});
    p.v = make(kv_type, {n_kv, n_head_kv, d_v});
    p.out = make(DType::f32, {n_tok, n_head, d_v});
    p.q_pos = make(DType::i32, {n_tok});
    p.kv_pos = make(DType::i32, {n_kv});
    for (int64_t i = 0; i < p.q.view.n_elements(); ++i) put(p.q, i, 1.5f * normal(rng));
    for (int64_t i = 0; i < p.k.view.n_elements(); ++i) put(p.k, i, normal(rng));
    for (int64_t i = 0; i < p.v.view.n_elements(); ++i) put(p.v, i, normal(rng));
    std::vector<int32_t> pos(static_cast<size_t>(n_kv));
    std::iota(pos.begin(), pos.end(), 0);
    std::shuffle(pos.begin(), pos.end(), rng);
    for (int64_t j = 0; j < n_kv; ++j) {
        const bool empty = n_kv > 1 && rng() % 8 == 0;
        put_i32(p.kv_pos, j, empty ? -1 : pos[size_t(j)]);
        if (empty) {
            for (int64_t e = 0; e < n_head_kv * d_head; ++e) put(p.k, j * n_head_kv * d_head + e, NAN);
            for (int64_t e = 0; e < n_head_kv * d_v; ++e) put(p.v, j * n_head_kv * d_v + e, NAN);
        }
    }
    for (int64_t i = 0; i < n_tok; ++i) put_i32(p.q_pos, i, int32_t(n_kv - n_tok + i));
    return p;
}

// Attention written out directly from the definition (ops.h), in double, reading the buffers flat.
std::vector<double> attention_double(const Problem& p, const AttentionArgs& a) {
    std::vector<double> out(size_t(p.n_tok * p.n_head * p.d_v), 0.0);
    const int64_t n_rep = p.n_head / p.n_head_kv;
    for (int64_t i = 0; i < p.n_tok; ++i) {
        int32_t qp;
        std::memcpy(&qp, p.q_pos.bytes.data() + 4 * i, 4);
        for (int64_t h = 0; h < p.n_head; ++h) {
            const int64_t g = h / n_rep;
            std::vector<double> w(size_t(p.n_kv), 0.0);
            std::vector<bool> vis(size_t(p.n_kv), false);
            double max = -INFINITY;
            for (int64_t j = 0; j < p.n_kv; ++j) {
                int32_t kp;
                std::memcpy(&kp, p.kv_pos.bytes.data() + 4 * j, 4);
                vis[size_t(j)] = kp >= 0 && (!a.causal || kp <= qp) && (a.window == 0 || int64_t(qp) - kp < a.window);
                if (!vis[size_t(j)]) continue;
                double dot = 0;
                for (int64_t e = 0; e < p.d_head; ++e) {
                    float qe = get(p.q, (i * p.n_head + h) * p.d_head + e);
                    if (p.kv_type == DType::f16) qe = f16_to_f32(f32_to_f16(qe));
                    dot += double(qe) * get(p.k, (j * p.n_head_kv + g) * p.d_head + e);
                }
                double s = dot * a.scale;
                if (a.softcap > 0) s = a.softcap * std::tanh(s / a.softcap);
                w[size_t(j)] = s;
                max = std::max(max, s);
            }
            double sum = 0;
            for (int64_t j = 0; j < p.n_kv; ++j)
                if (vis[size_t(j)]) sum += (w[size_t(j)] = std::exp(w[size_t(j)] - max));
            for (int64_t j = 0; j < p.n_kv; ++j) {
                if (!vis[size_t(j)]) continue;
                for (int64_t e = 0; e < p.d_v; ++e)
                    out[size_t((i * p.n_head + h) * p.d_v + e)] +=
                        w[size_t(j)] / sum * get(p.v, (j * p.n_head_kv + g) * p.d_v + e);
            }
        }
    }
    return out;
}

double max_abs_diff(const Buf& got, const std::vector<double>& want) {
    double m = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double d = std::fabs(double(get(got, int64_t(i))) - want[i]);
        if (!(d <= m)) m = d;  // NaN propagates as a failure
    }
    return m;
}

std::vector<double> as_double(const Buf& b) {
    std::vector<double> x(size_t(b.view.n_elements()));
    for (size_t i = 0; i < x.size(); ++i) x[i] = get(b, int64_t(i));
    return x;
}

Status run_ref(const AttentionArgs& a) {
    Stream s;
    s.backend = Backend::ref;
    return ref::attention(a, s);
}

// ---- the reference -------------------------------------------------------------------------------

TEST(AttentionRef, HandCheckedSoftmax) {
    // One head, two slots: scores 0 and ln 3, so the weights are 1/4 and 3/4.
    Problem p = random_problem(1, 1, 2, 1, 1, 2, 2, DType::f32);
    const float q[2] = {1, 0}, k[4] = {0, 0, std::log(3.f), 0}, v[4] = {4, 0, 0, 8};
    for (int i = 0; i < 2; ++i) put(p.q, i, q[i]);
    for (int i = 0; i < 4; ++i) put(p.k, i, k[i]), put(p.v, i, v[i]);
    put_i32(p.kv_pos, 0, 0), put_i32(p.kv_pos, 1, 1), put_i32(p.q_pos, 0, 1);
    ASSERT_TRUE(run_ref(p.args()).ok());
    EXPECT_NEAR(get(p.out, 0), 1.0, 1e-6);
    EXPECT_NEAR(get(p.out, 1), 6.0, 1e-6);
}

TEST(AttentionRef, WindowAndCausalMasks) {
    // q = 0 makes every score 0, so the output is the mean of the visible V rows.
    Problem p = random_problem(2, 1, 4, 1, 1, 4, 1, DType::f32);
    const int32_t pos[4] = {5, 6, 10, 11};
    const float v[4] = {100, 2, 4, 1000};
    for (int j = 0; j < 4; ++j) put_i32(p.kv_pos, j, pos[j]), put(p.v, j, v[j]);
    for (int e = 0; e < 4; ++e) put(p.q, e, 0.f);
    for (int e = 0; e < 16; ++e) put(p.k, e, 1.f);  // overwrite the NaN of any slot drawn empty
    put_i32(p.q_pos, 0, 10);
    AttentionArgs a = p.args();
    a.window = 5;  // keeps 10 − pos < 5: slots at 6 and 10 (11 is in the future)
    ASSERT_TRUE(run_ref(a).ok());
    EXPECT_NEAR(get(p.out, 0), 3.0, 1e-6);
    a.window = 0;  // causal only: 5, 6, 10
    ASSERT_TRUE(run_ref(a).ok());
    EXPECT_NEAR(get(p.out, 0), 106.0 / 3, 1e-5);
    a.causal = false;  // everything
    ASSERT_TRUE(run_ref(a).ok());
    EXPECT_NEAR(get(p.out, 0), 1106.0 / 4, 1e-4);
    put_i32(p.q_pos, 0, 4);  // causal again: nothing is visible, so zeros
    a.causal = true;
    ASSERT_TRUE(run_ref(a).ok());
    EXPECT_EQ(get(p.out, 0), 0.f);
}

TEST(AttentionRef, GqaGroupsAreContiguous) {
    // 4 query heads over 2 KV heads, one slot each: every head returns its group's V row.
    Problem p = random_problem(3, 1, 1, 4, 2, 8, 1, DType::f32);
    put_i32(p.kv_pos, 0, 0), put_i32(p.q_pos, 0, 0);
    put(p.v, 0, 10.f), put(p.v, 1, 20.f);
    ASSERT_TRUE(run_ref(p.args()).ok());
    EXPECT_EQ(get(p.out, 0), 10.f);
    EXPECT_EQ(get(p.out, 1), 10.f);
    EXPECT_EQ(get(p.out, 2), 20.f);
    EXPECT_EQ(get(p.out, 3), 20.f);
}

TEST(AttentionRef, MatchesDoublePrecisionDefinition) {
    int cases = 0;
    for (DType kv : {DType::f32, DType::f16})
        for (float cap : {0.f, 3.f})
            for (int window : {0, 3})
                for (bool causal : {true, false}) {
                    Problem p = random_problem(100 + cases, 5, 9, 6, 2, 12, 10, kv);
                    AttentionArgs a = p.args();
                    a.scale = 0.4f, a.softcap = cap, a.window = window, a.causal = causal;
                    ASSERT_TRUE(run_ref(a).ok());
                    EXPECT_LE(max_abs_diff(p.out, attention_double(p, a)), 2e-6)
                        << name(kv) << " cap=" << cap << " window=" << window << " causal=" << causal;
                    ++cases;
                }
}

TEST(AttentionRef, RejectsBadArguments) {
    Problem p = random_problem(4, 2, 3, 6, 4, 8, 8, DType::f32);  // 6 heads over 4 KV heads
    Status st = run_ref(p.args());
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("n_head_kv"), std::string::npos) << st.error().message();
    Problem r = random_problem(4, 2, 3, 4, 2, 8, 8, DType::f32);
    AttentionArgs a = r.args();
    a.k.shape[2] = 4;  // d_head mismatch
    st = run_ref(a);
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("k has shape"), std::string::npos) << st.error().message();
    a = r.args();
    a.q_pos.dtype = DType::f32;
    EXPECT_FALSE(run_ref(a).ok());
}

// ---- CPU variants ---------------------------------------------------------------------------------
// Against the reference over a grid of shapes, masks, dtypes and threads: the harness's cases
// (op_cases_attention.cpp). Here, what its dense buffers do not reach.

TEST(AttentionCpu, StridedCacheViews) {
    // K and V as views into a larger cache: n_ctx > n_kv slots, head rows padded. Results must not change.
    Problem p = random_problem(13, 3, 50, 8, 2, 64, 64, DType::f16);
    AttentionArgs a = p.args();
    a.scale = 0.125f;
    ASSERT_TRUE(run_ref(a).ok());
    const std::vector<double> want = as_double(p.out);
    const int64_t n_ctx = 64, pad = 16, row = 64 + pad;
    Buf kc = make(DType::f16, {n_ctx, 2, row}), vc = make(DType::f16, {n_ctx, 2, row});
    for (int64_t j = 0; j < 50; ++j)
        for (int64_t g = 0; g < 2; ++g)
            for (int64_t e = 0; e < 64; ++e) {
                put(kc, (j * 2 + g) * row + e, get(p.k, (j * 2 + g) * 64 + e));
                put(vc, (j * 2 + g) * row + e, get(p.v, (j * 2 + g) * 64 + e));
            }
    for (Buf* b : {&kc, &vc}) {
        b->view.shape = {50, 2, 64, 0};
        b->view.stride = {2 * row * 2, row * 2, 2, 0};
    }
    a.k = kc.view;
    a.v = vc.view;
    ThreadPool pool(2);
    for (const OpTable& t : variants(Backend::cpu)) {
        Stream s;
        s.pool = &pool;
        ASSERT_TRUE(t.attention(a, s).ok()) << t.variant;
        EXPECT_LE(max_abs_diff(p.out, want), 1e-5) << t.variant;
    }
    ASSERT_TRUE(run_ref(a).ok());
    EXPECT_LE(max_abs_diff(p.out, want), 1e-7);
}

TEST(AttentionCpu, RegisteredInTheCpuTable) {
    const OpTable* t = op_table(Backend::cpu);
    ASSERT_NE(t, nullptr);
    ASSERT_NE(t->attention, nullptr);
    Problem p = random_problem(14, 2, 10, 4, 2, 16, 16, DType::f32);
    AttentionArgs a = p.args();
    ASSERT_TRUE(run_ref(a).ok());
    const std::vector<double> want = as_double(p.out);
    Stream s;
    ASSERT_TRUE(t->attention(a, s).ok());
    EXPECT_LE(max_abs_diff(p.out, want), 1e-5);
    a.k.shape[1] = 3;
    EXPECT_FALSE(t->attention(a, s).ok());
}

}  // namespace
}  // namespace loom::kernels
