// AVX2 tile for Q4_K weights in the load-time q4_k_x8 layout (cpu/weight_pack.h) against packed A8K (Q8_K)
// activations.
//
// One 32-byte load holds 4 code bytes of each of 8 rows: its low nibbles are 4 values of sub-block 2c, its high
// nibbles 4 values of sub-block 2c + 1. A token's 4 matching activation bytes, broadcast to every 32-bit lane,
// meet them in one vpmaddubsw, so each row's products stay in that row's lanes: over a sub-block's 8 steps they
// add up in int16 (8·2·15·128 < 2^15), one vpmaddwd with the rows' scales (each in both int16 halves of its
// lane) turns them into 8 int32 row sums. Rows never need folding, scales are read once per 8 rows for every
// token, and a step costs 3 instructions per token (broadcast, multiply, add).
//
// Rounding: the recipes of the row-major Q4_K tile (matmul_avx2_kquant.cpp, which mirrors ggml's repacked
// gemm/gemv_q4_K_8x8_q8_K), on the same integers: tokens [0, n_batched) add each 64-value pair's f32 sum,
// y = fma(f32(Σ), d_w·d_a, y), the rest one sum per super-block; the mins go to a second sum (per pair, or per
// super-block), subtracted at the end. Every integer sum is exact however ordered, so both tiles give the same bits.
#include <immintrin.h>

#include "kernels/cpu/weight_pack.h"
#include "kernels/cpu/x86/avx2/avx2_util.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"

#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add beyond the explicit ones

namespace loom::kernels::cpu::avx2 {
namespace {

// Eight row scales (bytes) as int16 pairs: 32-bit lane r holds scale r in both halves, for vpmaddwd.
inline __m256i scale_pairs(const uint8_t* s8) {
    const __m256i v = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(s8)));
    return _mm256_or_si256(v, _mm256_slli_epi32(v, 16));
}

// Decode-sized tiles (1–2 tokens, bandwidth-bound) fetch the stream two records ahead themselves: measured on
// Zen 1, 10–20% faster than leaving it to the hardware prefetcher (matmul_bench matvec, 2 threads).
constexpr int kPrefetchRecords = 2;
constexpr int kPrefetchTokens = 2;

// 8 rows × NR tokens over super-blocks [b0, b1). kPairs: the batched recipe (f32 sums per 64-value pair), else the
// single-token one (per super-block).
template <int NR, bool kPairs>
void tile8(const uint8_t* w, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1, float* const* y,
           int64_t col, bool accumulate) {
    const A8KTokens<NR> tokens(a, as, nb);
    const auto& aq = tokens.q;
    const auto& ad = tokens.d;
    const auto& absum = tokens.bsums;
    __m256 acc[NR], acc_min[NR];
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) acc[t] = acc_min[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15);
    const __m256i ones = _mm256_set1_epi16(1);
    const auto* blocks = reinterpret_cast<const Q4KX8*>(w);
    for (int64_t b = b0; b < b1; ++b) {
        const Q4KX8& blk = blocks[b];
        if constexpr (NR <= kPrefetchTokens) {
            prefetch_bytes(&blk + kPrefetchRecords, int(sizeof(Q4KX8)));
        }
        const __m256 dw = load_f16x8(blk.d);
        const __m256 dm = load_f16x8(blk.dmin);
        __m256i isum[NR];
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) isum[t] = _mm256_setzero_si256();
        for (int c = 0; c < 4; ++c) {
            // kChains interleaved int16 sums per half: with few tokens the adds' dependency chains, not the
            // multiplies, would set the pace.
            constexpr int kChains = NR <= 2 ? 2 : 1;
            __m256i plo[kChains][NR], phi[kChains][NR];
#pragma GCC unroll 8
            for (int t = 0; t < NR; ++t)
                for (int k = 0; k < kChains; ++k) plo[k][t] = phi[k][t] = _mm256_setzero_si256();
            const int64_t at = 256 * b + 64 * c;
#pragma GCC unroll 8
            for (int s = 0; s < 8; ++s) {
                const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs[c][s]));
                const __m256i lo = _mm256_and_si256(q, m4);
                const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
                const int k = s % kChains;
#pragma GCC unroll 8
                for (int t = 0; t < NR; ++t) {
                    plo[k][t] = _mm256_add_epi16(plo[k][t], _mm256_maddubs_epi16(lo, broadcast4(aq[t] + at + 4 * s)));
                    phi[k][t] =
                        _mm256_add_epi16(phi[k][t], _mm256_maddubs_epi16(hi, broadcast4(aq[t] + at + 32 + 4 * s)));
                    in_register(plo[k][t]);
                    in_register(phi[k][t]);
                }
            }
            if constexpr (kChains == 2) {
#pragma GCC unroll 8
                for (int t = 0; t < NR; ++t) {
                    plo[0][t] = _mm256_add_epi16(plo[0][t], plo[1][t]);
                    phi[0][t] = _mm256_add_epi16(phi[0][t], phi[1][t]);
                }
            }
            const __m256i sv_lo = scale_pairs(blk.scales[2 * c]), sv_hi = scale_pairs(blk.scales[2 * c + 1]);
#pragma GCC unroll 8
            for (int t = 0; t < NR; ++t) {
                const __m256i pair =
                    _mm256_add_epi32(_mm256_madd_epi16(plo[0][t], sv_lo), _mm256_madd_epi16(phi[0][t], sv_hi));
                if constexpr (kPairs)
                    acc[t] =
                        _mm256_fmadd_ps(_mm256_cvtepi32_ps(pair), _mm256_mul_ps(dw, _mm256_set1_ps(ad[t][b])), acc[t]);
                else isum[t] = _mm256_add_epi32(isum[t], pair);
            }
        }
        // The mins: per pair c, row r: min_2c·B_2c + min_2c+1·B_2c+1, B_j the token's sum over sub-block j (two of
        // Q8_K's 16-value bsums). Packed to int16 pairs, pair c's (B_2c, B_2c+1) sits in 32-bit lane 0, 1, 4, 5.
        __m256i mins[4];
#pragma GCC unroll 4
        for (int c = 0; c < 4; ++c)
            mins[c] = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blk.mins[c])));
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) {
            const __m256i bj =
                _mm256_madd_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(absum[t] + 16 * b)), ones);
            const __m256i bp = _mm256_packs_epi32(bj, bj);
            const __m256 da = _mm256_set1_ps(ad[t][b]);
            __m256i msum = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int c = 0; c < 4; ++c) {
                const __m256i bc = _mm256_permutevar8x32_epi32(bp, _mm256_set1_epi32(c / 2 * 4 + c % 2));
                const __m256i m = _mm256_madd_epi16(mins[c], bc);
                if constexpr (kPairs)
                    acc_min[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_mul_ps(dm, da), acc_min[t]);
                else msum = _mm256_add_epi32(msum, m);
            }
            if constexpr (!kPairs) {
                acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(isum[t]), _mm256_mul_ps(dw, da), acc[t]);
                acc_min[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(msum), _mm256_mul_ps(dm, da), acc_min[t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) store8(_mm256_sub_ps(acc[t], acc_min[t]), y[t] + col, accumulate);
}

constexpr Tile8 kBatched[kTile8Tokens] = {tile8<1, true>, tile8<2, true>, tile8<3, true>, tile8<4, true>};
constexpr Tile8 kSingle[kTile8Tokens] = {tile8<1, false>, tile8<2, false>, tile8<3, false>, tile8<4, false>};

}  // namespace

// The batched tokens (groups of 4) take the per-pair recipe, the single-token tail the per-super-block one.
void gemm_q4_k_x8(const GemmTile& g) { sweep_tile8(g, 256, kBatched, kSingle); }

}  // namespace loom::kernels::cpu::avx2
