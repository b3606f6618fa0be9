// Reference recurrent ops: the causal depthwise conv1d with carried state and the gated delta rule
// (Qwen3.5 linear attention), token by token, with sums in double. The oracle for the fast kernels.
#include <cmath>
#include <vector>

#include "kernels/attention_check.h"
#include "kernels/ref/ref_ops.h"

namespace loom::kernels::ref {

namespace {
float* row(const TensorView& t, int64_t r) { return t.row<float>(r); }
// Row (i0, i1) of a rank-3 view.
float* row3(const TensorView& t, int64_t i0, int64_t i1) {
    return reinterpret_cast<float*>(static_cast<uint8_t*>(t.data) + i0 * t.stride[0] + i1 * t.stride[1]);
}
}  // namespace

Status conv1d(const Conv1dArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_conv1d(a));
    const int64_t n_tok = a.x.shape[0], n_ch = a.x.shape[1], k = a.w.shape[1];
    // Per channel: the history (K−1 carried inputs) followed by this call's inputs.
    std::vector<float> seq(size_t(k - 1 + n_tok));
    for (int64_t c = 0; c < n_ch; ++c) {
        for (int64_t i = 0; i < k - 1; ++i) seq[size_t(i)] = row(a.state, i)[c];
        for (int64_t t = 0; t < n_tok; ++t) seq[size_t(k - 1 + t)] = row(a.x, t)[c];
        const float* w = row(a.w, c);
        for (int64_t t = 0; t < n_tok; ++t) {
            double sum = 0;  // window of output t: seq[t .. t+K−1], oldest first
            for (int64_t i = 0; i < k; ++i) sum += double(w[i]) * seq[size_t(t + i)];
            row(a.y, t)[c] = float(sum);
        }
        // The new history is the last K−1 raw inputs.
        for (int64_t i = 0; i < k - 1; ++i) row(a.state, i)[c] = seq[size_t(n_tok + i)];
    }
    return Ok{};
}

Status delta_net(const DeltaNetArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_delta_net(a));
    const int64_t n_tok = a.q.shape[0], n_hk = a.q.shape[1], d_k = a.q.shape[2];
    const int64_t n_hv = a.v.shape[1], d_v = a.v.shape[2];
    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t j = 0; j < n_hv; ++j) {
            const int64_t i = j % n_hk;  // tiled value-head → key-head mapping
            const float* q = row3(a.q, t, i);
            const float* k = row3(a.k, t, i);
            const float* v = row3(a.v, t, j);
            const double decay = std::exp(double(row(a.g, t)[j]));
            const double beta = row(a.beta, t)[j];
            float* out = row3(a.out, t, j);
            for (int64_t r = 0; r < d_v; ++r) {  // one value row of S_j at a time: rows are independent
                float* s = row3(a.state, j, r);
                double sk = 0;  // (decayed S) · k
                for (int64_t c = 0; c < d_k; ++c) sk += decay * s[c] * k[c];
                const double delta = beta * (v[r] - sk);
                double sq = 0;
                for (int64_t c = 0; c < d_k; ++c) {
                    s[c] = float(decay * s[c] + delta * k[c]);
                    sq += double(s[c]) * q[c];
                }
                out[r] = float(sq * a.scale);
            }
        }
    }
    return Ok{};
}

}  // namespace loom::kernels::ref
