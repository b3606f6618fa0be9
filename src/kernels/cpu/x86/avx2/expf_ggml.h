// The common part of ggml_v_expf (ggml-cpu/vec.h, AVX2 branch) on 8 lanes, with its operations in its order, so
// that the bits are ggml's: n = round(x·log2 e) by adding 1.5·2^23, r = x − n·ln 2 with ln 2 in a high and a low
// part, e^r − 1 ≈ r·(c1 + c2·r + ... + c5·r⁴) evaluated as two interleaved halves, and 2^n made in the exponent
// bits. e^x = k·(1 + p) = fma(p, k, k) wherever |n| <= 126; the callers differ in what they do outside that
// range. Include only from x86/avx2/*.cpp (internal linkage, AVX2 flags).
#pragma once

#include <immintrin.h>

namespace loom::kernels::cpu::avx2 {
namespace {

struct ExpfParts {
    __m256 n;   // round(x·log2 e)
    __m256i e;  // n in the exponent field (n << 23, two's complement)
    __m256 k;   // 2^n, valid for |n| <= 126
    __m256 p;   // e^r − 1
};

inline ExpfParts expf_parts(__m256 x) {
    const __m256 shift = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
    ExpfParts f;
    f.n = _mm256_sub_ps(z, shift);
    const __m256 r =
        _mm256_fnmadd_ps(f.n, _mm256_set1_ps(0x1.7f7d1cp-20f), _mm256_fnmadd_ps(f.n, _mm256_set1_ps(0x1.62e4p-1f), x));
    // n sits in the low mantissa bits of z: shifted into the exponent field and added to 1.0's bits.
    f.e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    f.k = _mm256_castsi256_ps(_mm256_add_epi32(f.e, _mm256_castps_si256(_mm256_set1_ps(1.0f))));
    const __m256 r2 = _mm256_mul_ps(r, r);
    const __m256 hi = _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), r, _mm256_set1_ps(0x1.573e2ep-5f));
    const __m256 lo = _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), r, _mm256_set1_ps(0x1.fffdb6p-2f));
    f.p = _mm256_fmadd_ps(_mm256_fmadd_ps(hi, r2, lo), r2, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), r));
    return f;
}

}  // namespace
}  // namespace loom::kernels::cpu::avx2
