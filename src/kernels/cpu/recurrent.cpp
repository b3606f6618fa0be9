// CPU recurrent ops: the causal depthwise conv1d with carried state (threaded over channel blocks,
// vectorised across channels) and the gated delta rule (threaded over blocks of value rows: every row
// of every head's state evolves independently given the token's k, q, v, so the split is exact).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/attention_check.h"
#include "kernels/cpu/attention_kernels.h"

namespace loom::kernels::cpu {

namespace {

int64_t div_up(int64_t x, int64_t m) { return (x + m - 1) / m; }

void run_tasks(Stream& s, int64_t n, const std::function<void(int64_t, int)>& fn) {
    if (s.pool) {
        s.pool->run(n, fn);
    } else {
        for (int64_t i = 0; i < n; ++i) fn(i, 0);
    }
}

template <typename T>
T* at3(const TensorView& t, int64_t i0, int64_t i1) {
    return reinterpret_cast<T*>(static_cast<uint8_t*>(t.data) + i0 * t.stride[0] + i1 * t.stride[1]);
}

void delta_rows_portable(float* s, int64_t n_rows, int64_t d_k, const float* q, const float* k, const float* v,
                         float decay, float beta, float scale, float* out) {
    for (int64_t r = 0; r < n_rows; ++r) {
        float* row = s + r * d_k;
        float sk = 0.f;
        for (int64_t e = 0; e < d_k; ++e) {
            row[e] *= decay;
            sk += row[e] * k[e];
        }
        const float delta = (v[r] - sk) * beta;
        float sq = 0.f;
        for (int64_t e = 0; e < d_k; ++e) {
            row[e] += k[e] * delta;
            sq += row[e] * q[e];
        }
        out[r] = sq * scale;
    }
}

// y[c] = Σ_i w[i · ld + c] · src[i][c], each product rounded; the channel loop is contiguous, vectorised by the
// compiler at the baseline ISA (no FMA, so nothing is contracted).
void conv_taps_portable(const float* const* src, const float* w, int64_t ld, int64_t k, int64_t n_ch, float* y) {
    float acc[kConvBlock];
    std::fill(acc, acc + n_ch, 0.f);
    for (int64_t i = 0; i < k; ++i) {
        const float* x = src[i];
        const float* wi = w + i * ld;
        for (int64_t c = 0; c < n_ch; ++c) acc[c] += wi[c] * x[c];
    }
    std::memcpy(y, acc, size_t(n_ch) * 4);
}

}  // namespace

Status conv1d_with(const Conv1dArgs& a, Stream& st, const Conv1dMicro& micro) {
    LOOM_RETURN_IF_ERROR(check_conv1d(a));
    const int64_t n_tok = a.x.shape[0], n_ch = a.x.shape[1], k = a.w.shape[1];
    if (n_tok == 0) return Ok{};
    // Tasks of kConvBlock channels (one cache line of w per tap, per 16).
    run_tasks(st, div_up(n_ch, kConvBlock), [&](int64_t task, int) {
        const int64_t c0 = task * kConvBlock, nc = std::min(kConvBlock, n_ch - c0);
        // The block's taps transposed to [K][channels], so the channel loops are contiguous.
        float wt[16][kConvBlock];
        const float* src_small[16];
        std::vector<float> wt_big;
        std::vector<const float*> src_big;
        float* w = &wt[0][0];
        const float** src = src_small;
        if (k > 16) {
            wt_big.resize(size_t(k * kConvBlock));
            src_big.resize(size_t(k));
            w = wt_big.data();
            src = src_big.data();
        }
        for (int64_t c = 0; c < nc; ++c)
            for (int64_t i = 0; i < k; ++i) w[i * kConvBlock + c] = a.w.row<const float>(c0 + c)[i];
        // Input u of the concatenation [state; x]: u < K−1 is carried state, the rest is this call's x.
        auto input = [&](int64_t u) {
            return (u < k - 1 ? a.state.row<const float>(u) : a.x.row<const float>(u - (k - 1))) + c0;
        };
        for (int64_t t = 0; t < n_tok; ++t) {
            for (int64_t i = 0; i < k; ++i) src[i] = input(t + i);
            micro.taps(src, w, kConvBlock, k, nc, a.y.row<float>(t) + c0);
        }
        // New state: the last K−1 inputs. Row i comes from input n_tok + i > i, so in-place is safe in
        // increasing i (a state row is read before it is overwritten).
        for (int64_t i = 0; i < k - 1; ++i) std::memmove(a.state.row<float>(i) + c0, input(n_tok + i), size_t(nc) * 4);
    });
    return Ok{};
}

Status delta_net_with(const DeltaNetArgs& a, Stream& st, const DeltaNetMicro& micro) {
    LOOM_RETURN_IF_ERROR(check_delta_net(a));
    const int64_t n_tok = a.q.shape[0], n_hk = a.q.shape[1], d_k = a.q.shape[2];
    const int64_t n_hv = a.v.shape[1], d_v = a.v.shape[2];
    if (n_tok == 0 || d_v == 0) return Ok{};
    // About 8 tasks per thread, in blocks of a multiple of 4 rows; a block's state stays in cache
    // across all tokens of the call.
    const int n_threads = st.n_threads();
    int64_t rb = d_v;
    if (n_threads > 1) rb = std::clamp<int64_t>(div_up(div_up(n_hv * d_v, 8 * int64_t(n_threads)), 4) * 4, 4, d_v);
    const int64_t per_head = div_up(d_v, rb);
    run_tasks(st, n_hv * per_head, [&](int64_t task, int) {
        const int64_t j = task / per_head, r0 = (task % per_head) * rb, nr = std::min(rb, d_v - r0);
        const int64_t i = j % n_hk;  // tiled value-head → key-head mapping (ops.h)
        float* s = at3<float>(a.state, j, r0);
        for (int64_t t = 0; t < n_tok; ++t) {
            const float decay = std::exp(a.g.row<const float>(t)[j]);  // expf, as ggml
            const float beta = a.beta.row<const float>(t)[j];
            micro.rows(s, nr, d_k, at3<const float>(a.q, t, i), at3<const float>(a.k, t, i),
                       at3<const float>(a.v, t, j) + r0, decay, beta, a.scale, at3<float>(a.out, t, j) + r0);
        }
    });
    return Ok{};
}

const Conv1dMicro& conv1d_micro_portable() {
    static const Conv1dMicro m{"portable", conv_taps_portable};
    return m;
}

const DeltaNetMicro& delta_net_micro_portable() {
    static const DeltaNetMicro m{"portable", delta_rows_portable};
    return m;
}

}  // namespace loom::kernels::cpu
