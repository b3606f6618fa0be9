// AVX-512 tiles for Q4_K weights in the calls llama.cpp computes with its repacked kernels (rows in multiples of
// 8; see x86/avx2/matmul_avx2_kquant.cpp): the 4-token groups take the repack_gemm recipe (per 64-value pair of
// sub-blocks: y = fma(f32(Σ_pair), d_w·d_a, y)), the tail tokens the repack_gemv recipe (per super-block), the
// mins of both summed apart and subtracted at the end. Same bits as the AVX2 tile4 (see matmul_avx512.h); other
// calls (rows not in multiples of 8: vec_dot and tiled recipes) go to the AVX2 kernel whole.
//
// Sixteen rows per step, as the whole-block legacy tile: per 32-value sub-block, each register holds 16 code bytes
// of four rows (rows k, k+4, k+8, k+12 in its 128-bit lanes; values 0–15 and 16–31 in two registers), vpdpbusd
// meets the activations broadcast to every lane, and fold16 gives the sixteen rows' sums Σ code·a in row order.
// The sub-block's 6-bit scales multiply those sums as int32 (vpmulld; Σ < 2^16, scale < 2^6), the mins meet the
// activations' 32-value sums in one vpmaddwd (both below 2^15): all integers as the AVX2 kernel's, exactly.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/x86/avx2/matmul_avx2.h"
#include "kernels/cpu/x86/avx512/avx512_util.h"
#include "kernels/cpu/x86/avx512/matmul_avx512.h"
#include "kernels/cpu/x86/kquant_scales.h"

namespace loom::kernels::cpu::avx512 {
namespace {

constexpr int kBytes = 144;  // one Q4_K super-block: f16 d, f16 dmin, 12 bytes of scales and mins, 128 of codes

using x86::scale_min_k4;

// One super-block of sixteen rows: per-row f16 scales, sub-block scales sc[j] (int32 lane = row) and, per pair of
// sub-blocks c, the mins (mn_2c, mn_2c+1) as the two int16 halves of each row's lane.
struct Prep16 {
    __m512 d, dmin;
    __m512i sc[8];
    __m512i mn[4];
};

// Sixteen rows' eight bytes (rows 0–7 in lo, 8–15 in hi, one row per 64-bit lane) -> byte j of each as int32 lanes.
inline __m512i byte_lanes(__m512i lo, __m512i hi, int j) {
    const __m256i a = _mm512_cvtepi64_epi32(_mm512_srli_epi64(lo, 8 * j));
    const __m256i b = _mm512_cvtepi64_epi32(_mm512_srli_epi64(hi, 8 * j));
    return _mm512_and_si512(_mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1), _mm512_set1_epi32(0xff));
}

inline void prepare16(const uint8_t* wb, int64_t ws, Prep16& p) {
    uint64_t sc[16], mn[16];
    for (int r = 0; r < 16; ++r) scale_min_k4(wb + r * ws + 4, &sc[r], &mn[r]);
    const __m512i sc_lo = _mm512_setr_epi64(int64_t(sc[0]), int64_t(sc[1]), int64_t(sc[2]), int64_t(sc[3]),
                                            int64_t(sc[4]), int64_t(sc[5]), int64_t(sc[6]), int64_t(sc[7]));
    const __m512i sc_hi = _mm512_setr_epi64(int64_t(sc[8]), int64_t(sc[9]), int64_t(sc[10]), int64_t(sc[11]),
                                            int64_t(sc[12]), int64_t(sc[13]), int64_t(sc[14]), int64_t(sc[15]));
    const __m512i mn_lo = _mm512_setr_epi64(int64_t(mn[0]), int64_t(mn[1]), int64_t(mn[2]), int64_t(mn[3]),
                                            int64_t(mn[4]), int64_t(mn[5]), int64_t(mn[6]), int64_t(mn[7]));
    const __m512i mn_hi = _mm512_setr_epi64(int64_t(mn[8]), int64_t(mn[9]), int64_t(mn[10]), int64_t(mn[11]),
                                            int64_t(mn[12]), int64_t(mn[13]), int64_t(mn[14]), int64_t(mn[15]));
    for (int j = 0; j < 8; ++j) p.sc[j] = byte_lanes(sc_lo, sc_hi, j);
    for (int c = 0; c < 4; ++c)
        p.mn[c] = _mm512_or_si512(byte_lanes(mn_lo, mn_hi, 2 * c),
                                  _mm512_slli_epi32(byte_lanes(mn_lo, mn_hi, 2 * c + 1), 16));
    p.d = f16_x16(wb, ws);
    p.dmin = f16_x16(wb + 2, ws);
}

// Σ code·a of sub-block j (values 32j .. 32j+31) for sixteen rows and NR tokens, times the sub-block's scales,
// added to (h = 1) or stored in (h = 0) sum[t].
template <int NR>
inline void sub_block(const uint8_t* wb, int64_t ws, int j, const int8_t* const* ab, const Prep16& p, __m512i* sum) {
    const int c = j / 2, h = j % 2;  // sub-block 2c: low nibbles of the pair's 32 bytes; 2c + 1: high nibbles
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i lo[4], hi[4];  // values 0–15, 16–31
    for (int k = 0; k < 4; ++k) {
        const uint8_t* q = wb + k * ws + 16 + 32 * c;
        const __m512i x0 = rows_4_apart(q, ws), x1 = rows_4_apart(q + 16, ws);
        lo[k] = _mm512_and_si512(h ? _mm512_srli_epi16(x0, 4) : x0, m4);
        hi[k] = _mm512_and_si512(h ? _mm512_srli_epi16(x1, 4) : x1, m4);
    }
    for (int t = 0; t < NR; ++t) {
        const int8_t* a = ab[t] + 32 * j;
        const __m512i a0 = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(a)));
        const __m512i a1 = _mm512_broadcast_i32x4(_mm_load_si128(reinterpret_cast<const __m128i*>(a + 16)));
        __m512i s[4];
        for (int k = 0; k < 4; ++k)
            s[k] = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo[k], a0), hi[k], a1);
        const __m512i scaled = _mm512_mullo_epi32(fold16(s[0], s[1], s[2], s[3]), p.sc[j]);
        sum[t] = h ? _mm512_add_epi32(sum[t], scaled) : scaled;
    }
}

// 16 rows × NR tokens over super-blocks [b0, b1). kPairs: the repack_gemm recipe (f32 per pair), else repack_gemv.
template <int NR, bool kPairs>
void tile16(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
            float* const* y, int64_t col, bool accumulate) {
    const A8KTokens<NR> tokens(a, as, nb);
    const auto& aq = tokens.q;
    const auto& ad = tokens.d;
    const auto& absum = tokens.bsums;
    __m512 acc[NR], acc_min[NR];
    for (int t = 0; t < NR; ++t) acc[t] = acc_min[t] = _mm512_setzero_ps();
    const uint8_t* next = w + 16 * ws;
    for (int64_t b = b0; b < b1; ++b) {
        const uint8_t* wb = w + b * kBytes;
        prefetch_ahead(next + (b - b0) * 16 * kBytes, 16 * kBytes);
        Prep16 p;
        prepare16(wb, ws, p);
        const int8_t* ab[NR];
        const int16_t* bs[NR];
        for (int t = 0; t < NR; ++t) {
            ab[t] = aq[t] + 256 * b;
            bs[t] = absum[t] + 16 * b;
        }
        // d_w·d_a and dmin·d_a, formed where used (the same products: registers are short with 8 tokens)
        auto dd = [&](int t) { return _mm512_mul_ps(p.d, _mm512_set1_ps(ad[t][b])); };
        auto dm = [&](int t) { return _mm512_mul_ps(p.dmin, _mm512_set1_ps(ad[t][b])); };
        __m512i sb[NR], mins[NR];  // repack_gemv: the super-block's sums
        for (int c = 0; c < 4; ++c) {
            __m512i pair[NR];
            sub_block<NR>(wb, ws, 2 * c, ab, p, pair);
            sub_block<NR>(wb, ws, 2 * c + 1, ab, p, pair);
            for (int t = 0; t < NR; ++t) {
                const __m512i m = _mm512_madd_epi16(p.mn[c], pair_bsums(bs[t], c));
                if constexpr (kPairs) {
                    acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(pair[t]), dd(t), acc[t]);
                    acc_min[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(m), dm(t), acc_min[t]);
                } else {
                    sb[t] = c ? _mm512_add_epi32(sb[t], pair[t]) : pair[t];
                    mins[t] = c ? _mm512_add_epi32(mins[t], m) : m;
                }
            }
        }
        if constexpr (!kPairs)
            for (int t = 0; t < NR; ++t) {
                acc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(sb[t]), dd(t), acc[t]);
                acc_min[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(mins[t]), dm(t), acc_min[t]);
            }
    }
    for (int t = 0; t < NR; ++t) store16(_mm512_sub_ps(acc[t], acc_min[t]), y[t] + col, accumulate);
}

}  // namespace

void gemm_q4_k(const GemmTile& g) {
    // Not repacked by llama.cpp (other recipes), or one token (decode): the AVX2 kernel. With one token nothing
    // amortizes the sixteen rows' scale transposition (matvec 2048x5632 on Sapphire Rapids, 2 threads: 455 us
    // AVX2, 538 us here).
    if (!g.repackable || g.call_rows % 8 != 0 || g.n_tok == 1) return avx2::gemm_q4_k(g);
    // Up to 8 batched tokens per tile (each token's sums are its own: llama.cpp's groups of 4 only decide the
    // recipe), up to 3 in the tail.
    static constexpr Tile kGemm[8] = {tile16<1, true>, tile16<2, true>, tile16<3, true>, tile16<4, true>,
                                      tile16<5, true>, tile16<6, true>, tile16<7, true>, tile16<8, true>};
    static constexpr Tile kGemv[4] = {tile16<1, false>, tile16<2, false>, tile16<3, false>, tile16<4, false>};
    sweep(g, {16, 256, kGemm, 8, kGemv, 4, avx2::gemm_q4_k});
}

}  // namespace loom::kernels::cpu::avx512
