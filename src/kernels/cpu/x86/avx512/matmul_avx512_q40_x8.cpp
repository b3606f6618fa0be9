// AVX-512 tile for Q4_0 weights in the load-time q4_0_x8 layout (cpu/weight_pack.h) against packed A8 (Q8_0)
// activations: the AVX2 tile of x86/avx2/matmul_avx2_q40_x8.cpp on two row groups at once, with VNNI.
//
// One 512-bit register holds step s of two consecutive groups' records (rows 0–7 in the low half, 8–15 in the
// high one): 4 code bytes of each of 16 rows, one row per 32-bit lane. vpdpbusd against a token's 4 matching
// activation bytes broadcast to every lane adds those 4 products into that row's own lane, so after the block's
// 8 steps (4 low-nibble, 4 high-nibble) each lane holds its row's exact block sum of code·a. The offset is taken
// off exactly (−8·Σa, Σa per block comes with the activations), then the AVX2 tile's rounding: per block
// y = fma(f32(Σ), d_w·d_a, y), block after block. The integers are exact however summed, so the bits are the
// AVX2 tile's (and llama.cpp's repacked Q4_0 kernels').
//
// Up to 8 tokens per tile share one unpacking of the weights (the AVX2 tile: 4).
#include <immintrin.h>

#include "kernels/cpu/weight_pack.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"
#include "kernels/cpu/x86/avx512/avx512_util.h"
#include "kernels/cpu/x86/avx512/matmul_avx512.h"

#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add beyond the explicit ones

namespace loom::kernels::cpu::avx512 {
namespace {

constexpr int kMaxTokens = 8;

// 16 rows (groups at w and w + 8·ws) × NR tokens over blocks [b0, b1).
template <int NR>
void tile16(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
            float* const* y, int64_t col, bool accumulate) {
    const A8Tokens<NR> tk(a, as, nb);
    const auto* ga = reinterpret_cast<const Q40X8*>(w);
    const auto* gb = reinterpret_cast<const Q40X8*>(w + kPackRows * ws);
    __m512 acc[NR];
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) acc[t] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(15);
    for (int64_t b = b0; b < b1; ++b) {
        if constexpr (NR <= 2) {
            // Decode-sized tiles (two tokens; one token runs the AVX2 tile): the next two groups' records of this
            // block.
            prefetch_ahead(reinterpret_cast<const uint8_t*>(gb + b) + kPackRows * ws, int(sizeof(Q40X8)));
            prefetch_ahead(reinterpret_cast<const uint8_t*>(gb + b) + 2 * kPackRows * ws, int(sizeof(Q40X8)));
        }
        const __m512 dw = f16_pair(ga[b].d, gb[b].d);
        __m512i lo[4], hi[4];
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) {
            const __m512i q = load_pair(ga[b].qs[s], gb[b].qs[s]);
            lo[s] = _mm512_and_si512(q, m4);
            hi[s] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
        }
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) {
            const int8_t* at = tk.q[t] + 32 * b;
            // Low and high nibbles in two chains (latency, for few tokens).
            __m512i sl = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo[0], broadcast4(at));
            __m512i sh = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi[0], broadcast4(at + 16));
#pragma GCC unroll 4
            for (int s = 1; s < 4; ++s) {
                sl = _mm512_dpbusd_epi32(sl, lo[s], broadcast4(at + 4 * s));
                sh = _mm512_dpbusd_epi32(sh, hi[s], broadcast4(at + 16 + 4 * s));
            }
            const __m512i sum = _mm512_sub_epi32(_mm512_add_epi32(sl, sh), _mm512_set1_epi32(8 * tk.sum[t][b]));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(dw, _mm512_set1_ps(tk.d[t][b])), acc[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) store16(acc[t], y[t] + col, accumulate);
}

constexpr Tile kTiles[kMaxTokens] = {tile16<1>, tile16<2>, tile16<3>, tile16<4>,
                                     tile16<5>, tile16<6>, tile16<7>, tile16<8>};

}  // namespace

// One recipe for every token count. One token (decode) stays on the AVX2 tile, which streams the weights faster
// (Zen 4, 2 threads, matvec 2048x32000: 941 us AVX2, 1018 us here). PRECONDITION: g.n_out % 8 == 0 (the driver
// splits rows at the layout's group size); a last group of 8 goes to the AVX2 tile.
void gemm_q4_0_x8(const GemmTile& g) {
    if (g.n_tok == 1) return avx2::gemm_q4_0_x8(g);
    sweep(g, {16, 32, kTiles, kMaxTokens, kTiles, kMaxTokens, avx2::gemm_q4_0_x8});
}

}  // namespace loom::kernels::cpu::avx512
