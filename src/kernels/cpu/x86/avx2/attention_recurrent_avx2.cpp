// AVX2 + FMA inner loop of the gated delta rule (contract in cpu/attention_kernels.h): four value rows of
// the state at a time, so each k and q vector is loaded once for four rows.
#include <immintrin.h>

#include "kernels/cpu/attention_kernels.h"

// Only intrinsics and internal-linkage helpers here (see attention_avx2.cpp).
namespace loom::kernels::cpu {

namespace {

inline float hsum(__m256 x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The element-wise steps follow ggml's gated_delta_net (ggml-cpu/ops.cpp): the row is scaled by the decay
// first (rounded), δ = (v − row·k)·β, then row += k·δ with one fused multiply-add, then out = (row·q)·scale.
template <int R>
void rows_block(float* s, int64_t d_k, const float* q, const float* k, const float* v, float decay, float beta,
                float scale, float* out) {
    const int64_t d8 = d_k & ~int64_t(7);
    const __m256 vd = _mm256_set1_ps(decay);
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    for (int64_t e = 0; e < d8; e += 8) {
        const __m256 kv = _mm256_loadu_ps(k + e);
        for (int r = 0; r < R; ++r) {
            const __m256 x = _mm256_mul_ps(_mm256_loadu_ps(s + r * d_k + e), vd);
            _mm256_storeu_ps(s + r * d_k + e, x);
            acc[r] = _mm256_fmadd_ps(x, kv, acc[r]);
        }
    }
    float delta[R];
    for (int r = 0; r < R; ++r) {
        float sk = hsum(acc[r]);
        for (int64_t e = d8; e < d_k; ++e) {
            s[r * d_k + e] *= decay;
            sk += s[r * d_k + e] * k[e];
        }
        delta[r] = (v[r] - sk) * beta;
    }
    __m256 dl[R];
    for (int r = 0; r < R; ++r) {
        dl[r] = _mm256_set1_ps(delta[r]);
        acc[r] = _mm256_setzero_ps();
    }
    for (int64_t e = 0; e < d8; e += 8) {
        const __m256 kv = _mm256_loadu_ps(k + e), qv = _mm256_loadu_ps(q + e);
        for (int r = 0; r < R; ++r) {
            const __m256 x = _mm256_fmadd_ps(kv, dl[r], _mm256_loadu_ps(s + r * d_k + e));
            _mm256_storeu_ps(s + r * d_k + e, x);
            acc[r] = _mm256_fmadd_ps(x, qv, acc[r]);
        }
    }
    for (int r = 0; r < R; ++r) {
        float sq = hsum(acc[r]);
        for (int64_t e = d8; e < d_k; ++e) {
            s[r * d_k + e] += k[e] * delta[r];
            sq += s[r * d_k + e] * q[e];
        }
        out[r] = sq * scale;
    }
}

void rows_avx2(float* s, int64_t n_rows, int64_t d_k, const float* q, const float* k, const float* v, float decay,
               float beta, float scale, float* out) {
    int64_t r = 0;
    for (; r + 4 <= n_rows; r += 4) rows_block<4>(s + r * d_k, d_k, q, k, v + r, decay, beta, scale, out + r);
    for (; r < n_rows; ++r) rows_block<1>(s + r * d_k, d_k, q, k, v + r, decay, beta, scale, out + r);
}

}  // namespace

const DeltaNetMicro& delta_net_micro_avx2() {
    static const DeltaNetMicro m{"avx2", rows_avx2};
    return m;
}

}  // namespace loom::kernels::cpu
