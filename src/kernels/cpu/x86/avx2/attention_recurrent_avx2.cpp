// AVX2 + FMA inner loops of the recurrent ops (contracts in cpu/attention_kernels.h), in llama.cpp's CPU order
// so that they give its bits (tools/llama_ref/ggml_ops_check.cpp checks them against the pinned libggml): the
// gated delta rule a value row at a time, and conv1d's taps over eight channels at a time.
#include <immintrin.h>

#include "kernels/cpu/attention_kernels.h"

// Only intrinsics and internal-linkage helpers here (see attention_avx2.cpp).
namespace loom::kernels::cpu {

namespace {

// A product rounded to f32 before it is added. GCC contracts a · b + c into one FMA by default
// (-ffp-contract=fast), even through _mm256_mul_ps / _mm256_add_ps; the empty asm hides the product from it.
inline __m256 mul_rounded(__m256 a, __m256 b) {
    __m256 p = _mm256_mul_ps(a, b);
    __asm__("" : "+x"(p));
    return p;
}
inline float mul_rounded(float a, float b) {
    float p = a * b;
    __asm__("" : "+x"(p));
    return p;
}

// ---- gated delta rule -----------------------------------------------------------------------------

// ggml_vec_dot_f32 (ggml-cpu/vec.cpp, AVX): four 8-lane FMA accumulators over 32-value steps, reduced by
// GGML_F32x8_REDUCE (pairs of accumulators, then the two halves, then two horizontal adds)...
inline float reduce4(const __m256* acc) {
    const __m256 s = _mm256_add_ps(_mm256_add_ps(acc[0], acc[2]), _mm256_add_ps(acc[1], acc[3]));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    return _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
}

// ...then the n mod 32 leftovers in a float sum, a loop GCC vectorised in the pinned build (-O3 -march=native,
// checked with objdump): blocks of 8 and 4 products rounded then added one by one in order, and the last
// n mod 4 as fused multiply-adds.
inline float dot_tail(float sum, const float* x, const float* y, int64_t n) {
    const int64_t n4 = n & ~int64_t(3);
    for (int64_t i = 0; i < n4; ++i) sum += mul_rounded(x[i], y[i]);
    for (int64_t i = n4; i < n; ++i) sum = __builtin_fmaf(x[i], y[i], sum);
    return sum;
}

// One value row of one head, following ggml_compute_forward_gated_delta_net_one_chunk (ggml-cpu/ops.cpp): the row
// scaled by the decay (ggml_vec_scale_f32: rounded products), δ = (v − dot(row, k)) · β, row += k · δ
// (ggml_vec_mad_f32: one FMA per value; GCC contracts its leftovers to FMAs too), then out = dot(row, q) · scale.
// ggml does each step for all rows of the head before the next; the rows are independent, so a row at a time
// gives the same bits. The scaled row is not stored by the first pass: the second recomputes it (the same
// rounded product), which saves a store per value and is faster than keeping it. One row at a time measured
// faster than two or four sharing the k and q loads (AMD EPYC, d_k = 128).
void row_ggml(float* s, int64_t d_k, const float* q, const float* k, float v, float decay, float beta, float scale,
              float* out) {
    const int64_t d32 = d_k & ~int64_t(31);
    const __m256 vd = _mm256_set1_ps(decay);
    __m256 acc[4];
    for (__m256& a : acc) a = _mm256_setzero_ps();
    for (int64_t e = 0; e < d32; e += 32)
        for (int j = 0; j < 4; ++j)
            acc[j] = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_loadu_ps(s + e + 8 * j), vd), _mm256_loadu_ps(k + e + 8 * j),
                                     acc[j]);
    for (int64_t e = d32; e < d_k; ++e) s[e] *= decay;  // the leftovers are stored scaled here
    const float delta = (v - dot_tail(reduce4(acc), s + d32, k + d32, d_k - d32)) * beta;
    const __m256 dl = _mm256_set1_ps(delta);
    for (__m256& a : acc) a = _mm256_setzero_ps();
    for (int64_t e = 0; e < d32; e += 32)
        for (int j = 0; j < 4; ++j) {
            float* p = s + e + 8 * j;
            const __m256 x = _mm256_fmadd_ps(_mm256_loadu_ps(k + e + 8 * j), dl, _mm256_mul_ps(_mm256_loadu_ps(p), vd));
            _mm256_storeu_ps(p, x);
            acc[j] = _mm256_fmadd_ps(x, _mm256_loadu_ps(q + e + 8 * j), acc[j]);
        }
    for (int64_t e = d32; e < d_k; ++e) s[e] = __builtin_fmaf(k[e], delta, s[e]);
    *out = dot_tail(reduce4(acc), s + d32, q + d32, d_k - d32) * scale;
}

void rows_avx2(float* s, int64_t n_rows, int64_t d_k, const float* q, const float* k, const float* v, float decay,
               float beta, float scale, float* out) {
    for (int64_t r = 0; r < n_rows; ++r) row_ggml(s + r * d_k, d_k, q, k, v[r], decay, beta, scale, out + r);
}

// ---- conv1d ----------------------------------------------------------------------------------------

// ggml_compute_forward_ssm_conv_f32 sums w · x over the taps from 0 in a float; GCC vectorised that loop in the
// pinned build (objdump): the first K & ~3 products rounded and added in order, the last K & 3 taps fused.
// N vectors of 8 channels at once, for independent add chains.
template <int N>
void conv_taps_block(const float* const* src, const float* w, int64_t ld, int64_t k, int64_t c, float* y) {
    const int64_t k4 = k & ~int64_t(3);
    __m256 acc[N];
    for (int n = 0; n < N; ++n) acc[n] = _mm256_setzero_ps();
    for (int64_t i = 0; i < k; ++i) {
        const float* x = src[i] + c;
        const float* wi = w + i * ld + c;
        for (int n = 0; n < N; ++n) {
            const __m256 wv = _mm256_loadu_ps(wi + 8 * n), xv = _mm256_loadu_ps(x + 8 * n);
            acc[n] = i < k4 ? _mm256_add_ps(acc[n], mul_rounded(wv, xv)) : _mm256_fmadd_ps(wv, xv, acc[n]);
        }
    }
    for (int n = 0; n < N; ++n) _mm256_storeu_ps(y + c + 8 * n, acc[n]);
}

void conv_taps_avx2(const float* const* src, const float* w, int64_t ld, int64_t k, int64_t n_ch, float* y) {
    int64_t c = 0;
    for (; c + 32 <= n_ch; c += 32) conv_taps_block<4>(src, w, ld, k, c, y);
    for (; c + 8 <= n_ch; c += 8) conv_taps_block<1>(src, w, ld, k, c, y);
    const int64_t k4 = k & ~int64_t(3);
    for (; c < n_ch; ++c) {
        float acc = 0.f;
        for (int64_t i = 0; i < k; ++i)
            acc = i < k4 ? acc + mul_rounded(w[i * ld + c], src[i][c]) : __builtin_fmaf(w[i * ld + c], src[i][c], acc);
        y[c] = acc;
    }
}

}  // namespace

const DeltaNetMicro& delta_net_micro_avx2() {
    static const DeltaNetMicro m{"avx2", rows_avx2};
    return m;
}

const Conv1dMicro& conv1d_micro_avx2() {
    static const Conv1dMicro m{"avx2", conv_taps_avx2};
    return m;
}

}  // namespace loom::kernels::cpu
