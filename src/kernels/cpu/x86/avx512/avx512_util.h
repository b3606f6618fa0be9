// Small helpers of the AVX-512 matmul tiles. Include only from x86/avx512/*.cpp (compiled with the AVX-512 flags):
// everything here has internal linkage, so no copy built with these flags can stand in for code that runs on
// CPUs without AVX-512.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

namespace loom::kernels::cpu::avx512 {
namespace {

inline uint16_t load_u16(const uint8_t* p) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    return v;
}

// The next row group, fetched ahead at the pace this one is read (as the AVX2 tiles: rows are too short for the
// hardware prefetcher to ramp up on each one when weights stream from DRAM). A group's rows are contiguous in a
// whole matrix, so `bytes` per block step of the group walks it; a hint, harmless past the end.
inline void prefetch_ahead(const uint8_t* p, int bytes) {
    for (int l = 0; l < bytes; l += 64) _mm_prefetch(reinterpret_cast<const char*>(p + l), _MM_HINT_T0);
}

// Sixteen rows' f16 values at p, p + ws, ... as sixteen floats, gathered in general registers (scalar stores read
// back as one vector would defeat store forwarding).
inline __m512 f16_x16(const uint8_t* p, int64_t ws) {
    uint64_t q[4];
    for (int k = 0; k < 4; ++k) {
        const uint8_t* r = p + 4 * k * ws;
        q[k] = uint64_t(load_u16(r)) | uint64_t(load_u16(r + ws)) << 16 | uint64_t(load_u16(r + 2 * ws)) << 32 |
               uint64_t(load_u16(r + 3 * ws)) << 48;
    }
    return _mm512_cvtph_ps(_mm256_setr_epi64x(int64_t(q[0]), int64_t(q[1]), int64_t(q[2]), int64_t(q[3])));
}

// The 16 bytes at p of rows r, r+4, r+8, r+12 (p is row r's) in the four 128-bit lanes of one register.
inline __m512i rows_4_apart(const uint8_t* p, int64_t ws) {
    __m512i x = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    x = _mm512_inserti32x4(x, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 4 * ws)), 1);
    x = _mm512_inserti32x4(x, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 8 * ws)), 2);
    return _mm512_inserti32x4(x, _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 12 * ws)), 3);
}

// Four registers of per-lane partial sums (register k, 128-bit lane q: row k + 4q, four int32 parts) -> the
// sixteen rows' totals in row order (int32 lane 4q + k). Integer additions: the order does not matter.
inline __m512i fold16(__m512i s0, __m512i s1, __m512i s2, __m512i s3) {
    const __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(s0, s1), _mm512_unpackhi_epi32(s0, s1));
    const __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(s2, s3), _mm512_unpackhi_epi32(s2, s3));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
}

// The AVX2 tiles' reduction of eight f32 lanes, in their order.
inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

}  // namespace
}  // namespace loom::kernels::cpu::avx512
