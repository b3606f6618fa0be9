// AVX2 tile for Q4_0 weights in the load-time q4_0_x8 layout (cpu/weight_pack.h) against packed A8 (Q8_0)
// activations.
//
// One 32-byte load holds 4 code bytes of each of 8 rows: low nibbles are 4 of a block's values 0–15, high
// nibbles 4 of its values 16–31. A token's 4 matching activation bytes, broadcast to every 32-bit lane, meet them
// in one vpmaddubsw, so each row's products stay in that row's lanes; a block's 4 steps add up in int16
// (8·2·15·128 < 2^15) and one vpmaddwd makes them the 8 rows' int32 sums. The code offset (value = code − 8) is
// subtracted exactly as 8·Σa (Σa per block comes with the activations).
//
// Rounding: llama.cpp's repacked Q4_0 kernels (ggml_gemm/gemv_q4_0_8x8_q8_0, the same recipe as the row-major
// tile4 of matmul_avx2_legacy.cpp): per block y = fma(f32(Σ), d_w·d_a, y), block after block, for every token.
// The integer sums are exact, so both tiles give the same bits.
#include <immintrin.h>

#include "kernels/cpu/weight_pack.h"
#include "kernels/cpu/x86/avx2/avx2_util.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"

#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add beyond the explicit ones

namespace loom::kernels::cpu::avx2 {
namespace {

// Decode-sized tiles fetch their stream kPrefetchRecords records (4.5 KiB) ahead themselves: a group's records
// are contiguous and groups follow each other, so this runs on into the next group. Measured on Zen 4 (matmul_bench
// matvec, 2 threads, two interleaved runs): 5632x2048 181–190 us vs 216–251 us fetching the next group's record of
// the same block (what Zen 1 preferred, 10–20% over 4 or 16 records there); other shapes within noise.
constexpr int kPrefetchRecords = 32;
constexpr int kPrefetchTokens = 2;

// 8 rows × NR tokens over blocks [b0, b1).
template <int NR>
void tile8(const uint8_t* w, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1, float* const* y,
           int64_t col, bool accumulate) {
    const A8Tokens<NR> tokens(a, as, nb);
    const auto& aq = tokens.q;
    const auto& ad = tokens.d;
    const auto& asum = tokens.sum;
    __m256 acc[NR];
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) acc[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(15);
    const __m256i ones = _mm256_set1_epi16(1);
    const auto* blocks = reinterpret_cast<const Q40X8*>(w);
    for (int64_t b = b0; b < b1; ++b) {
        const Q40X8& blk = blocks[b];
        if constexpr (NR <= kPrefetchTokens) {
            prefetch_bytes(&blk + kPrefetchRecords, int(sizeof(Q40X8)));  // a prefetch past the end is harmless
        }
        const __m256 dw = load_f16x8(blk.d);
        // Low and high nibbles in separate int16 sums: two dependency chains per token.
        __m256i plo[NR], phi[NR];
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) plo[t] = phi[t] = _mm256_setzero_si256();
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) {
            const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs[s]));
            const __m256i lo = _mm256_and_si256(q, m4);
            const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
#pragma GCC unroll 8
            for (int t = 0; t < NR; ++t) {
                const int8_t* at = aq[t] + 32 * b + 4 * s;
                plo[t] = _mm256_add_epi16(plo[t], _mm256_maddubs_epi16(lo, broadcast4(at)));
                phi[t] = _mm256_add_epi16(phi[t], _mm256_maddubs_epi16(hi, broadcast4(at + 16)));
                in_register(plo[t]);
                in_register(phi[t]);
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) {
            const __m256i sum = _mm256_sub_epi32(_mm256_madd_epi16(_mm256_add_epi16(plo[t], phi[t]), ones),
                                                 _mm256_set1_epi32(8 * asum[t][b]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), _mm256_mul_ps(dw, _mm256_set1_ps(ad[t][b])), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) store8(acc[t], y[t] + col, accumulate);
}

constexpr Tile8 kTiles[kTile8Tokens] = {tile8<1>, tile8<2>, tile8<3>, tile8<4>};

}  // namespace

// One recipe for every token count: the batched tokens and the rest take the same tiles.
void gemm_q4_0_x8(const GemmTile& g) { sweep_tile8(g, 32, kTiles, kTiles); }

}  // namespace loom::kernels::cpu::avx2
