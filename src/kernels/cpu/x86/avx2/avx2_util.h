// Small helpers of the AVX2 matmul tiles. Include only from x86/avx2/*.cpp (compiled with the AVX2 flags):
// everything here has internal linkage, so no copy built with these flags can stand in for portable code.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace loom::kernels::cpu::avx2 {
namespace {

inline uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

inline float f16_at(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return _cvtsh_ss(v);
}

inline __m256i load32(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }

// Eight f32 lanes added as ggml's AVX2 reductions do (halves, then pairs).
inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// NR tokens' parts of packed A8K rows (matmul_avx2.h; rows `as` bytes apart, nb super-blocks): values, scales, bsums.
template <int NR>
struct A8KTokens {
    const int8_t* q[NR];
    const float* d[NR];
    const int16_t* bsums[NR];
    A8KTokens(const uint8_t* a, int64_t as, int64_t nb) {
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) {
            const uint8_t* row = a + t * as;
            q[t] = reinterpret_cast<const int8_t*>(row);
            d[t] = reinterpret_cast<const float*>(row + 256 * nb);
            bsums[t] = reinterpret_cast<const int16_t*>(row + 260 * nb);
        }
    }
};

}  // namespace
}  // namespace loom::kernels::cpu::avx2
