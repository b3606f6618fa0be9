// AVX-512 tile for Q4_K weights in the load-time q4_k_x8 layout (cpu/weight_pack.h) against packed A8K (Q8_K)
// activations: the AVX2 tile of x86/avx2/matmul_avx2_q4k_x8.cpp on two row groups at once, with VNNI.
//
// One 512-bit register holds step s of pair c of two consecutive groups' records (rows 0–7 low, 8–15 high): 4 code
// bytes of each of 16 rows, one row per 32-bit lane; low nibbles are values of sub-block 2c, high nibbles of
// 2c + 1. vpdpbusd against a token's 4 matching activation bytes broadcast to every lane adds the products into
// the row's own lane, so after 8 steps each lane holds its row's exact sub-block sum Σ code·a (|Σ| < 2^16), which
// one vpmulld scales by the row's 6-bit scale. The mins meet the activations' sub-block sums in one vpmaddwd per
// pair, as in the AVX2 tile.
//
// Rounding: the AVX2 tile's two recipes on the same integers (ggml's repacked gemm per 64-value pair for the
// batched tokens, gemv per super-block for the rest; mins summed apart and subtracted at the end), so the same bits.
#include <immintrin.h>

#include "kernels/cpu/weight_pack.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"
#include "kernels/cpu/x86/avx512/avx512_util.h"
#include "kernels/cpu/x86/avx512/matmul_avx512.h"

#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add beyond the explicit ones

namespace loom::kernels::cpu::avx512 {
namespace {

// Decode-sized tiles fetch each group's stream this many records ahead themselves (as the AVX2 tile).
constexpr int kPrefetchRecords = 2;
constexpr int kPrefetchTokens = 2;

// Sixteen rows' scale bytes (8 at a, 8 at b) as int32 lanes.
inline __m512i u8_pair(const uint8_t* a, const uint8_t* b) {
    return _mm512_cvtepu8_epi32(_mm_unpacklo_epi64(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(a)),
                                                   _mm_loadl_epi64(reinterpret_cast<const __m128i*>(b))));
}

// 16 rows (groups at w and w + 8·ws) × NR tokens over super-blocks [b0, b1). kPairs: the batched recipe (f32 sums
// per 64-value pair), else the single-token one (per super-block).
template <int NR, bool kPairs>
void tile16(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
            float* const* y, int64_t col, bool accumulate) {
    const A8KTokens<NR> tk(a, as, nb);
    const auto* ga = reinterpret_cast<const Q4KX8*>(w);
    const auto* gb = reinterpret_cast<const Q4KX8*>(w + kPackRows * ws);
    __m512 acc[NR], acc_min[NR];
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) acc[t] = acc_min[t] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(15);
    for (int64_t b = b0; b < b1; ++b) {
        const Q4KX8& ra = ga[b];
        const Q4KX8& rb = gb[b];
        if constexpr (NR <= kPrefetchTokens) {
            prefetch_ahead(reinterpret_cast<const uint8_t*>(&ra + kPrefetchRecords), int(sizeof(Q4KX8)));
            prefetch_ahead(reinterpret_cast<const uint8_t*>(&rb + kPrefetchRecords), int(sizeof(Q4KX8)));
        }
        const __m512 dw = f16_pair(ra.d, rb.d);
        const __m512 dm = f16_pair(ra.dmin, rb.dmin);
        __m512i isum[NR], msum[NR];  // the single-token recipe's super-block sums
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) isum[t] = msum[t] = _mm512_setzero_si512();
        for (int c = 0; c < 4; ++c) {
            __m512i slo[NR], shi[NR];
#pragma GCC unroll 8
            for (int t = 0; t < NR; ++t) slo[t] = shi[t] = _mm512_setzero_si512();
            const int64_t at = 256 * b + 64 * c;
#pragma GCC unroll 8
            for (int s = 0; s < 8; ++s) {
                const __m512i q = load_pair(ra.qs[c][s], rb.qs[c][s]);
                const __m512i lo = _mm512_and_si512(q, m4);
                const __m512i hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
#pragma GCC unroll 8
                for (int t = 0; t < NR; ++t) {
                    slo[t] = _mm512_dpbusd_epi32(slo[t], lo, broadcast4(tk.q[t] + at + 4 * s));
                    shi[t] = _mm512_dpbusd_epi32(shi[t], hi, broadcast4(tk.q[t] + at + 32 + 4 * s));
                }
            }
            const __m512i sc_lo = u8_pair(ra.scales[2 * c], rb.scales[2 * c]);
            const __m512i sc_hi = u8_pair(ra.scales[2 * c + 1], rb.scales[2 * c + 1]);
            // (mn_2c, mn_2c+1) of row r as the int16 halves of lane r
            const __m512i mins = _mm512_cvtepu8_epi16(_mm256_inserti128_si256(
                _mm256_castsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(ra.mins[c]))),
                _mm_loadu_si128(reinterpret_cast<const __m128i*>(rb.mins[c])), 1));
#pragma GCC unroll 8
            for (int t = 0; t < NR; ++t) {
                const __m512i pair =
                    _mm512_add_epi32(_mm512_mullo_epi32(slo[t], sc_lo), _mm512_mullo_epi32(shi[t], sc_hi));
                const __m512i m = _mm512_madd_epi16(mins, pair_bsums(tk.bsums[t] + 16 * b, c));
                if constexpr (kPairs) {
                    const __m512 da = _mm512_set1_ps(tk.d[t][b]);
                    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(pair), _mm512_mul_ps(dw, da), acc[t]);
                    acc_min[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(m), _mm512_mul_ps(dm, da), acc_min[t]);
                } else {
                    isum[t] = _mm512_add_epi32(isum[t], pair);
                    msum[t] = _mm512_add_epi32(msum[t], m);
                }
            }
        }
        if constexpr (!kPairs) {
#pragma GCC unroll 8
            for (int t = 0; t < NR; ++t) {
                const __m512 da = _mm512_set1_ps(tk.d[t][b]);
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum[t]), _mm512_mul_ps(dw, da), acc[t]);
                acc_min[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(msum[t]), _mm512_mul_ps(dm, da), acc_min[t]);
            }
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) store16(_mm512_sub_ps(acc[t], acc_min[t]), y[t] + col, accumulate);
}

constexpr Tile kBatched[8] = {tile16<1, true>, tile16<2, true>, tile16<3, true>, tile16<4, true>,
                              tile16<5, true>, tile16<6, true>, tile16<7, true>, tile16<8, true>};
constexpr Tile kSingle[4] = {tile16<1, false>, tile16<2, false>, tile16<3, false>, tile16<4, false>};

}  // namespace

// Up to 8 batched tokens per tile (each token's sums are its own: llama.cpp's groups of 4 only decide the recipe),
// up to 3 in the single-token tail. One token (decode) stays on the AVX2 tile, which streams the weights faster
// (Zen 4, 2 threads, matvec 2048x32000: 975 us AVX2, 1689 us here). PRECONDITION: g.n_out % 8 == 0; a last group of
// 8 goes to the AVX2 tile.
void gemm_q4_k_x8(const GemmTile& g) {
    if (g.n_tok == 1) return avx2::gemm_q4_k_x8(g);
    sweep(g, {16, 256, kBatched, 8, kSingle, 4, avx2::gemm_q4_k_x8});
}

}  // namespace loom::kernels::cpu::avx512
