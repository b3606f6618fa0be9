// AVX2 activation packers: the Q8_0 / Q8_1 / Q8_K integers and scales of ref::quantize_activations, bit for
// bit, and the f16/bf16 rounding of activations for half-precision weights. Layouts: matmul_avx2.h.
//
// Bit-exactness with llama.cpp's x86 CPU backend (the fast path must see the same integers): Q8_0/Q8_1 round
// x·(127/amax) half to even, as ggml-cpu's AVX2 quantizer does (not its reference rule, which rounds x·(1/d)
// half away from zero: the two differ on ties and where the two multipliers round apart, and that moved
// logprobs of a Q8_0 model by 0.2 against llama.cpp); Q8_K rounds (−127/max)·x half to even (the reference
// rule, which ggml-cpu uses on x86).
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/x86/avx2/matmul_avx2.h"

namespace loom::kernels::cpu::avx2 {
namespace {

// f32 -> f16 -> f32 with round to nearest even (F16C), as core/half.h's f32_to_f16 for finite values.
inline float round_to_f16(float v) { return _cvtsh_ss(_cvtss_sh(v, _MM_FROUND_TO_NEAREST_INT)); }

inline float hmax(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

inline int hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

// 32 int32 (as four vectors of 8, in order) -> 32 int8 in order.
inline __m256i pack_i32_to_i8(__m256i i0, __m256i i1, __m256i i2, __m256i i3) {
    const __m256i w01 = _mm256_packs_epi32(i0, i1);  // lanes interleave per 128-bit half
    const __m256i w23 = _mm256_packs_epi32(i2, i3);
    const __m256i b = _mm256_packs_epi16(w01, w23);
    return _mm256_permutevar8x32_epi32(b, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// One 32-value block as Q8_0/Q8_1 does it. Returns Σq; writes the 32 integers and the unrounded f32 d.
inline int quantize_block_q8(const float* x, int8_t* qs, float* d_out) {
    const __m256 sign_bit = _mm256_set1_ps(-0.f);
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 4; ++k) {
        v[k] = _mm256_loadu_ps(x + 8 * k);
        amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_bit, v[k]));
    }
    const float max = hmax(amax);
    const float d = max / 127.f;
    const float id = max != 0.f ? 127.f / max : 0.f;
    const __m256 vid = _mm256_set1_ps(id);
    __m256i q[4];
    for (int k = 0; k < 4; ++k)
        q[k] = _mm256_cvtps_epi32(
            _mm256_round_ps(_mm256_mul_ps(v[k], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qs), pack_i32_to_i8(q[0], q[1], q[2], q[3]));
    *d_out = d;
    return hsum_i32(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
}

template <bool kQ8_1>
void pack_a8(const float* x, uint8_t* dst, int64_t n_in) {
    const int64_t nb = n_in / 32;
    auto* qs = reinterpret_cast<int8_t*>(dst);
    auto* d = reinterpret_cast<float*>(dst + 32 * nb);
    auto* s = d + nb;
    auto* sums = reinterpret_cast<int32_t*>(s + nb);
    for (int64_t b = 0; b < nb; ++b) {
        float df;
        const int sum = quantize_block_q8(x + 32 * b, qs + 32 * b, &df);
        sums[b] = sum;
        d[b] = round_to_f16(df);
        // Q8_1 stores s = f16(Σq · d) with the unrounded d; for Q8_0 pairing s only serves the weights' offset
        // (−8·d·Σq for Q4_0), computed with the stored d.
        s[b] = kQ8_1 ? round_to_f16(float(sum) * df) : float(sum) * d[b];
    }
}

}  // namespace

int64_t a8_row_bytes(int64_t n_in) { return n_in / 32 * 44; }
int64_t a8k_row_bytes(int64_t n_in) { return n_in / 256 * 292; }
int64_t af_row_bytes(int64_t n_in) { return n_in * 4; }

void pack_a8_q8_0(const float* x, uint8_t* dst, int64_t n_in) { pack_a8<false>(x, dst, n_in); }
void pack_a8_q8_1(const float* x, uint8_t* dst, int64_t n_in) { pack_a8<true>(x, dst, n_in); }

namespace {

// Q8_K: the largest-magnitude value (the first one on ties, with its sign) maps to −127; q = min(127,
// round_half_even((−127/max)·x)); d = 1/iscale; bsums = sums of 16. One 256-value block.
void quantize_block_q8_k(const float* xb, int8_t* q, float* d, int16_t* bs) {
    const __m256 sign_bit = _mm256_set1_ps(-0.f);
    __m256 amax = _mm256_setzero_ps();
    for (int k = 0; k < 32; ++k) amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign_bit, _mm256_loadu_ps(xb + 8 * k)));
    const float am = hmax(amax);
    if (am == 0.f) {
        std::memset(q, 0, 256);
        std::memset(bs, 0, 32);
        *d = 0.f;
        return;
    }
    // The first element whose magnitude is the maximum gives the sign.
    const __m256 vam = _mm256_set1_ps(am);
    float max = 0.f;
    for (int k = 0; k < 32; ++k) {
        const int m =
            _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign_bit, _mm256_loadu_ps(xb + 8 * k)), vam, _CMP_EQ_OQ));
        if (m) {
            max = xb[8 * k + __builtin_ctz(unsigned(m))];
            break;
        }
    }
    const float iscale = -127.f / max;
    const __m256 vis = _mm256_set1_ps(iscale);
    const __m256i lim = _mm256_set1_epi32(127);
    for (int g = 0; g < 8; ++g) {  // 32 values a step
        __m256i i[4];
        for (int k = 0; k < 4; ++k) {
            const __m256 v = _mm256_mul_ps(vis, _mm256_loadu_ps(xb + 32 * g + 8 * k));
            i[k] =
                _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)),
                                 lim);
        }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(q + 32 * g), pack_i32_to_i8(i[0], i[1], i[2], i[3]));
        bs[2 * g] = int16_t(hsum_i32(_mm256_add_epi32(i[0], i[1])));
        bs[2 * g + 1] = int16_t(hsum_i32(_mm256_add_epi32(i[2], i[3])));
    }
    *d = 1.f / iscale;
}

// n int8 values times d, as f32 (each product rounded once, as the reference dequantizer does).
inline void store_scaled(const int8_t* q, float d, float* dst, int n) {
    const __m256 vd = _mm256_set1_ps(d);
    for (int i = 0; i < n; i += 8) {
        const __m256i v = _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(q + i)));
        _mm256_storeu_ps(dst + i, _mm256_mul_ps(_mm256_cvtepi32_ps(v), vd));
    }
}

}  // namespace

void pack_a8k(const float* x, uint8_t* dst, int64_t n_in) {
    const int64_t nb = n_in / 256;
    auto* qs = reinterpret_cast<int8_t*>(dst);
    auto* d = reinterpret_cast<float*>(dst + 256 * nb);
    auto* bsums = reinterpret_cast<int16_t*>(dst + 260 * nb);
    for (int64_t b = 0; b < nb; ++b) quantize_block_q8_k(x + 256 * b, qs + 256 * b, d + b, bsums + 16 * b);
}

void pack_f32_q8_0(const float* x, float* dst, int64_t n_in) {
    alignas(32) int8_t q[32];
    for (int64_t b = 0; b < n_in / 32; ++b) {
        float d;
        quantize_block_q8(x + 32 * b, q, &d);
        store_scaled(q, round_to_f16(d), dst + 32 * b, 32);
    }
}

void pack_f32_q8_k(const float* x, float* dst, int64_t n_in) {
    alignas(32) int8_t q[256];
    alignas(32) int16_t bs[16];
    for (int64_t b = 0; b < n_in / 256; ++b) {
        float d;
        quantize_block_q8_k(x + 256 * b, q, &d, bs);
        store_scaled(q, d, dst + 256 * b, 256);
    }
}

void pack_f32_f16(const float* x, float* dst, int64_t n_in) { pack_af_f16(x, reinterpret_cast<uint8_t*>(dst), n_in); }
void pack_f32_bf16(const float* x, float* dst, int64_t n_in) { pack_af_bf16(x, reinterpret_cast<uint8_t*>(dst), n_in); }
void pack_f32_f32(const float* x, float* dst, int64_t n_in) { std::memcpy(dst, x, size_t(n_in) * 4); }

void pack_af_f32(const float* x, uint8_t* dst, int64_t n_in) { std::memcpy(dst, x, size_t(n_in) * 4); }

void pack_af_f16(const float* x, uint8_t* dst, int64_t n_in) {
    auto* y = reinterpret_cast<float*>(dst);
    int64_t i = 0;
    for (; i + 8 <= n_in; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT)));
    for (; i < n_in; ++i) y[i] = round_to_f16(x[i]);
}

// bf16 rounding as core/half.h: NaN -> quiet NaN, otherwise round to nearest even on the top 16 bits.
void pack_af_bf16(const float* x, uint8_t* dst, int64_t n_in) {
    auto* y = reinterpret_cast<float*>(dst);
    const __m256i one = _mm256_set1_epi32(1), bias = _mm256_set1_epi32(0x7fff),
                  hi = _mm256_set1_epi32(int(0xffff0000u));
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000);
    const __m256i quiet = _mm256_set1_epi32(0x00400000);
    auto round8 = [&](__m256i b) {
        const __m256i r = _mm256_and_si256(_mm256_add_epi32(_mm256_add_epi32(b, bias),
                                                            _mm256_and_si256(_mm256_srli_epi32(b, 16), one)),
                                           hi);
        const __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(b, abs_mask), inf);
        const __m256i qnan = _mm256_and_si256(_mm256_or_si256(b, quiet), hi);
        return _mm256_blendv_epi8(r, qnan, nan);
    };
    int64_t i = 0;
    for (; i + 8 <= n_in; i += 8)
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(y + i),
                            round8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + i))));
    for (; i < n_in; ++i) {
        uint32_t b;
        std::memcpy(&b, x + i, 4);
        const uint32_t r = (b & 0x7fffffffu) > 0x7f800000u ? ((b | 0x00400000u) & 0xffff0000u)
                                                           : ((b + 0x7fffu + ((b >> 16) & 1u)) & 0xffff0000u);
        std::memcpy(y + i, &r, 4);
    }
}

}  // namespace loom::kernels::cpu::avx2
