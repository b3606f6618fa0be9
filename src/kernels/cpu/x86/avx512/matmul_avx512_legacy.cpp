// AVX-512 tiles for the 32-value block types with a code offset or table (Q4_0, IQ4_NL: whole-block recipe;
// Q5_0, Q8_0: eight-lane recipe) against the AVX2 variant's packed A8 activations. Same bits as
// x86/avx2/matmul_avx2_legacy.cpp (see matmul_avx512.h); the differences are only in how the integers are made:
//
// - vpdpbusd multiplies unsigned by signed bytes. Every code is made unsigned by an offset (Q4_0: code = value
//   + 8, Q5_0: + 16, Q8_0 and IQ4_NL: + 128), and offset·Σa is subtracted exactly in int32: per block through the
//   activations' Σq (whole-block recipe), per 4-value lane through one vpdpbusd of the offset bytes with the
//   activations, shared by every row (eight-lane recipe, whose lanes must hold the AVX2 kernel's lane sums).
// - Whole-block recipe (tile16): sixteen rows per step. Each 512-bit register holds the 16 code bytes of four rows
//   (rows k, k+4, k+8, k+12 in its four 128-bit lanes), low nibbles meet activation values 0–15 broadcast to every
//   lane and high nibbles values 16–31; four such registers folded (unpack and add) give the 16 rows' block sums
//   in row order, then one convert and one multiply-add scale all sixteen: y = fma(Σ, d_w·d_a, y), block after
//   block, as the AVX2 tile4.
// - Eight-lane recipe (tile_lanes): eight rows, two per register (one per 256-bit half), each half the AVX2
//   tile's eight f32 lanes with the same lane sums and the same reduction at the end.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "formats/quant_layout.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"
#include "kernels/cpu/x86/avx512/avx512_util.h"
#include "kernels/cpu/x86/avx512/matmul_avx512.h"

namespace loom::kernels::cpu::avx512 {
namespace {

// ---- whole-block recipe (Q4_0, IQ4_NL) ------------------------------------------------------------------------

struct Q4_0 {
    static constexpr int kBytes = 18, kOffset = 8;  // code = value + 8
    static __m512i lookup(__m512i nibbles) { return nibbles; }
};
struct IQ4_NL {
    static constexpr int kBytes = 18, kOffset = 128;  // code = table value + 128
    // value + 128 as an unsigned byte is the value's bits with the top one flipped; the table is a constant the
    // compiler keeps in a register (it was rebuilt in a stack array on every block).
    static __m512i lookup(__m512i nibbles) {
        const __m128i k = _mm_loadu_si128(reinterpret_cast<const __m128i*>(formats::kIq4NlValues));
        const __m512i table = _mm512_xor_si512(_mm512_broadcast_i32x4(k), _mm512_set1_epi8(char(0x80)));
        return _mm512_shuffle_epi8(table, nibbles);
    }
};

// 16 rows × NR tokens over blocks [b0, b1).
template <class D, int NR>
void tile16(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
            float* const* y, int64_t col, bool accumulate) {
    const A8Tokens<NR> tokens(a, as, nb);
    const auto& aq = tokens.q;
    const auto& ad = tokens.d;
    const auto& asum = tokens.sum;
    __m512 acc[NR];
    for (int t = 0; t < NR; ++t) acc[t] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    const uint8_t* next = w + 16 * ws;
    for (int64_t b = b0; b < b1; ++b) {
        const uint8_t* wb = w + b * D::kBytes;
        prefetch_ahead(next + (b - b0) * 16 * D::kBytes, 16 * D::kBytes);
        __m512i lo[4], hi[4];
        for (int k = 0; k < 4; ++k) {
            const __m512i x = rows_4_apart(wb + k * ws + 2, ws);
            lo[k] = D::lookup(_mm512_and_si512(x, m4));
            hi[k] = D::lookup(_mm512_and_si512(_mm512_srli_epi16(x, 4), m4));
        }
        const __m512 dw = f16_x16(wb, ws);
        for (int t = 0; t < NR; ++t) {
            const int8_t* ab = aq[t] + 32 * b;
            const __m512i a_lo = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(ab)));
            const __m512i a_hi = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(ab + 16)));
            __m512i s[4];
            for (int k = 0; k < 4; ++k)
                s[k] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo[k], a_lo), hi[k], a_hi);
            const __m512i sum =
                _mm512_sub_epi32(fold16(s[0], s[1], s[2], s[3]), _mm512_set1_epi32(D::kOffset * asum[t][b]));
            acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sum), _mm512_mul_ps(dw, _mm512_set1_ps(ad[t][b])), acc[t]);
        }
    }
    for (int t = 0; t < NR; ++t) store16(acc[t], y[t] + col, accumulate);
}

// ---- eight-lane recipe (Q5_0, Q8_0) ---------------------------------------------------------------------------

// Two rows' 32 codes (plus kOffset, as unsigned bytes) in the two halves of one register.
struct Q5_0 {
    static constexpr int kBytes = 22, kOffset = 16;
    static __m256i codes(const uint8_t* b) {
        uint32_t qh;
        std::memcpy(&qh, b + 2, 4);
        const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(b + 6));
        const __m128i m = _mm_set1_epi8(0x0f);
        const __m256i nib = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(x, 4), m), _mm_and_si128(x, m));
        // byte e gets 0x10 if bit e of qh is set
        const __m256i high = _mm256_maskz_mov_epi8(__mmask32(qh), _mm256_set1_epi8(0x10));
        return _mm256_or_si256(nib, high);
    }
};
struct Q8_0 {
    static constexpr int kBytes = 34, kOffset = 128;
    static __m256i codes(const uint8_t* b) {
        return _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)),
                                _mm256_set1_epi8(char(0x80)));
    }
};

// 8 rows × NR tokens over blocks [b0, b1); register p holds rows 2p (low half) and 2p + 1 (high half).
template <class D, int NR>
void tile_lanes(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
                float* const* y, int64_t col, bool accumulate) {
    const A8Tokens<NR> tokens(a, as, nb);
    const auto& aq = tokens.q;
    const auto& ad = tokens.d;
    __m512 acc[4][NR];
    for (int p = 0; p < 4; ++p)
        for (int t = 0; t < NR; ++t) acc[p][t] = _mm512_setzero_ps();
    const __m512i offset = _mm512_set1_epi8(char(D::kOffset));
    // Lane selectors: half 0 takes row 2p's scale, half 1 row 2p + 1's.
    __m512i pick[4];
    for (int p = 0; p < 4; ++p) pick[p] = _mm512_inserti64x4(_mm512_set1_epi32(2 * p), _mm256_set1_epi32(2 * p + 1), 1);
    const uint8_t* next = w + 8 * ws;
    for (int64_t b = b0; b < b1; ++b) {
        const uint8_t* wb = w + b * D::kBytes;
        prefetch_ahead(next + (b - b0) * 8 * D::kBytes, 8 * D::kBytes);
        __m512i code[4];
        for (int p = 0; p < 4; ++p)
            code[p] = _mm512_inserti64x4(_mm512_castsi256_si512(D::codes(wb + 2 * p * ws)),
                                         D::codes(wb + (2 * p + 1) * ws), 1);
        uint64_t d0 = 0, d1 = 0;
        for (int r = 0; r < 4; ++r) {
            d0 |= uint64_t(load_u16(wb + r * ws)) << (16 * r);
            d1 |= uint64_t(load_u16(wb + (r + 4) * ws)) << (16 * r);
        }
        const __m512 dw8 = _mm512_castps256_ps512(_mm256_cvtph_ps(_mm_set_epi64x(int64_t(d1), int64_t(d0))));
        __m512 dw[4];
        for (int p = 0; p < 4; ++p) dw[p] = _mm512_permutexvar_ps(pick[p], dw8);
        for (int t = 0; t < NR; ++t) {
            const __m512i av =
                _mm512_broadcast_i64x4(_mm256_load_si256(reinterpret_cast<const __m256i*>(aq[t] + 32 * b)));
            // −offset·Σa per 4-value lane, so that each lane holds Σ value·a as the AVX2 kernel's.
            const __m512i neg =
                _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), offset, av));
            const __m512 da = _mm512_set1_ps(ad[t][b]);
            for (int p = 0; p < 4; ++p) {
                const __m512i s = _mm512_dpbusd_epi32(neg, code[p], av);
                acc[p][t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw[p], da), acc[p][t]);
            }
        }
    }
    for (int t = 0; t < NR; ++t) {
        float* yr = y[t] + col;
        for (int p = 0; p < 4; ++p) {
            const float v0 = hsum8(_mm512_castps512_ps256(acc[p][t]));
            const float v1 = hsum8(_mm512_extractf32x8_ps(acc[p][t], 1));
            yr[2 * p] = accumulate ? yr[2 * p] + v0 : v0;
            yr[2 * p + 1] = accumulate ? yr[2 * p + 1] + v1 : v1;
        }
    }
}

template <class D>
void gemm_whole_blocks(const GemmTile& g, void (*rest)(const GemmTile&)) {
    static constexpr Tile kFns[4] = {tile16<D, 1>, tile16<D, 2>, tile16<D, 3>, tile16<D, 4>};
    sweep(g, {16, 32, kFns, 4, kFns, 4, rest});
}

// One token (decode) stays on the AVX2 tile: with nothing to reuse the unpacked rows for, putting two rows in one
// register and their scales in lane order costs more than it saves (Q8_0 matvec 2048x5632 on Sapphire Rapids,
// 2 threads: 249 us AVX2, 329 us here).
template <class D>
void gemm_lanes(const GemmTile& g, void (*rest)(const GemmTile&)) {
    static constexpr Tile kFns[4] = {tile_lanes<D, 1>, tile_lanes<D, 2>, tile_lanes<D, 3>, tile_lanes<D, 4>};
    if (g.n_tok == 1) return rest(g);
    sweep(g, {8, 32, kFns, 4, kFns, 4, rest});
}

}  // namespace

void gemm_q4_0(const GemmTile& g) { gemm_whole_blocks<Q4_0>(g, avx2::gemm_q4_0); }
void gemm_iq4_nl(const GemmTile& g) { gemm_whole_blocks<IQ4_NL>(g, avx2::gemm_iq4_nl); }
void gemm_q5_0(const GemmTile& g) { gemm_lanes<Q5_0>(g, avx2::gemm_q5_0); }
void gemm_q8_0(const GemmTile& g) { gemm_lanes<Q8_0>(g, avx2::gemm_q8_0); }

}  // namespace loom::kernels::cpu::avx512
