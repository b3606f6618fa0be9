// Small helpers of the AVX2 matmul tiles. Include only from x86/avx2/*.cpp (compiled with the AVX2 flags):
// everything here has internal linkage, so no copy built with these flags can stand in for portable code.
#pragma once

#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/matmul_kernels.h"
#include "kernels/cpu/x86/act_tokens.h"

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

// 16 bytes of packed nibbles -> 32 bytes: low nibbles (values 0..15) then high nibbles (values 16..31). The 16
// bytes go to both halves in one load; the high half shifts its 64-bit lanes right by 4 (a byte's own high nibble
// comes down; what its neighbour shifts in lands above it and is masked away): 3 instructions instead of 5.
inline __m256i unpack_nibbles(const uint8_t* p) {
    const __m256i x = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_and_si256(_mm256_srlv_epi64(x, _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(0x0f));
}

// The 32 bits of the little-endian u32 at p as bytes: byte e is 0xFF if bit e is set, else 0. Each byte of a lane
// holds the u32's byte e / 8 with every bit but bit e % 8 set: it is all ones exactly when that bit is.
inline __m256i bytes_from_bits(const uint8_t* p) {
    uint32_t bits;
    std::memcpy(&bits, p, 4);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(int(bits)),
                                               _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2,
                                                                2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    const __m256i others = _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe);
    return _mm256_cmpeq_epi8(_mm256_or_si256(spread, others), _mm256_set1_epi8(-1));
}

// The Q5 high bits: byte e is 0x10 if bit e of the little-endian u32 at p is set.
inline __m256i q5_high_bits(const uint8_t* p) { return _mm256_and_si256(bytes_from_bits(p), _mm256_set1_epi8(0x10)); }

// Q5_0's 32 values code − 16 as signed bytes from its nibbles (qs) and high bits (qh): a clear high bit puts 0xF0 over
// the nibble (nibble − 16), a set one leaves the nibble (code − 16 with code = nibble + 16).
inline __m256i q5_0_values(const uint8_t* qs, const uint8_t* qh) {
    return _mm256_or_si256(unpack_nibbles(qs), _mm256_andnot_si256(bytes_from_bits(qh), _mm256_set1_epi8(char(0xF0))));
}

// 4 bytes at p in every 32-bit lane (the packed 8-row tiles: one token's 4 activations against 8 rows' codes).
inline __m256i broadcast4(const int8_t* p) {
    int32_t v;
    std::memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

// Makes v a register value at this point. A tile's integer sums are chains of adds; GCC reassociates long chains
// into trees whose partial products outnumber the 16 registers and spill to the stack (the Q4_K tile of 4 tokens
// stored every vpmaddubsw result). Integer sums are exact in any order, so this only pins the schedule.
inline void in_register(__m256i& v) { __asm__("" : "+x"(v)); }

// Eight f32 lanes added as ggml's AVX2 reductions do (halves, then pairs).
inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

using x86::A8KTokens;
using x86::A8Tokens;

// ---- the tiles of the packed 8-row layouts (cpu/weight_pack.h) ----

// 8 rows × NR tokens of a packed layout over blocks [b0, b1) of rows nb blocks long: w the group's first record,
// a the first token's packed activations (rows `as` bytes apart), outputs at y[t][col .. col + 7].
using Tile8 = void (*)(const uint8_t* w, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
                       float* const* y, int64_t col, bool accumulate);
inline constexpr int kTile8Tokens = 4;  // the most tokens per Tile8; tables hold tiles for 1..4

// Sweeps a GemmTile with Tile8s: groups of 8 rows outer (their records stay in L1 across tokens), tokens inner,
// tokens [0, g.n_batched) with `batched[nr - 1]`, the rest with `rest[nr - 1]`; no tile spans both.
// PRECONDITION: g.n_out % 8 == 0 (the driver splits rows at TypeKernels::row_group).
inline void sweep_tile8(const GemmTile& g, int64_t block_values, const Tile8* batched, const Tile8* rest) {
    const int64_t nb = g.n_in / block_values, b0 = g.k0 / block_values, b1 = g.k1 / block_values;
    for (int64_t o = 0; o < g.n_out; o += 8) {
        const uint8_t* w = g.w + o * g.w_stride;
        for (int64_t t = 0; t < g.n_tok;) {
            const bool is_batched = t < g.n_batched;
            const int64_t end = is_batched ? g.n_batched : g.n_tok;
            const int nr = int(end - t < kTile8Tokens ? end - t : kTile8Tokens);
            (is_batched ? batched : rest)[nr - 1](w, g.a + t * g.a_stride, g.a_stride, nb, b0, b1, g.y_rows + t,
                                                  g.y_col + o, g.accumulate);
            t += nr;
        }
    }
}

// A record's 8 f16 row scales as f32.
inline __m256 load_f16x8(const uint16_t* p) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}

// Fetches the n bytes at p into L1 (decode-sized tiles fetch records ahead themselves: short rows defeat the
// hardware prefetcher when weights stream from DRAM).
inline void prefetch_bytes(const void* p, int n) {
    for (int l = 0; l < n; l += 64) _mm_prefetch(static_cast<const char*>(p) + l, _MM_HINT_T0);
}

// Stores (or adds) 8 rows' results of one token.
inline void store8(__m256 v, float* y, bool accumulate) {
    if (accumulate) v = _mm256_add_ps(v, _mm256_loadu_ps(y));
    _mm256_storeu_ps(y, v);
}

}  // namespace
}  // namespace loom::kernels::cpu::avx2
