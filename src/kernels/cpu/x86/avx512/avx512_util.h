// Small helpers of the AVX-512 matmul tiles. Include only from x86/avx512/*.cpp (compiled with the AVX-512 flags):
// everything here has internal linkage, so no copy built with these flags can stand in for code that runs on
// CPUs without AVX-512.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/matmul_kernels.h"
#include "kernels/cpu/x86/act_tokens.h"

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

// 4 bytes at p in every 32-bit lane (the packed layouts: one token's 4 activations against 16 rows' codes).
inline __m512i broadcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

// The same 32 bytes of two packed records (two groups of 8 rows: the low half from a, the high one from b).
inline __m512i load_pair(const void* a, const void* b) {
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(static_cast<const __m256i*>(a))),
                              _mm256_loadu_si256(static_cast<const __m256i*>(b)), 1);
}

// Two packed records' 8 f16 row scales each (a: rows 0–7, b: rows 8–15) as sixteen floats.
inline __m512 f16_pair(const uint16_t* a, const uint16_t* b) {
    return _mm512_cvtph_ps(
        _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))),
                                _mm_loadu_si128(reinterpret_cast<const __m128i*>(b)), 1));
}

// Q4_K: the activations' sums of sub-blocks 2c and 2c + 1 (from Q8_K's 16-value bsums) as the int16 halves of one
// lane, to meet a row's two mins in one vpmaddwd.
inline __m512i pair_bsums(const int16_t* bs, int c) {
    const int32_t lo = int32_t(bs[4 * c]) + bs[4 * c + 1], hi = int32_t(bs[4 * c + 2]) + bs[4 * c + 3];
    return _mm512_set1_epi32(int32_t((uint32_t(lo) & 0xffff) | uint32_t(hi) << 16));
}

// Stores (or adds) 16 rows' results of one token.
inline void store16(__m512 v, float* y, bool accumulate) {
    if (accumulate) v = _mm512_add_ps(v, _mm512_loadu_ps(y));
    _mm512_storeu_ps(y, v);
}

using x86::A8KTokens;
using x86::A8Tokens;

// MR rows × NR tokens over blocks [b0, b1) of rows nb blocks long: w row 0 (rows ws bytes apart), a the first
// token's packed activations (rows `as` bytes apart), outputs at y[t][col .. col + MR - 1].
using Tile = void (*)(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
                      float* const* y, int64_t col, bool accumulate);

// How a kernel sweeps a GemmTile: groups of `rows` rows outer (their weights stay in L1 across tokens), tokens inner:
// tokens [0, g.n_batched) with batched[nr - 1] (nr <= n_batched_max), the rest with rest[nr - 1] (nr <= n_rest_max);
// no tile spans both. The rows after the last whole group go to `remainder` (the AVX2 kernel, which rounds them
// as in any tile).
struct Sweep {
    int rows;
    int64_t block_values;
    const Tile* batched;
    int n_batched_max;
    const Tile* rest;
    int n_rest_max;
    void (*remainder)(const GemmTile&);
};

inline void sweep(const GemmTile& g, const Sweep& k) {
    const int64_t nb = g.n_in / k.block_values, b0 = g.k0 / k.block_values, b1 = g.k1 / k.block_values;
    const int64_t whole = g.n_out - g.n_out % k.rows;
    for (int64_t o = 0; o < whole; o += k.rows)
        for (int64_t t = 0; t < g.n_tok;) {
            const bool batched = t < g.n_batched;
            const int64_t end = batched ? g.n_batched : g.n_tok;
            const int64_t most = batched ? k.n_batched_max : k.n_rest_max;
            const int nr = int(end - t < most ? end - t : most);
            (batched ? k.batched : k.rest)[nr - 1](g.w + o * g.w_stride, g.w_stride, g.a + t * g.a_stride, g.a_stride,
                                                   nb, b0, b1, g.y_rows + t, g.y_col + o, g.accumulate);
            t += nr;
        }
    if (whole == g.n_out) return;
    GemmTile r = g;
    r.w = g.w + whole * g.w_stride;
    r.y_col = g.y_col + whole;
    r.n_out = g.n_out - whole;
    k.remainder(r);
}

}  // namespace
}  // namespace loom::kernels::cpu::avx512
