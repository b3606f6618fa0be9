// AVX2 tiles for the 256-value super-block types (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS) against packed A8K
// (Q8_K) activations.
//
// Sub-block scales are small integers, so a whole super-block accumulates in int32: per 32-value chunk and
// pair (row, token), vpmaddubsw(codes, a) then vpmaddwd with the chunk's int16 scales (lanes 0–7 and 8–15 carry
// the two 16-value sub-blocks' scales where sub-blocks are 16 long) — no f32 work inside the super-block.
// Codes are unsigned; an offset on the codes (Q6_K: −32, Q3_K: −4) is subtracted exactly through Q8_K's bsums
// (−offset·Σ_g scale_g·bsums_g), the mins of Q2_K/Q4_K/Q5_K likewise but scaled by dmin in f32, as in the
// reference. IQ4_XS codes are signed table values and use |w|, sign(a, w).
//
// Rounding follows llama.cpp's CPU backend (AVX2) bit for bit where loom's goldens reach, choosing per call what
// llama.cpp would run (Recipe, chosen in gemm()):
//   tiled        8+ tokens, Q4_K (not repacked) / Q5_K / Q6_K: ggml's tiled K-quant GEMM (ggml-cpu/tiled): per
//                super-block res = d_w·f32(Σ) (− dmin·f32(Σ mins)), then y = fma(res, d_a, y)
//   repack_gemm  Q4_K with rows in multiples of 8 (repacked), the token groups of 4: per 64-value pair,
//                y = fma(f32(Σ), d_w·d_a, y), the mins in a second sum subtracted at the end
//   repack_gemv  the same matrices, the last n % 4 tokens: per super-block, likewise
//   vec_dot      otherwise (ggml_vec_dot_*_q8_K): 8 int32 lanes of 4-product sums, lane = fma(f32(lane), d_w·d_a,
//                lane), lanes added at the end; Q4_K's mins in four lanes scaled by −d_a·dmin, added after
// Q2_K, Q3_K, Q5_K (below 8 tokens) and IQ4_XS are not mirrored: their sums are exact, their f32 order is loom's.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "formats/quant_layout.h"
#include "kernels/cpu/x86/avx2/avx2_util.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"
#include "kernels/cpu/x86/kquant_scales.h"

namespace loom::kernels::cpu::avx2 {
namespace {

// Which of llama.cpp's kernels a call mirrors (see the top of this file and gemm()).
enum class Recipe { vec_dot, repack_gemv, repack_gemm, tiled };

inline int32_t hsum_i32(__m256i v) {
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_unpackhi_epi64(s, s));
    return _mm_cvtsi128_si32(_mm_add_epi32(s, _mm_shuffle_epi32(s, 1)));
}

// What a decoder prepares per row and super-block, all in registers (scalar stores read back as vectors
// would defeat store forwarding): the scale of each 16-value group g as int16 lane g of `scales` (32-value
// sub-blocks fill two lanes), per group either an integer bias weight (added as Σ bias_g·bsums_g to the
// integer sum) or a min (scaled by dmin in f32), and the f16 scales.
struct Prep {
    __m256i scales;
    __m256i group;
    float d;
    float dmin;
};

// Chunk j (values 32j .. 32j+31) meets groups 2j (lanes 0–7 of a vpmaddubsw result) and 2j+1 (lanes 8–15).
inline __m256i chunk_scale(__m256i scales, int j) {
    const __m256i pair = _mm256_permutevar8x32_epi32(scales, _mm256_set1_epi32(j));
    return _mm256_shuffle_epi8(pair, _mm256_setr_epi8(0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 2, 3, 2, 3, 2, 3,
                                                      2, 3, 2, 3, 2, 3, 2, 3, 2, 3));
}

// Eight bytes (one per 32-value sub-block) -> 16 int16 lanes, each value twice.
inline __m256i dup8_u8(uint64_t bytes) {
    const __m128i x = _mm_cvtepu8_epi16(_mm_cvtsi64_si128(int64_t(bytes)));
    return _mm256_set_m128i(_mm_unpackhi_epi16(x, x), _mm_unpacklo_epi16(x, x));
}
inline __m256i dup8_i8(uint64_t bytes) {
    const __m128i x = _mm_cvtepi8_epi16(_mm_cvtsi64_si128(int64_t(bytes)));
    return _mm256_set_m128i(_mm_unpackhi_epi16(x, x), _mm_unpacklo_epi16(x, x));
}

using x86::scale_min_k4;

// ---- decoders ---------------------------------------------------------------------------------------------
// kBias: `group` holds integer bias weights; kMins: `group` holds mins (times dmin); kSigned: codes are signed.

struct Q2_K {
    static constexpr bool kPair = false;
    static constexpr int kBytes = 84;
    static constexpr bool kWholeBlocks = true;
    static constexpr bool kTiled = false, kRepacked = false;
    static constexpr bool kBias = false, kMins = true, kSigned = false;
    static void prepare(const uint8_t* b, Prep& p) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b));
        const __m128i m = _mm_set1_epi8(15);
        p.scales = _mm256_cvtepu8_epi16(_mm_and_si128(x, m));
        p.group = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(x, 4), m));
        p.d = f16_at(b + 80);
        p.dmin = f16_at(b + 82);
    }
    // Chunk j = 4h + s: bits 2s..2s+1 of qs[32h .. 32h+31].
    static __m256i codes(const uint8_t* b, int j) {
        const __m256i q = load32(b + 16 + 32 * (j / 4));
        return _mm256_and_si256(_mm256_srli_epi16(q, 2 * (j % 4)), _mm256_set1_epi8(3));
    }
};

struct Q3_K {
    static constexpr bool kPair = false;
    static constexpr int kBytes = 110;
    static constexpr bool kWholeBlocks = true;
    static constexpr bool kTiled = false, kRepacked = false;
    static constexpr bool kBias = true, kMins = false, kSigned = false;
    // 16 six-bit scales, offset 32 (formats §2.4): low nibbles from bytes 0–7 (low then high nibbles), top two
    // bits from bytes 8–11, two bits per group of four.
    static void prepare(const uint8_t* b, Prep& p) {
        uint64_t lo8;
        uint32_t h;
        std::memcpy(&lo8, b + 96, 8);
        std::memcpy(&h, b + 104, 4);
        const __m128i m4 = _mm_set1_epi8(15), m2 = _mm_set1_epi8(3);
        const __m128i x = _mm_cvtsi64_si128(int64_t(lo8));
        const __m128i lo = _mm_unpacklo_epi64(_mm_and_si128(x, m4), _mm_and_si128(_mm_srli_epi16(x, 4), m4));
        const __m128i hi = _mm_and_si128(_mm_setr_epi32(int(h), int(h >> 2), int(h >> 4), int(h >> 6)), m2);
        const __m128i sc = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
        p.scales = _mm256_cvtepi8_epi16(sc);
        p.group = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(p.scales, 2));  // codes are value + 4
        p.d = f16_at(b + 108);
        p.dmin = 0.f;
    }
    // Chunk j = 4h + s: low bits 2s..2s+1 of qs[32h + l], high bit 4h+s of hmask[l] (set: +4). Code 0..7.
    static __m256i codes(const uint8_t* b, int j) {
        const __m256i lo =
            _mm256_and_si256(_mm256_srli_epi16(load32(b + 32 + 32 * (j / 4)), 2 * (j % 4)), _mm256_set1_epi8(3));
        const __m256i bit = _mm256_set1_epi8(char(1 << j));
        const __m256i hi = _mm256_cmpeq_epi8(_mm256_and_si256(load32(b), bit), bit);
        return _mm256_or_si256(lo, _mm256_and_si256(hi, _mm256_set1_epi8(4)));
    }
};

struct Q4_K {
    static constexpr bool kPair = true;
    static constexpr int kBytes = 144;
    static constexpr bool kWholeBlocks = false;
    static constexpr bool kTiled = true, kRepacked = true;
    static constexpr bool kBias = false, kMins = true, kSigned = false;
    static void prepare(const uint8_t* b, Prep& p) {
        uint64_t sc, mn;
        scale_min_k4(b + 4, &sc, &mn);
        p.scales = dup8_u8(sc);
        p.group = dup8_u8(mn);
        p.d = f16_at(b);
        p.dmin = f16_at(b + 2);
    }
    // Chunk j: nibble j%2 of qs[32(j/2) .. +31].
    static __m256i codes(const uint8_t* b, int j) {
        const __m256i q = load32(b + 16 + 32 * (j / 2));
        return _mm256_and_si256(j % 2 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(15));
    }
    // Chunks 2c and 2c+1 as 16-byte halves (values 0–15, 16–31): c[0], c[1] for 2c; c[2], c[3] for 2c+1.
    static void codes_pair(const uint8_t* b, int c, __m128i q[4]) {
        const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 + 32 * c));
        const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16 + 32 * c + 16));
        const __m128i m = _mm_set1_epi8(15);
        q[0] = _mm_and_si128(x0, m);
        q[1] = _mm_and_si128(x1, m);
        q[2] = _mm_and_si128(_mm_srli_epi16(x0, 4), m);
        q[3] = _mm_and_si128(_mm_srli_epi16(x1, 4), m);
    }
};

struct Q5_K {
    static constexpr bool kPair = true;
    static constexpr int kBytes = 176;
    static constexpr bool kWholeBlocks = true;
    static constexpr bool kTiled = true, kRepacked = false;
    static constexpr bool kBias = false, kMins = true, kSigned = false;
    static void prepare(const uint8_t* b, Prep& p) { Q4_K::prepare(b, p); }
    // As Q4_K (qs at 48) plus bit j of qh[l] as 16.
    static __m256i codes(const uint8_t* b, int j) {
        const __m256i q = load32(b + 48 + 32 * (j / 2));
        const __m256i lo = _mm256_and_si256(j % 2 ? _mm256_srli_epi16(q, 4) : q, _mm256_set1_epi8(15));
        const __m256i bit = _mm256_set1_epi8(char(1 << j));
        const __m256i hi = _mm256_cmpeq_epi8(_mm256_and_si256(load32(b + 16), bit), bit);
        return _mm256_or_si256(lo, _mm256_and_si256(hi, _mm256_set1_epi8(16)));
    }
    static void codes_pair(const uint8_t* b, int c, __m128i q[4]) {
        const __m128i x0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 48 + 32 * c));
        const __m128i x1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 48 + 32 * c + 16));
        const __m128i h0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 16));
        const __m128i h1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 32));
        const __m128i m = _mm_set1_epi8(15), sixteen = _mm_set1_epi8(16);
        const __m128i b0 = _mm_set1_epi8(char(1 << (2 * c))), b1 = _mm_set1_epi8(char(1 << (2 * c + 1)));
        auto high = [&](__m128i h, __m128i bit) {
            return _mm_and_si128(_mm_cmpeq_epi8(_mm_and_si128(h, bit), bit), sixteen);
        };
        q[0] = _mm_or_si128(_mm_and_si128(x0, m), high(h0, b0));
        q[1] = _mm_or_si128(_mm_and_si128(x1, m), high(h1, b0));
        q[2] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(x0, 4), m), high(h0, b1));
        q[3] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(x1, 4), m), high(h1, b1));
    }
};

struct Q6_K {
    static constexpr bool kPair = false;
    static constexpr int kBytes = 210;
    static constexpr bool kWholeBlocks = false;
    static constexpr bool kTiled = true, kRepacked = false;
    static constexpr bool kBias = true, kMins = false, kSigned = false;
    static void prepare(const uint8_t* b, Prep& p) {
        p.scales = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 192)));
        p.group = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(p.scales, 5));  // codes are value + 32
        p.d = f16_at(b + 208);
        p.dmin = 0.f;
    }
    // Chunk j = 4h + k: nibble (k >= 2) of ql[64h + 32(k&1) + l], bits 2k..2k+1 of qh[32h + l] as bits 4..5.
    static __m256i codes(const uint8_t* b, int j) {
        const int h = j / 4, k = j % 4;
        const __m256i ql = load32(b + 64 * h + 32 * (k & 1));
        const __m256i lo = _mm256_and_si256(k >= 2 ? _mm256_srli_epi16(ql, 4) : ql, _mm256_set1_epi8(15));
        const __m256i qh = load32(b + 128 + 32 * h);
        // Move bits 2k..2k+1 to 4..5: shifting 16-bit lanes is safe because the mask keeps each byte's own bits.
        const __m256i hs = k == 0   ? _mm256_slli_epi16(qh, 4)
                           : k == 1 ? _mm256_slli_epi16(qh, 2)
                           : k == 2 ? qh
                                    : _mm256_srli_epi16(qh, 2);
        return _mm256_or_si256(lo, _mm256_and_si256(hs, _mm256_set1_epi8(0x30)));
    }
};

struct IQ4_XS {
    static constexpr bool kPair = false;
    static constexpr int kBytes = 136;
    static constexpr bool kWholeBlocks = true;
    static constexpr bool kTiled = false, kRepacked = false;
    static constexpr bool kBias = false, kMins = false, kSigned = true;
    // ls_k: low nibble k of scales_l (byte k/2), top two bits from bits 2k..2k+1 of scales_h (spread with pdep).
    static void prepare(const uint8_t* b, Prep& p) {
        uint16_t sh;
        uint32_t sl;
        std::memcpy(&sh, b + 2, 2);
        std::memcpy(&sl, b + 4, 4);
        const __m128i l = _mm_cvtsi32_si128(int(sl));
        const __m128i m4 = _mm_set1_epi8(15);
        const __m128i lo = _mm_unpacklo_epi8(_mm_and_si128(l, m4), _mm_and_si128(_mm_srli_epi16(l, 4), m4));
        const __m128i hi = _mm_cvtsi64_si128(int64_t(_pdep_u64(sh, 0x0303030303030303ull)));
        const __m128i ls = _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(hi, 4)), _mm_set1_epi8(32));
        p.scales = dup8_i8(uint64_t(_mm_cvtsi128_si64(ls)));
        p.group = _mm256_setzero_si256();
        p.d = f16_at(b);
        p.dmin = 0.f;
    }
    // Chunk j: the 16 bytes qs[16j ..] as low nibbles then high nibbles, through the IQ4 table.
    static __m256i codes(const uint8_t* b, int j) {
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 8 + 16 * j));
        const __m128i m = _mm_set1_epi8(15);
        const __m256i idx = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(x, 4), m), _mm_and_si128(x, m));
        const __m128i k = _mm_loadu_si128(reinterpret_cast<const __m128i*>(formats::kIq4NlValues));
        return _mm256_shuffle_epi8(_mm256_set_m128i(k, k), idx);
    }
};

// The integer product of one chunk for one (row, token) pair: Σ scale·code·a over the chunk, 8 int32 lanes.
template <class D>
inline __m256i chunk_dot(__m256i code, __m256i av, __m256i sv) {
    if constexpr (D::kSigned)
        return _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(code, code), _mm256_sign_epi8(av, code)), sv);
    return _mm256_madd_epi16(_mm256_maddubs_epi16(code, av), sv);
}

// Four rows' int32 vectors folded into one: 32-bit slot r of each 128-bit half holds part of row r's sum.
inline __m256i fold4_i32(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
    const __m256i t01 = _mm256_add_epi32(_mm256_unpacklo_epi32(s0, s1), _mm256_unpackhi_epi32(s0, s1));
    const __m256i t23 = _mm256_add_epi32(_mm256_unpacklo_epi32(s2, s3), _mm256_unpackhi_epi32(s2, s3));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(t01, t23), _mm256_unpackhi_epi64(t01, t23));
}
inline __m128 halves(__m256i v) {
    return _mm_cvtepi32_ps(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

// The main tile: 4 rows × NR tokens (NR = 1 is decode's matvec). Per chunk, row and token one vpmaddubsw and
// one vpmaddwd (with the chunk's scales) into an int32 sum; per super-block the four rows' sums of a token are
// folded into one vector (slot r = row r), so the f32 scaling and the bias or mins (through bsums) cost a few
// instructions for all four rows. Q4_K/Q5_K multiply 16-value halves in 128-bit registers and let two chunks
// share one vpmaddwd (see kPair).
// R: repack_gemv (also the unmirrored types), repack_gemm (the f32 sums take each 64-value pair of sub-blocks
// separately), tiled.
template <class D, int NR, Recipe R>
void tile4(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
           float* const* y, int64_t col, bool accumulate) {
    const A8KTokens<NR> tokens(a, as, nb);
    const auto& aq = tokens.q;
    const auto& ad = tokens.d;
    const auto& absum = tokens.bsums;
    // Sums and mins in separate accumulators, subtracted at the end: ggml_gemm/gemv_q4_K_8x8_q8_K's rounding.
    __m128 acc[NR], acc_min[NR];
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) acc[t] = acc_min[t] = _mm_setzero_ps();
    // The next 4-row group, fetched ahead at the pace this group is read (rows are too short for the hardware
    // prefetcher to ramp up on each one when weights stream from DRAM).
    const uint8_t* next = w + 4 * ws;
    for (int64_t b = b0; b < b1; ++b) {
        const uint8_t* wb = w + b * D::kBytes;
        for (int l = 0; l < 4 * D::kBytes; l += 64)
            _mm_prefetch(reinterpret_cast<const char*>(next + (b - b0) * 4 * D::kBytes + l), _MM_HINT_T0);
        Prep p[4];
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) D::prepare(wb + r * ws, p[r]);
        __m256i isum[4][NR];
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r)
#pragma GCC unroll 8
            for (int t = 0; t < NR; ++t) isum[r][t] = _mm256_setzero_si256();
        if constexpr (D::kPair) {
            // 32-value sub-blocks and codes below 32: a chunk's two 16-value halves are multiplied in 128-bit
            // registers and added in int16 (2·2·31·127 < 2^15), and two chunks share one vpmaddwd, whose
            // scale vector carries sc_2c in its low half and sc_2c+1 in its high half.
#pragma GCC unroll 4
            for (int c = 0; c < 4; ++c) {
                const __m256i idx =
                    _mm256_setr_epi32(2 * c, 2 * c, 2 * c, 2 * c, 2 * c + 1, 2 * c + 1, 2 * c + 1, 2 * c + 1);
#pragma GCC unroll 4
                for (int r = 0; r < 4; ++r) {
                    __m128i q[4];
                    D::codes_pair(wb + r * ws, c, q);
                    const __m256i sv = _mm256_permutevar8x32_epi32(p[r].scales, idx);
#pragma GCC unroll 8
                    for (int t = 0; t < NR; ++t) {
                        const auto* ap = reinterpret_cast<const __m128i*>(aq[t] + 256 * b + 64 * c);
                        const __m128i pj = _mm_add_epi16(_mm_maddubs_epi16(q[0], _mm_load_si128(ap)),
                                                         _mm_maddubs_epi16(q[1], _mm_load_si128(ap + 1)));
                        const __m128i pk = _mm_add_epi16(_mm_maddubs_epi16(q[2], _mm_load_si128(ap + 2)),
                                                         _mm_maddubs_epi16(q[3], _mm_load_si128(ap + 3)));
                        isum[r][t] = _mm256_add_epi32(isum[r][t], _mm256_madd_epi16(_mm256_set_m128i(pk, pj), sv));
                        in_register(isum[r][t]);
                    }
                }
                if constexpr (R == Recipe::repack_gemm) {
                    const __m128 dw = _mm_setr_ps(p[0].d, p[1].d, p[2].d, p[3].d);
#pragma GCC unroll 8
                    for (int t = 0; t < NR; ++t) {
                        acc[t] = _mm_fmadd_ps(halves(fold4_i32(isum[0][t], isum[1][t], isum[2][t], isum[3][t])),
                                              _mm_mul_ps(dw, _mm_set1_ps(ad[t][b])), acc[t]);
#pragma GCC unroll 4
                        for (int r = 0; r < 4; ++r) isum[r][t] = _mm256_setzero_si256();
                    }
                }
            }
            if constexpr (R == Recipe::repack_gemm) {
                // The mins of the four pairs, in pair order into their own sum (so after the pairs' sums: the
                // two accumulators are independent). Pair c of row r: sub-blocks 2c, 2c + 1, i.e. int32 lanes
                // 2c, 2c + 1 of madd(bsums, mins); the 4 × 4 (row, pair) values are transposed to pair vectors.
                const __m128 dm = _mm_setr_ps(p[0].dmin, p[1].dmin, p[2].dmin, p[3].dmin);
#pragma GCC unroll 8
                for (int t = 0; t < NR; ++t) {
                    const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(absum[t] + 16 * b));
                    __m128 pr[4];
#pragma GCC unroll 4
                    for (int r = 0; r < 4; ++r) {
                        const __m256i m = _mm256_madd_epi16(bs, p[r].group);
                        pr[r] =
                            _mm_cvtepi32_ps(_mm_hadd_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1)));
                    }
                    _MM_TRANSPOSE4_PS(pr[0], pr[1], pr[2], pr[3]);
                    const __m128 scale = _mm_mul_ps(dm, _mm_set1_ps(ad[t][b]));
#pragma GCC unroll 4
                    for (int c = 0; c < 4; ++c) acc_min[t] = _mm_fmadd_ps(pr[c], scale, acc_min[t]);
                }
            }
            if constexpr (R == Recipe::repack_gemm) continue;
        } else {
#pragma GCC unroll 8
            for (int j = 0; j < 8; ++j) {
#pragma GCC unroll 4
                for (int r = 0; r < 4; ++r) {
                    const __m256i code = D::codes(wb + r * ws, j);
                    const __m256i sv = chunk_scale(p[r].scales, j);
#pragma GCC unroll 8
                    for (int t = 0; t < NR; ++t) {
                        const __m256i av =
                            _mm256_load_si256(reinterpret_cast<const __m256i*>(aq[t] + 256 * b + 32 * j));
                        isum[r][t] = _mm256_add_epi32(isum[r][t], chunk_dot<D>(code, av, sv));
                        in_register(isum[r][t]);
                        in_register(isum[r][t]);
                    }
                }
            }
        }
        const __m128 dw = _mm_setr_ps(p[0].d, p[1].d, p[2].d, p[3].d);
        const __m128 dm = _mm_setr_ps(p[0].dmin, p[1].dmin, p[2].dmin, p[3].dmin);
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) {
            const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(absum[t] + 16 * b));
            if constexpr (D::kBias) {
#pragma GCC unroll 4
                for (int r = 0; r < 4; ++r)
                    isum[r][t] = _mm256_add_epi32(isum[r][t], _mm256_madd_epi16(bs, p[r].group));
            }
            const __m128 da = _mm_set1_ps(ad[t][b]);
            const __m128 sums = halves(fold4_i32(isum[0][t], isum[1][t], isum[2][t], isum[3][t]));
            __m128 mins = _mm_setzero_ps();
            if constexpr (D::kMins)
                mins = halves(fold4_i32(_mm256_madd_epi16(bs, p[0].group), _mm256_madd_epi16(bs, p[1].group),
                                        _mm256_madd_epi16(bs, p[2].group), _mm256_madd_epi16(bs, p[3].group)));
            if constexpr (R == Recipe::tiled) {
                __m128 res = _mm_mul_ps(dw, sums);
                if constexpr (D::kMins) res = _mm_fnmadd_ps(dm, mins, res);
                acc[t] = _mm_fmadd_ps(res, da, acc[t]);
            } else {
                acc[t] = _mm_fmadd_ps(sums, _mm_mul_ps(dw, da), acc[t]);
                if constexpr (D::kMins) acc_min[t] = _mm_fmadd_ps(mins, _mm_mul_ps(dm, da), acc_min[t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
        float* yr = y[t] + col;
        __m128 v = D::kMins && R != Recipe::tiled ? _mm_sub_ps(acc[t], acc_min[t]) : acc[t];
        if (accumulate) v = _mm_add_ps(v, _mm_loadu_ps(yr));
        _mm_storeu_ps(yr, v);
    }
}

// One MR × NR tile over super-blocks [b0, b1). nb: super-blocks in a full row (the packed layout's geometry).
// R: vec_dot (the lanes kept in f32) or tiled (one f32 sum).
template <class D, int MR, int NR, Recipe R>
void tile(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
          float* const* y, int64_t col, bool accumulate) {
    const A8KTokens<NR> tokens(a, as, nb);
    const auto& aq = tokens.q;
    const auto& ad = tokens.d;
    const auto& abs_ = tokens.bsums;
    // f32 sums live in memory: they change once per super-block, and the registers belong to the int32 sums.
    alignas(32) float accf[MR][NR][8] = {};
    // Q4_K's mins as ggml_vec_dot_q4_K_q8_K: four lanes (pairs of sub-blocks) scaled by −d_a·dmin.
    alignas(16) float accm[MR][NR][4] = {};
    constexpr bool kMinLanes = D::kMins && D::kRepacked && R == Recipe::vec_dot;

    for (int64_t b = b0; b < b1; ++b) {
        const uint8_t* wb = w + b * D::kBytes;
        Prep prep[MR];
        for (int r = 0; r < MR; ++r) D::prepare(wb + r * ws, prep[r]);
        __m256i isum[MR][NR];
        for (int r = 0; r < MR; ++r)
            for (int t = 0; t < NR; ++t) isum[r][t] = _mm256_setzero_si256();
        for (int j = 0; j < 8; ++j) {
            for (int r = 0; r < MR; ++r) {
                const __m256i code = D::codes(wb + r * ws, j);
                const __m256i sv = chunk_scale(prep[r].scales, j);
                for (int t = 0; t < NR; ++t) {
                    const __m256i av = _mm256_load_si256(reinterpret_cast<const __m256i*>(aq[t] + 256 * b + 32 * j));
                    isum[r][t] = _mm256_add_epi32(isum[r][t], chunk_dot<D>(code, av, sv));
                    in_register(isum[r][t]);
                }
            }
        }
        for (int t = 0; t < NR; ++t) {
            const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(abs_[t] + 16 * b));
            const float da = ad[t][b];
            for (int r = 0; r < MR; ++r) {
                __m256i s = isum[r][t];
                if constexpr (D::kBias) s = _mm256_add_epi32(s, _mm256_madd_epi16(bs, prep[r].group));
                if constexpr (R == Recipe::tiled) {
                    float res = prep[r].d * float(hsum_i32(s));
                    if constexpr (D::kMins)
                        res = __builtin_fmaf(-prep[r].dmin, float(hsum_i32(_mm256_madd_epi16(bs, prep[r].group))), res);
                    accf[r][t][0] = __builtin_fmaf(res, da, accf[r][t][0]);
                    continue;
                }
                __m256 f = _mm256_load_ps(accf[r][t]);
                f = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_set1_ps(prep[r].d * da), f);
                if constexpr (kMinLanes) {
                    const __m256i m = _mm256_madd_epi16(bs, prep[r].group);  // lane l: sub-block l's min·Σa
                    const __m128i pairs = _mm_hadd_epi32(_mm256_castsi256_si128(m), _mm256_extracti128_si256(m, 1));
                    _mm_store_ps(accm[r][t], _mm_fmadd_ps(_mm_set1_ps(-da * prep[r].dmin), _mm_cvtepi32_ps(pairs),
                                                          _mm_load_ps(accm[r][t])));
                } else if constexpr (D::kMins) {
                    f = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(bs, prep[r].group)),
                                         _mm256_set1_ps(prep[r].dmin * da), f);
                }
                _mm256_store_ps(accf[r][t], f);
            }
        }
    }
    for (int t = 0; t < NR; ++t) {
        float* yr = y[t] + col;
        for (int r = 0; r < MR; ++r) {
            float v;
            if constexpr (R == Recipe::tiled) {
                v = accf[r][t][0];
            } else {
                v = hsum(_mm256_load_ps(accf[r][t]));
                if constexpr (kMinLanes) {
                    const float* m = accm[r][t];
                    v += (m[0] + m[2]) + (m[1] + m[3]);
                }
            }
            yr[r] = accumulate ? yr[r] + v : v;
        }
    }
}

using TileFn = void (*)(const uint8_t*, int64_t, const uint8_t*, int64_t, int64_t, int64_t, int64_t, float* const*,
                        int64_t, bool);

template <class D, int MR, int NR, Recipe R, int... I>
const TileFn* tile_table(std::integer_sequence<int, I...>) {
    static constexpr TileFn kTable[] = {&tile<D, I / NR + 1, I % NR + 1, R>...};
    return kTable;
}

template <class D, int NR, Recipe R, int... I>
const TileFn* tile4_table(std::integer_sequence<int, I...>) {
    static constexpr TileFn kTable[] = {&tile4<D, I + 1, R>...};
    return kTable;
}

// 4-row groups outer (their blocks stay in L1), tokens inner; a last group of 1–3 rows takes the generic tile.
// The recipe is llama.cpp's for the whole call (see the top of the file); for repacked Q4_K the batched tokens
// and the single-token tail differ, and no tile spans both.
template <class D, int NR>
void gemm(const GemmTile& g) {
    constexpr int MR = 4;
    constexpr auto seq = std::make_integer_sequence<int, MR * NR>();
    constexpr auto seq4 = std::make_integer_sequence<int, NR>();
    const bool repacked = D::kRepacked && g.repackable && g.call_rows % 8 == 0;
    const bool tiled = D::kTiled && !repacked && g.call_tokens >= 8;
    const TileFn* table =
        tiled ? tile_table<D, MR, NR, Recipe::tiled>(seq) : tile_table<D, MR, NR, Recipe::vec_dot>(seq);
    const TileFn* t4_tail =
        tiled ? tile4_table<D, NR, Recipe::tiled>(seq4) : tile4_table<D, NR, Recipe::repack_gemv>(seq4);
    const TileFn* t4_batch = tile4_table<D, NR, Recipe::repack_gemm>(seq4);
    const bool use4 = tiled || repacked || D::kWholeBlocks;
    const int64_t n_batched = repacked ? g.n_batched : 0;
    const int64_t nb = g.n_in / 256, b0 = g.k0 / 256, b1 = g.k1 / 256;
    for (int64_t o = 0; o < g.n_out; o += MR) {
        const int mr = int(g.n_out - o < MR ? g.n_out - o : MR);
        for (int64_t t = 0; t < g.n_tok;) {
            const int64_t end = t < n_batched ? n_batched : g.n_tok;
            const int nr = int(end - t < NR ? end - t : NR);
            const TileFn* t4 = t < n_batched ? t4_batch : t4_tail;
            TileFn fn = mr == MR && use4 ? t4[nr - 1] : table[(mr - 1) * NR + (nr - 1)];
            if constexpr (std::is_same_v<D, Q6_K>)
                if (!tiled && mr == MR && nr == 1)
                    fn = tile_q6k_row4;  // matmul_avx2_q6k_decode.cpp  // decode: the vec_dot recipe, faster layout
            fn(g.w + o * g.w_stride, g.w_stride, g.a + t * g.a_stride, g.a_stride, nb, b0, b1, g.y_rows + t,
               g.y_col + o, g.accumulate);
            t += nr;
        }
    }
}

}  // namespace

void gemm_q2_k(const GemmTile& g) { gemm<Q2_K, 3>(g); }
void gemm_q3_k(const GemmTile& g) { gemm<Q3_K, 3>(g); }
void gemm_q4_k(const GemmTile& g) { gemm<Q4_K, 3>(g); }
void gemm_q5_k(const GemmTile& g) { gemm<Q5_K, 3>(g); }
void gemm_q6_k(const GemmTile& g) { gemm<Q6_K, 3>(g); }
void gemm_iq4_xs(const GemmTile& g) { gemm<IQ4_XS, 3>(g); }

}  // namespace loom::kernels::cpu::avx2
