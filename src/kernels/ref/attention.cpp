// Reference attention: for every query token and head, a plain two-pass softmax over the visible slots,
// accumulated in double. The oracle for the fast kernels: no tiling, no SIMD, no threads.
#include <cmath>
#include <cstring>
#include <vector>

#include "core/half.h"
#include "kernels/attention_check.h"
#include "kernels/ref/ref_ops.h"

namespace loom::kernels::ref {

namespace {

// Row (i0, i1) of a rank-3 view [n0, n1, n], honouring the outer strides.
const uint8_t* row3(const TensorView& t, int64_t i0, int64_t i1) {
    return static_cast<const uint8_t*>(t.data) + i0 * t.stride[0] + i1 * t.stride[1];
}

// Element e of an f16 or f32 row, widened.
double element(DType dtype, const uint8_t* row, int64_t e) {
    if (dtype == DType::f16) {
        uint16_t h;
        std::memcpy(&h, row + 2 * e, 2);
        return f16_to_f32(h);
    }
    float f;
    std::memcpy(&f, row + 4 * e, 4);
    return f;
}

int32_t pos_at(const TensorView& t, int64_t i) {
    int32_t p;
    std::memcpy(&p, static_cast<const uint8_t*>(t.data) + i * t.stride[0], 4);
    return p;
}

}  // namespace

Status attention(const AttentionArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_attention(a));
    const int64_t n_tok = a.q.shape[0], n_head = a.q.shape[1], d_head = a.q.shape[2];
    const int64_t n_kv = a.k.shape[0], n_head_kv = a.k.shape[1], d_v = a.v.shape[2];
    const int64_t n_rep = n_head / n_head_kv;  // query heads per KV head (GQA, contiguous grouping)

    // K and V widened to double once, [n_kv][n_head_kv][d]; empty slots are left at zero, never read.
    auto widen = [&](const TensorView& t) {
        const int64_t d = t.shape[2];
        std::vector<double> w(static_cast<size_t>(n_kv * n_head_kv * d), 0.0);
        for (int64_t j = 0; j < n_kv; ++j) {
            if (pos_at(a.kv_pos, j) < 0) continue;
            for (int64_t g = 0; g < n_head_kv; ++g)
                for (int64_t e = 0; e < d; ++e)
                    w[size_t((j * n_head_kv + g) * d + e)] = element(t.dtype, row3(t, j, g), e);
        }
        return w;
    };
    const std::vector<double> kw = widen(a.k), vw = widen(a.v);

    std::vector<double> q(static_cast<size_t>(d_head)), score(static_cast<size_t>(n_kv)), acc(static_cast<size_t>(d_v));
    std::vector<int64_t> seen;  // the visible slots of the current query
    for (int64_t i = 0; i < n_tok; ++i) {
        const int64_t qp = pos_at(a.q_pos, i);
        seen.clear();
        for (int64_t j = 0; j < n_kv; ++j) {
            const int64_t kp = pos_at(a.kv_pos, j);
            if (kp < 0) continue;                               // empty slot
            if (a.causal && kp > qp) continue;                  // future token
            if (a.window > 0 && qp - kp >= a.window) continue;  // outside the sliding window
            seen.push_back(j);
        }
        for (int64_t h = 0; h < n_head; ++h) {
            const int64_t g = h / n_rep;
            float* out = reinterpret_cast<float*>(const_cast<uint8_t*>(row3(a.out, i, h)));
            if (seen.empty()) {  // a query that sees nothing gets zeros
                for (int64_t e = 0; e < d_v; ++e) out[e] = 0.f;
                continue;
            }
            // llama.cpp (ggml-cpu/ops.cpp, flash_attn_ext one_chunk) converts Q to K's vec-dot type
            // before the dot products: f16 for an f16 cache. The op's contract includes that rounding.
            const uint8_t* qrow = row3(a.q, i, h);
            for (int64_t e = 0; e < d_head; ++e) {
                const float x = float(element(DType::f32, qrow, e));
                q[size_t(e)] = a.k.dtype == DType::f16 ? f16_to_f32(f32_to_f16(x)) : x;
            }
            // Pass 1: scores and their maximum.
            double max = -INFINITY;
            for (int64_t j : seen) {
                const double* krow = &kw[size_t((j * n_head_kv + g) * d_head)];
                double dot = 0;
                for (int64_t e = 0; e < d_head; ++e) dot += q[size_t(e)] * krow[e];
                double s = double(a.scale) * dot;
                if (a.softcap > 0) s = double(a.softcap) * std::tanh(s / double(a.softcap));
                score[size_t(j)] = s;
                if (s > max) max = s;
            }
            // Pass 2: normalised weights times V.
            double sum = 0;
            for (int64_t j : seen) sum += std::exp(score[size_t(j)] - max);
            for (auto& x : acc) x = 0;
            for (int64_t j : seen) {
                const double p = std::exp(score[size_t(j)] - max) / sum;
                const double* vrow = &vw[size_t((j * n_head_kv + g) * d_v)];
                for (int64_t e = 0; e < d_v; ++e) acc[size_t(e)] += p * vrow[e];
            }
            for (int64_t e = 0; e < d_v; ++e) out[e] = float(acc[size_t(e)]);
        }
    }
    return Ok{};
}

}  // namespace loom::kernels::ref
