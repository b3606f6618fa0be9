// AVX2 tile for Q6_K weights in the load-time q6_k_x8 layout (cpu/weight_pack.h) against packed A8K (Q8_K)
// activations.
//
// Per half h and step s, three 32-byte loads (the code planes, weight_pack.h) hold 4 codes of each of 8 rows in
// each of the half's four 32-value chunks; a token's 4 matching activation bytes, broadcast to every 32-bit
// lane, meet them in one vpmaddubsw, so each row's products stay in that row's lanes and one vpmaddwd with the
// rows' group scales (each in both int16 halves of its lane) makes 8 int32 row sums. Codes are unsigned (value
// + 32); the offset is subtracted exactly through Q8_K's bsums: −32·Σ_g sc_g·bsums_g.
//
// Rounding: the recipes of the row-major Q6_K tiles (matmul_avx2_kquant.cpp), on the same integers, chosen as
// there by the call's token count:
//   tiled    8+ tokens (ggml's tiled K-quant GEMM): per super-block res = d_w·f32(Σ), y = fma(res, d_a, y). The
//            sum is one exact integer, so it is accumulated in any order: two steps of a chunk add up in int16
//            first (2·2·63·128 < 2^15), then one vpmaddwd per chunk and step pair.
//   vec_dot  fewer (ggml_vec_dot_q6_K_q8_K): 8 lanes per row, lane m holding bytes 4m..4m+3 of every chunk (step
//            s = m here) minus the offset of groups 2m, 2m+1; lane = fma(f32(lane), d_w·d_a, lane) per
//            super-block, the lanes added at the end as ggml's hsum. Here lane m of every row is one vector (the
//            rows in its lanes), so the steps are walked one at a time and each gets its own accumulator.
#include <immintrin.h>

#include "kernels/cpu/weight_pack.h"
#include "kernels/cpu/x86/avx2/avx2_util.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"

#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add beyond the explicit ones

namespace loom::kernels::cpu::avx2 {
namespace {

// Decode-sized tiles fetch the stream two records ahead themselves (as the Q4_K tile).
constexpr int kPrefetchRecords = 2;
constexpr int kPrefetchTokens = 2;

// The codes of chunk 4h + k at step s for the 8 rows: quarters 0..2 are their plane's low 6 bits; quarter 3's
// bits 2p, 2p + 1 are the top 2 of plane p (shifting 16-bit lanes is safe: the masks keep each byte's own bits).
inline __m256i codes(const Q6KX8& blk, int h, int s, int k) {
    if (k < 3) return _mm256_and_si256(load32(blk.q[h][k][s][0]), _mm256_set1_epi8(63));
    const __m256i p0 = _mm256_and_si256(_mm256_srli_epi16(load32(blk.q[h][0][s][0]), 6), _mm256_set1_epi8(3));
    const __m256i p1 = _mm256_and_si256(_mm256_srli_epi16(load32(blk.q[h][1][s][0]), 4), _mm256_set1_epi8(12));
    const __m256i p2 = _mm256_and_si256(_mm256_srli_epi16(load32(blk.q[h][2][s][0]), 2), _mm256_set1_epi8(48));
    return _mm256_or_si256(_mm256_or_si256(p0, p1), p2);
}

// A record's scales as vpmaddwd operands: pair[c] holds (sc_2c, sc_2c+1) of row r in 32-bit lane r (for the
// offset against a bsums pair), group[j][half] holds sc_2j+half in both int16 halves of lane r (for chunk j's
// products at steps 4·half .. 4·half + 3).
struct Scales {
    __m256i pair[8];
    __m256i group[8][2];
    explicit Scales(const Q6KX8& blk) {
        const __m256i dup_lo = _mm256_setr_epi8(0, 1, 0, 1, 4, 5, 4, 5, 8, 9, 8, 9, 12, 13, 12, 13, 0, 1, 0, 1, 4, 5, 4,
                                                5, 8, 9, 8, 9, 12, 13, 12, 13);
        const __m256i dup_hi = _mm256_add_epi8(dup_lo, _mm256_set1_epi8(2));
#pragma GCC unroll 8
        for (int c = 0; c < 8; ++c) {
            pair[c] = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.scales[c])));
            group[c][0] = _mm256_shuffle_epi8(pair[c], dup_lo);
            group[c][1] = _mm256_shuffle_epi8(pair[c], dup_hi);
        }
    }
};

// Q8_K's bsums of groups 2c and 2c + 1, as one int32 in every lane.
inline __m256i bsums_pair(const int16_t* bsums, int c) {
    return broadcast4(reinterpret_cast<const int8_t*>(bsums + 2 * c));
}

// 8 rows × NR tokens over super-blocks [b0, b1), the tiled recipe.
template <int NR>
void tile8_tiled(const uint8_t* w, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1, float* const* y,
                 int64_t col, bool accumulate) {
    const A8KTokens<NR> tokens(a, as, nb);
    __m256 acc[NR];
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) acc[t] = _mm256_setzero_ps();
    const auto* blocks = reinterpret_cast<const Q6KX8*>(w);
    for (int64_t b = b0; b < b1; ++b) {
        const Q6KX8& blk = blocks[b];
        const Scales sc(blk);
        __m256i isum[NR];
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) isum[t] = _mm256_setzero_si256();
        for (int h = 0; h < 2; ++h)
#pragma GCC unroll 4
            for (int k = 0; k < 4; ++k) {
                const int j = 4 * h + k;
#pragma GCC unroll 4
                for (int s = 0; s < 8; s += 2) {
                    const __m256i c0 = codes(blk, h, s, k), c1 = codes(blk, h, s + 1, k);
#pragma GCC unroll 8
                    for (int t = 0; t < NR; ++t) {
                        const int8_t* at = tokens.q[t] + 256 * b + 32 * j + 4 * s;
                        const __m256i p = _mm256_add_epi16(_mm256_maddubs_epi16(c0, broadcast4(at)),
                                                           _mm256_maddubs_epi16(c1, broadcast4(at + 4)));
                        isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, sc.group[j][s >= 4]));
                        in_register(isum[t]);
                    }
                }
            }
        const __m256 dw = load_f16x8(blk.d);
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) {
            const int16_t* bs = tokens.bsums[t] + 16 * b;
            __m256i offset = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int c = 0; c < 8; ++c)
                offset = _mm256_add_epi32(offset, _mm256_madd_epi16(sc.pair[c], bsums_pair(bs, c)));
            const __m256i sum = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(offset, 5));
            const __m256 res = _mm256_mul_ps(dw, _mm256_cvtepi32_ps(sum));
            acc[t] = _mm256_fmadd_ps(res, _mm256_set1_ps(tokens.d[t][b]), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) store8(acc[t], y[t] + col, accumulate);
}

// 8 rows × NR tokens over super-blocks [b0, b1), the vec_dot recipe: lane[t][m] is lane m of every row.
template <int NR>
void tile8_lanes(const uint8_t* w, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1, float* const* y,
                 int64_t col, bool accumulate) {
    const A8KTokens<NR> tokens(a, as, nb);
    __m256 lane[NR][8];
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t)
        for (int m = 0; m < 8; ++m) lane[t][m] = _mm256_setzero_ps();
    const auto* blocks = reinterpret_cast<const Q6KX8*>(w);
    for (int64_t b = b0; b < b1; ++b) {
        const Q6KX8& blk = blocks[b];
        if constexpr (NR <= kPrefetchTokens) {
            prefetch_bytes(&blk + kPrefetchRecords, int(sizeof(Q6KX8)));
        }
        const Scales sc(blk);
        const __m256 dw = load_f16x8(blk.d);
        __m256 scale[NR];
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) scale[t] = _mm256_mul_ps(dw, _mm256_set1_ps(tokens.d[t][b]));
#pragma GCC unroll 8
        for (int m = 0; m < 8; ++m) {
            __m256i isum[NR];
#pragma GCC unroll 8
            for (int t = 0; t < NR; ++t) isum[t] = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int j = 0; j < 8; ++j) {
                const __m256i c = codes(blk, j / 4, m, j % 4);
#pragma GCC unroll 8
                for (int t = 0; t < NR; ++t) {
                    const __m256i p = _mm256_maddubs_epi16(c, broadcast4(tokens.q[t] + 256 * b + 32 * j + 4 * m));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_madd_epi16(p, sc.group[j][m >= 4]));
                    in_register(isum[t]);
                }
            }
#pragma GCC unroll 8
            for (int t = 0; t < NR; ++t) {
                const __m256i offset = _mm256_madd_epi16(sc.pair[m], bsums_pair(tokens.bsums[t] + 16 * b, m));
                const __m256i sum = _mm256_sub_epi32(isum[t], _mm256_slli_epi32(offset, 5));
                lane[t][m] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), scale[t], lane[t][m]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
        const __m256* l = lane[t];
        // ggml's hsum order on each row's 8 lanes: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
        store8(_mm256_add_ps(_mm256_add_ps(_mm256_add_ps(l[0], l[4]), _mm256_add_ps(l[2], l[6])),
                             _mm256_add_ps(_mm256_add_ps(l[1], l[5]), _mm256_add_ps(l[3], l[7]))),
               y[t] + col, accumulate);
    }
}

constexpr Tile8 kTiled[kTile8Tokens] = {tile8_tiled<1>, tile8_tiled<2>, tile8_tiled<3>, tile8_tiled<4>};
constexpr Tile8 kLanes[kTile8Tokens] = {tile8_lanes<1>, tile8_lanes<2>, tile8_lanes<3>, tile8_lanes<4>};

}  // namespace

// The recipe is the row-major tiles' for the whole call (by its token count).
void gemm_q6_k_x8(const GemmTile& g) {
    const Tile8* tiles = g.call_tokens >= 8 ? kTiled : kLanes;
    sweep_tile8(g, 256, tiles, tiles);
}

}  // namespace loom::kernels::cpu::avx2
