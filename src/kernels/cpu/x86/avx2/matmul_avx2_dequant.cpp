// AVX2 weight decoders for the f32 prefill path: values [k0, k1) of one row (whole blocks) to f32, with the
// same products and rounding as ref::dequantize_row (so the decoded weights are bit-identical to the reference's).
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "formats/quant_layout.h"
#include "kernels/cpu/x86/avx2/avx2_util.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"
// Bit-exactness with the reference dequantizer: each product is rounded on its own (no fused multiply-add),
// under GCC and clang alike.
#include "kernels/ref/no_fp_contract.h"

namespace loom::kernels::cpu::avx2 {
namespace {

// 32 signed bytes -> four vectors of 8 f32.
inline void widen32(__m256i q, __m256 out[4]) {
    const __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
    out[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
    out[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
    out[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
    out[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}

// y = float(q) * d for 32 values.
inline void store_mul(__m256i q, float d, float* y) {
    __m256 v[4];
    widen32(q, v);
    const __m256 vd = _mm256_set1_ps(d);
    for (int i = 0; i < 4; ++i) _mm256_storeu_ps(y + 8 * i, _mm256_mul_ps(v[i], vd));
}
// y = float(q) * d + m for 32 values.
inline void store_mul_add(__m256i q, float d, float m, float* y) {
    __m256 v[4];
    widen32(q, v);
    const __m256 vd = _mm256_set1_ps(d), vm = _mm256_set1_ps(m);
    for (int i = 0; i < 4; ++i) _mm256_storeu_ps(y + 8 * i, _mm256_add_ps(_mm256_mul_ps(v[i], vd), vm));
}
// y = dl * float(q) - ml for 32 values (the K-quant order).
inline void store_k(__m256i q, float dl, float ml, float* y) {
    __m256 v[4];
    widen32(q, v);
    const __m256 vd = _mm256_set1_ps(dl), vm = _mm256_set1_ps(ml);
    for (int i = 0; i < 4; ++i) _mm256_storeu_ps(y + 8 * i, _mm256_sub_ps(_mm256_mul_ps(vd, v[i]), vm));
}

inline __m256i iq4_lookup(__m256i idx) {
    const __m128i k = _mm_loadu_si128(reinterpret_cast<const __m128i*>(formats::kIq4NlValues));
    return _mm256_shuffle_epi8(_mm256_set_m128i(k, k), idx);
}

// Q4_K/Q5_K's packed 6-bit scales and mins (formats §2.4).
inline void scale_min_k4(const uint8_t* s, int sc[8], int mn[8]) {
    for (int k = 0; k < 8; ++k) {
        if (k < 4) {
            sc[k] = s[k] & 63;
            mn[k] = s[k + 4] & 63;
        } else {
            sc[k] = (s[k + 4] & 15) | (s[k - 4] >> 6) << 4;
            mn[k] = (s[k + 4] >> 4) | (s[k] >> 6) << 4;
        }
    }
}

}  // namespace

void dequant_q4_0(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    for (int64_t b = k0 / 32; b < k1 / 32; ++b, dst += 32) {
        const uint8_t* p = row + 18 * b;
        store_mul(_mm256_sub_epi8(unpack_nibbles(p + 2), _mm256_set1_epi8(8)), f16_at(p), dst);
    }
}

void dequant_q4_1(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    for (int64_t b = k0 / 32; b < k1 / 32; ++b, dst += 32) {
        const uint8_t* p = row + 20 * b;
        store_mul_add(unpack_nibbles(p + 4), f16_at(p), f16_at(p + 2), dst);
    }
}

void dequant_q5_0(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    for (int64_t b = k0 / 32; b < k1 / 32; ++b, dst += 32) {
        const uint8_t* p = row + 22 * b;
        store_mul(q5_0_values(p + 6, p + 2), f16_at(p), dst);
    }
}

void dequant_q5_1(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    for (int64_t b = k0 / 32; b < k1 / 32; ++b, dst += 32) {
        const uint8_t* p = row + 24 * b;
        store_mul_add(_mm256_or_si256(unpack_nibbles(p + 8), q5_high_bits(p + 4)), f16_at(p), f16_at(p + 2), dst);
    }
}

void dequant_q8_0(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    for (int64_t b = k0 / 32; b < k1 / 32; ++b, dst += 32) {
        const uint8_t* p = row + 34 * b;
        store_mul(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2)), f16_at(p), dst);
    }
}

// The reference computes d * K[q]; multiplication commutes bit for bit.
void dequant_iq4_nl(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    for (int64_t b = k0 / 32; b < k1 / 32; ++b, dst += 32) {
        const uint8_t* p = row + 18 * b;
        store_mul(iq4_lookup(unpack_nibbles(p + 2)), f16_at(p), dst);
    }
}

void dequant_q4_k(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    for (int64_t b = k0 / 256; b < k1 / 256; ++b, dst += 256) {
        const uint8_t* p = row + 144 * b;
        const float d = f16_at(p), dmin = f16_at(p + 2);
        int sc[8], mn[8];
        scale_min_k4(p + 4, sc, mn);
        for (int c = 0; c < 4; ++c) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16 + 32 * c));
            const __m256i m4 = _mm256_set1_epi8(15);
            store_k(_mm256_and_si256(q, m4), d * float(sc[2 * c]), dmin * float(mn[2 * c]), dst + 64 * c);
            store_k(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), d * float(sc[2 * c + 1]),
                    dmin * float(mn[2 * c + 1]), dst + 64 * c + 32);
        }
    }
}

void dequant_q5_k(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    for (int64_t b = k0 / 256; b < k1 / 256; ++b, dst += 256) {
        const uint8_t* p = row + 176 * b;
        const float d = f16_at(p), dmin = f16_at(p + 2);
        int sc[8], mn[8];
        scale_min_k4(p + 4, sc, mn);
        const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 16));
        for (int k = 0; k < 8; ++k) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 48 + 32 * (k / 2)));
            const __m256i lo = _mm256_and_si256(k % 2 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(15));
            const __m256i bit = _mm256_set1_epi8(char(1 << k));
            const __m256i hi =
                _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(qh, bit), bit), _mm256_set1_epi8(16));
            store_k(_mm256_or_si256(lo, hi), d * float(sc[k]), dmin * float(mn[k]), dst + 32 * k);
        }
    }
}

// y = (d * scale) * (q - 32), per 16-value sub-block.
void dequant_q6_k(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    for (int64_t b = k0 / 256; b < k1 / 256; ++b, dst += 256) {
        const uint8_t* p = row + 210 * b;
        const float d = f16_at(p + 208);
        for (int j = 0; j < 8; ++j) {  // chunk j = 4h + k: values 128h + 32k .. +31
            const int h = j / 4, k = j % 4;
            const __m256i ql = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 64 * h + 32 * (k & 1)));
            const __m256i lo = _mm256_and_si256(k >= 2 ? _mm256_srli_epi16(ql, 4) : ql, _mm256_set1_epi8(15));
            const __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 128 + 32 * h));
            const __m256i hs = k == 0   ? _mm256_slli_epi16(qh, 4)
                               : k == 1 ? _mm256_slli_epi16(qh, 2)
                               : k == 2 ? qh
                                        : _mm256_srli_epi16(qh, 2);
            const __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_and_si256(hs, _mm256_set1_epi8(0x30))),
                                              _mm256_set1_epi8(32));
            __m256 v[4];
            widen32(q, v);
            const auto* sc = reinterpret_cast<const int8_t*>(p + 192 + 2 * j);
            const __m256 d0 = _mm256_set1_ps(d * float(sc[0])), d1 = _mm256_set1_ps(d * float(sc[1]));
            float* y = dst + 32 * j;
            _mm256_storeu_ps(y, _mm256_mul_ps(d0, v[0]));
            _mm256_storeu_ps(y + 8, _mm256_mul_ps(d0, v[1]));
            _mm256_storeu_ps(y + 16, _mm256_mul_ps(d1, v[2]));
            _mm256_storeu_ps(y + 24, _mm256_mul_ps(d1, v[3]));
        }
    }
}

void dequant_iq4_xs(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    for (int64_t b = k0 / 256; b < k1 / 256; ++b, dst += 256) {
        const uint8_t* p = row + 136 * b;
        const float d = f16_at(p);
        uint16_t sh;
        std::memcpy(&sh, p + 2, 2);
        for (int k = 0; k < 8; ++k) {
            const int ls = ((p[4 + k / 2] >> (4 * (k % 2))) & 15) | ((sh >> (2 * k)) & 3) << 4;
            store_mul(iq4_lookup(unpack_nibbles(p + 8 + 16 * k)), d * float(ls - 32), dst + 32 * k);
        }
    }
}

void dequant_f16(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    int64_t k = k0;
    for (; k + 8 <= k1; k += 8, dst += 8)
        _mm256_storeu_ps(dst, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k))));
    for (; k < k1; ++k) *dst++ = f16_at(row + 2 * k);
}

void dequant_bf16(const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    int64_t k = k0;
    for (; k + 8 <= k1; k += 8, dst += 8) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
        _mm256_storeu_ps(dst, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
    }
    for (; k < k1; ++k) {
        uint16_t h;
        std::memcpy(&h, row + 2 * k, 2);
        const uint32_t bits = uint32_t(h) << 16;
        std::memcpy(dst++, &bits, 4);
    }
}

}  // namespace loom::kernels::cpu::avx2
