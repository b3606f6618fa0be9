// AVX2 + FMA + F16C inner loops for CPU attention (contract in cpu/attention_kernels.h): register-blocked
// Q·Kᵀ and P·V over f32 tiles, a vectorised exp for the streaming softmax, F16C widening of cache rows.
#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/attention_kernels.h"
#include "kernels/cpu/x86/avx2/expf_ggml.h"

// Only intrinsics and internal-linkage helpers here: an inline function from a shared header compiled
// with AVX2 flags could be the copy the linker keeps for portable callers too.

namespace loom::kernels::cpu {

namespace {

// [Σa, Σb, Σc, Σd] of four vectors.
inline __m128 hsum4(__m256 a, __m256 b, __m256 c, __m256 d) {
    const __m256 ab = _mm256_hadd_ps(a, b);      // [a01 a23 b01 b23 | a45 a67 b45 b67]
    const __m256 cd = _mm256_hadd_ps(c, d);      // [c01 c23 d01 d23 | ...]
    const __m256 abcd = _mm256_hadd_ps(ab, cd);  // [a0123 b0123 c0123 d0123 | a4567 ...]
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

inline float hsum(__m256 x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

inline float hmax(__m256 x) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// exp(x) = 2^n · e^r with n = round(x / ln 2) and |r| <= ln 2 / 2; e^r = 1 + r + r²·P(r) with the Cephes
// expf minimax coefficients (relative error about 2 ulp). Inputs below −87.3 (including −inf) give exactly
// 0; inputs are at most 0 in the softmax, the upper clamp only keeps 2^n finite.
inline __m256 exp8(__m256 x) {
    const __m256 lo = _mm256_set1_ps(-87.33654f);
    const __m256 xc = _mm256_min_ps(_mm256_max_ps(x, lo), _mm256_set1_ps(88.37626f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), xc);  // ln 2 split in two for exactness
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    const __m256 y = _mm256_mul_ps(p, _mm256_castsi256_ps(e));
    return _mm256_and_ps(y, _mm256_cmp_ps(x, lo, _CMP_GE_OQ));
}

// tanh(x) = sign(x) · (1 − e) / (1 + e) with e = exp(−2|x|); absolute error about 1e-7.
inline __m256 tanh8(__m256 x) {
    const __m256 sign = _mm256_set1_ps(-0.f);
    const __m256 ax = _mm256_andnot_ps(sign, x);
    const __m256 e = exp8(_mm256_mul_ps(ax, _mm256_set1_ps(-2.f)));
    const __m256 one = _mm256_set1_ps(1.f);
    const __m256 t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
    return _mm256_or_ps(t, _mm256_and_ps(sign, x));
}

// R query rows (1 or 2) against 4 slots at a time: 4R accumulators, R + 4 loads per 4R FMAs.
template <int R>
void qk_rows(const float* q, const float* k, int64_t n_k, int64_t d, float* s, int64_t ld) {
    for (int64_t j = 0; j < n_k; j += 4) {
        const float* kj = k + j * d;
        __m256 acc[R][4];
        for (int r = 0; r < R; ++r)
            for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_setzero_ps();
        for (int64_t e = 0; e < d; e += 8) {
            __m256 kv[4];
            for (int c = 0; c < 4; ++c) kv[c] = _mm256_loadu_ps(kj + c * d + e);
            for (int r = 0; r < R; ++r) {
                const __m256 qv = _mm256_loadu_ps(q + r * d + e);
                for (int c = 0; c < 4; ++c) acc[r][c] = _mm256_fmadd_ps(qv, kv[c], acc[r][c]);
            }
        }
        for (int r = 0; r < R; ++r) _mm_storeu_ps(s + r * ld + j, hsum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
    }
}

void qk_avx2(const float* q, int64_t n_rows, const float* k, int64_t n_k, int64_t d, float* s, int64_t ld) {
    int64_t r = 0;
    for (; r + 2 <= n_rows; r += 2) qk_rows<2>(q + r * d, k, n_k, d, s + r * ld, ld);
    if (r < n_rows) qk_rows<1>(q + r * d, k, n_k, d, s + r * ld, ld);
}

// R rows × NV·8 output dims held in registers while the tile's slots stream past. Written with named
// accumulators: GCC keeps an array of __m256 here in registers but also stores it every iteration.
template <int R, int NV>
void pv_block(const float* p, int64_t ld, const float* v, int64_t n_k, int64_t d_v, float* acc) {
    static_assert(R >= 1 && R <= 4 && (NV == 1 || NV == 2));
    auto load = [&](int r, int i) {
        return (r < R && i < NV) ? _mm256_loadu_ps(acc + r * d_v + 8 * i) : _mm256_setzero_ps();
    };
    __m256 a00 = load(0, 0), a01 = load(0, 1), a10 = load(1, 0), a11 = load(1, 1);
    __m256 a20 = load(2, 0), a21 = load(2, 1), a30 = load(3, 0), a31 = load(3, 1);
    for (int64_t j = 0; j < n_k; ++j) {
        const __m256 v0 = _mm256_loadu_ps(v + j * d_v);
        const __m256 v1 = NV > 1 ? _mm256_loadu_ps(v + j * d_v + 8) : v0;
        const __m256 p0 = _mm256_broadcast_ss(p + j);
        a00 = _mm256_fmadd_ps(p0, v0, a00);
        if constexpr (NV > 1) a01 = _mm256_fmadd_ps(p0, v1, a01);
        if constexpr (R > 1) {
            const __m256 p1 = _mm256_broadcast_ss(p + ld + j);
            a10 = _mm256_fmadd_ps(p1, v0, a10);
            if constexpr (NV > 1) a11 = _mm256_fmadd_ps(p1, v1, a11);
        }
        if constexpr (R > 2) {
            const __m256 p2 = _mm256_broadcast_ss(p + 2 * ld + j);
            a20 = _mm256_fmadd_ps(p2, v0, a20);
            if constexpr (NV > 1) a21 = _mm256_fmadd_ps(p2, v1, a21);
        }
        if constexpr (R > 3) {
            const __m256 p3 = _mm256_broadcast_ss(p + 3 * ld + j);
            a30 = _mm256_fmadd_ps(p3, v0, a30);
            if constexpr (NV > 1) a31 = _mm256_fmadd_ps(p3, v1, a31);
        }
    }
    const __m256 out[4][2] = {{a00, a01}, {a10, a11}, {a20, a21}, {a30, a31}};
    for (int r = 0; r < R; ++r)
        for (int i = 0; i < NV; ++i) _mm256_storeu_ps(acc + r * d_v + 8 * i, out[r][i]);
}

template <int R>
void pv_rows(const float* p, int64_t ld, const float* v, int64_t n_k, int64_t d_v, float* acc) {
    int64_t e = 0;
    for (; e + 16 <= d_v; e += 16) pv_block<R, 2>(p, ld, v + e, n_k, d_v, acc + e);
    if (e < d_v) pv_block<R, 1>(p, ld, v + e, n_k, d_v, acc + e);
}

void pv_avx2(const float* p, int64_t ld, int64_t n_rows, const float* v, int64_t n_k, int64_t d_v, float* acc) {
    int64_t r = 0;
    for (; r + 4 <= n_rows; r += 4) pv_rows<4>(p + r * ld, ld, v, n_k, d_v, acc + r * d_v);
    switch (n_rows - r) {
        case 3: pv_rows<3>(p + r * ld, ld, v, n_k, d_v, acc + r * d_v); break;
        case 2: pv_rows<2>(p + r * ld, ld, v, n_k, d_v, acc + r * d_v); break;
        case 1: pv_rows<1>(p + r * ld, ld, v, n_k, d_v, acc + r * d_v); break;
        default: break;
    }
}

// Up to 8 rows × 8 output dims in registers; each V vector is loaded (and widened) once for all rows.
template <int R, bool F16>
void pv_direct_rows(const float* p, int64_t ld, const uint8_t* v, int64_t v_stride, const int32_t* idx, int64_t n_idx,
                    int64_t d_v, float* acc) {
    static_assert(R >= 1 && R <= 8);
    for (int64_t e = 0; e < d_v; e += 8) {
        auto load = [&](int r) { return r < R ? _mm256_loadu_ps(acc + r * d_v + e) : _mm256_setzero_ps(); };
        __m256 a0 = load(0), a1 = load(1), a2 = load(2), a3 = load(3), a4 = load(4), a5 = load(5), a6 = load(6),
               a7 = load(7);
        for (int64_t t = 0; t < n_idx; ++t) {
            const int64_t j = idx[t];
            const uint8_t* row = v + j * v_stride;
            const __m256 vv = F16 ? _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row) + e / 8))
                                  : _mm256_loadu_ps(reinterpret_cast<const float*>(row) + e);
            const float* pj = p + j;
            a0 = _mm256_fmadd_ps(_mm256_broadcast_ss(pj), vv, a0);
            if constexpr (R > 1) a1 = _mm256_fmadd_ps(_mm256_broadcast_ss(pj + ld), vv, a1);
            if constexpr (R > 2) a2 = _mm256_fmadd_ps(_mm256_broadcast_ss(pj + 2 * ld), vv, a2);
            if constexpr (R > 3) a3 = _mm256_fmadd_ps(_mm256_broadcast_ss(pj + 3 * ld), vv, a3);
            if constexpr (R > 4) a4 = _mm256_fmadd_ps(_mm256_broadcast_ss(pj + 4 * ld), vv, a4);
            if constexpr (R > 5) a5 = _mm256_fmadd_ps(_mm256_broadcast_ss(pj + 5 * ld), vv, a5);
            if constexpr (R > 6) a6 = _mm256_fmadd_ps(_mm256_broadcast_ss(pj + 6 * ld), vv, a6);
            if constexpr (R > 7) a7 = _mm256_fmadd_ps(_mm256_broadcast_ss(pj + 7 * ld), vv, a7);
        }
        const __m256 out[8] = {a0, a1, a2, a3, a4, a5, a6, a7};
        for (int r = 0; r < R; ++r) _mm256_storeu_ps(acc + r * d_v + e, out[r]);
    }
}

template <bool F16>
void pv_direct_dispatch(const float* p, int64_t ld, int64_t n_rows, const uint8_t* v, int64_t v_stride,
                        const int32_t* idx, int64_t n_idx, int64_t d_v, float* acc) {
    switch (n_rows) {
        case 1: pv_direct_rows<1, F16>(p, ld, v, v_stride, idx, n_idx, d_v, acc); break;
        case 2: pv_direct_rows<2, F16>(p, ld, v, v_stride, idx, n_idx, d_v, acc); break;
        case 3: pv_direct_rows<3, F16>(p, ld, v, v_stride, idx, n_idx, d_v, acc); break;
        case 4: pv_direct_rows<4, F16>(p, ld, v, v_stride, idx, n_idx, d_v, acc); break;
        case 5: pv_direct_rows<5, F16>(p, ld, v, v_stride, idx, n_idx, d_v, acc); break;
        case 6: pv_direct_rows<6, F16>(p, ld, v, v_stride, idx, n_idx, d_v, acc); break;
        case 7: pv_direct_rows<7, F16>(p, ld, v, v_stride, idx, n_idx, d_v, acc); break;
        case 8: pv_direct_rows<8, F16>(p, ld, v, v_stride, idx, n_idx, d_v, acc); break;
        default: break;
    }
}

void pv_direct_avx2(const float* p, int64_t ld, int64_t n_rows, const void* v, bool v_f16, int64_t v_stride,
                    const int32_t* idx, int64_t n_idx, int64_t d_v, float* acc) {
    const uint8_t* vb = static_cast<const uint8_t*>(v);
    if (v_f16) {
        pv_direct_dispatch<true>(p, ld, n_rows, vb, v_stride, idx, n_idx, d_v, acc);
    } else {
        pv_direct_dispatch<false>(p, ld, n_rows, vb, v_stride, idx, n_idx, d_v, acc);
    }
}

float score_row_avx2(float* s, const uint32_t* mask, int64_t n, float scale, float cap) {
    const __m256 vs = _mm256_set1_ps(scale), vc = _mm256_set1_ps(cap), ninf = _mm256_set1_ps(-INFINITY);
    __m256 mx = ninf;
    for (int64_t j = 0; j < n; j += 8) {
        __m256 x = _mm256_mul_ps(_mm256_loadu_ps(s + j), vs);
        if (cap > 0.f) x = _mm256_mul_ps(vc, tanh8(x));
        const __m256 m = _mm256_castsi256_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(mask + j)));
        x = _mm256_blendv_ps(ninf, x, m);
        _mm256_storeu_ps(s + j, x);
        mx = _mm256_max_ps(mx, x);
    }
    return hmax(mx);
}

float exp_sum_avx2(float* s, int64_t n, float max) {
    const __m256 vm = _mm256_set1_ps(max);
    __m256 sum = _mm256_setzero_ps();
    for (int64_t j = 0; j < n; j += 8) {
        const __m256 x = exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), vm));
        _mm256_storeu_ps(s + j, x);
        sum = _mm256_add_ps(sum, x);
    }
    return hsum(sum);
}

void widen_avx2(const uint16_t* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(x + i))));
    for (; i < n; ++i) y[i] = _cvtsh_ss(x[i]);
}

// F16C rounds to nearest even like core/half.h's f32_to_f16 (NaN stays NaN; its payload may differ).
void round_f16_avx2(const float* x, float* y, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n; ++i) y[i] = _cvtsh_ss(_cvtss_sh(x[i], _MM_FROUND_TO_NEAREST_INT));
}

void scale_avx2(float* x, int64_t n, float a) {
    const __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), va));
    for (; i < n; ++i) x[i] *= a;
}

// ---- llama.cpp's unfused attention (attention_unfused) ------------------------------------------

// e^x with the operations of ggml_v_expf (expf_ggml.h), so the bits are ggml's everywhere: |n| > 126 goes
// through ggml's two-factor rescaling (0 for −inf).
inline __m256 exp8_ggml(__m256 x) {
    const avx2::ExpfParts f = avx2::expf_parts(x);
    const __m256 n = f.n, p = f.p, k = f.k;
    const __m256i e = f.e;
    const __m256 abs_n = _mm256_andnot_ps(_mm256_set1_ps(-0.f), n);
    const __m256 big = _mm256_cmp_ps(abs_n, _mm256_set1_ps(126.0f), _CMP_GT_OQ);
    if (!_mm256_movemask_ps(big)) return _mm256_fmadd_ps(p, k, k);
    // 2^n as s1·s2 (s1 = 2^±127-ish, s2 the rest), and s1² past |n| > 192 (overflow to inf, underflow to 0).
    const __m256i g = _mm256_and_si256(_mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
                                       _mm256_set1_epi32(int(0x82000000u)));
    const __m256 s1 = _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256 huge = _mm256_cmp_ps(abs_n, _mm256_set1_ps(192.0f), _CMP_GT_OQ);
    const __m256 scaled = _mm256_mul_ps(_mm256_fmadd_ps(s2, p, s2), s1);
    const __m256 plain = _mm256_fmadd_ps(k, p, k);
    return _mm256_or_ps(_mm256_and_ps(huge, _mm256_mul_ps(s1, s1)),
                        _mm256_andnot_ps(huge, _mm256_or_ps(_mm256_and_ps(big, scaled), _mm256_andnot_ps(big, plain))));
}

float dot_ggml_avx2(const float* x, const float* y, int64_t n) {
    const int64_t np = n & ~int64_t(31);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t i = 0; i < np; i += 32) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
        s2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), s2);
        s3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), s3);
    }
    // GGML_F32x8_REDUCE: pairwise over the accumulators, then two horizontal adds.
    s0 = _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    float sum = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    // The n mod 32 leftovers, summed in float as the pinned ggml does, in the order GCC compiled that loop
    // (-O3 -march=native, checked with objdump): the first n & ~3 products rounded and added one by one, the last
    // n & 3 fused multiply-adds. The empty asm keeps GCC here from fusing the rounded products.
    const int64_t n4 = np + ((n - np) & ~int64_t(3));
    for (int64_t i = np; i < n4; ++i) {
        float p = x[i] * y[i];
        __asm__("" : "+x"(p));
        sum += p;
    }
    for (int64_t i = n4; i < n; ++i) sum = __builtin_fmaf(x[i], y[i], sum);
    return sum;
}

double softmax_ggml_avx2(const float* x, float* y, int64_t n, float max) {
    const __m256 vm = _mm256_set1_ps(max);
    double sum = 0.0;
    for (int64_t i = 0; i < n; i += 8) {
        const __m256 v = exp8_ggml(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
        _mm256_storeu_ps(y + i, v);
        __m128 h = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        h = _mm_add_ss(h, _mm_movehdup_ps(h));
        sum += double(_mm_cvtss_f32(h));
    }
    return sum;
}

void axpy_avx2(float* acc, const float* v, float p, int64_t n) {
    const __m256 vp = _mm256_set1_ps(p);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(vp, _mm256_loadu_ps(v + i), _mm256_loadu_ps(acc + i)));
    for (; i < n; ++i) acc[i] = __builtin_fmaf(p, v[i], acc[i]);
}

}  // namespace

const AttentionMicro& attention_micro_avx2() {
    static const AttentionMicro m{
        "avx2",       8,          qk_avx2,        pv_avx2,    pv_direct_avx2, score_row_avx2,
        exp_sum_avx2, widen_avx2, round_f16_avx2, scale_avx2, dot_ggml_avx2,  softmax_ggml_avx2,
        axpy_avx2};
    return m;
}

}  // namespace loom::kernels::cpu
