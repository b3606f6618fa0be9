// AVX2 tile for Q5_0 weights in the load-time q5_0_x8 layout (cpu/weight_pack.h) against packed A8 (Q8_0)
// activations.
//
// Rounding: ggml_vec_dot_q5_0_q8_0's (and tinyBLAS's), which the row-major tile (matmul_avx2_legacy.cpp) follows:
// each row keeps 8 f32 lanes, lane j = fma(f32(Σ of its 4 products (code − 16)·a over values 4j..4j+3), d_w·d_a,
// lane) block after block, and the row's result is the lanes added as hsum does, ((l0 + l4) + (l2 + l6)) +
// ((l1 + l5) + (l3 + l7)). Here a 32-byte load of step s holds the 4 code bytes of values 4s.. of each of 8 rows,
// so one vpmaddubsw + vpmaddwd gives lane s (low nibbles) or lane s + 4 (high nibbles) of 8 rows at once, and the
// lanes' f32 sums stay per row in the vector's 32-bit elements; the final adds run on 8 rows together.
//
// The row-major tile decodes a block of one row in ~14 instructions and takes ~8 more per token (1.2 weights per
// instruction, below what memory feeds it in decode); a step here decodes 8 rows' 8 values of two lanes in 10.
#include <immintrin.h>

#include "kernels/cpu/weight_pack.h"
#include "kernels/cpu/x86/avx2/avx2_util.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"

#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add beyond the explicit ones

namespace loom::kernels::cpu::avx2 {
namespace {

// As Q40X8's decode tile: the stream fetched 32 records (5.5 KiB) ahead.
constexpr int kPrefetchRecords = 32;

// Step s of a record: the signed values (code − 16) of lane s (lo) and lane s + 4 (hi), 8 rows in 32-bit lanes.
inline void step_values(const Q50X8& blk, int s, __m256i& lo, __m256i& hi) {
    const __m256i q = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(blk.qs[s]));
    uint64_t bits;
    std::memcpy(&bits, blk.qh[s], 8);
    // Row r's high-bit byte in each byte of 32-bit lane r.
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi64x(int64_t(bits)),
                                               _mm256_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4,
                                                                4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7));
    // Byte i of a lane is all ones when its bit i (lo) or 4 + i (hi) is set: every other bit is set by the or.
    const __m256i ones = _mm256_set1_epi8(-1);
    const __m256i set_lo = _mm256_cmpeq_epi8(_mm256_or_si256(spread, _mm256_set1_epi32(int32_t(0xF7FBFDFEu))), ones);
    const __m256i set_hi = _mm256_cmpeq_epi8(_mm256_or_si256(spread, _mm256_set1_epi32(int32_t(0x7FBFDFEFu))), ones);
    const __m256i m4 = _mm256_set1_epi8(15), f0 = _mm256_set1_epi8(char(0xF0));
    lo = _mm256_or_si256(_mm256_and_si256(q, m4), _mm256_andnot_si256(set_lo, f0));
    hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), _mm256_andnot_si256(set_hi, f0));
}

// One lane of 8 rows for one token: Σ of the 4 products (values · a), exact in int32 as vpmaddubsw/vpmaddwd of |v|
// and a with v's sign.
inline __m256 lane_sum(__m256i v, const int8_t* a4) {
    const __m256i a = broadcast4(a4);
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(v, v), _mm256_sign_epi8(a, v));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p, _mm256_set1_epi16(1)));
}

// The 8 lanes of 8 rows added as hsum adds one row's lanes.
inline __m256 add_lanes(const __m256 l[8]) {
    const __m256 a0 = _mm256_add_ps(l[0], l[4]), a1 = _mm256_add_ps(l[1], l[5]);
    const __m256 a2 = _mm256_add_ps(l[2], l[6]), a3 = _mm256_add_ps(l[3], l[7]);
    return _mm256_add_ps(_mm256_add_ps(a0, a2), _mm256_add_ps(a1, a3));
}

// 8 rows × 1 token over blocks [b0, b1): all 8 lanes in registers, each record read once (decode streams them).
void tile8_one(const uint8_t* w, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1, float* const* y,
               int64_t col, bool accumulate) {
    const A8Tokens<1> tokens(a, as, nb);
    __m256 lane[8];
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) lane[j] = _mm256_setzero_ps();
    const auto* blocks = reinterpret_cast<const Q50X8*>(w);
    for (int64_t b = b0; b < b1; ++b) {
        const Q50X8& blk = blocks[b];
        prefetch_bytes(&blk + kPrefetchRecords, int(sizeof(Q50X8)));  // a prefetch past the end is harmless
        const __m256 scale = _mm256_mul_ps(load_f16x8(blk.d), _mm256_set1_ps(tokens.d[0][b]));
        const int8_t* at = tokens.q[0] + 32 * b;
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) {
            __m256i lo, hi;
            step_values(blk, s, lo, hi);
            lane[s] = _mm256_fmadd_ps(lane_sum(lo, at + 4 * s), scale, lane[s]);
            lane[s + 4] = _mm256_fmadd_ps(lane_sum(hi, at + 16 + 4 * s), scale, lane[s + 4]);
        }
    }
    store8(add_lanes(lane), y[0] + col, accumulate);
}

// 8 rows × NR tokens: one step (two lanes) at a time over every block, so that NR tokens' lanes fit in registers;
// a group's records (176 bytes a block) stay in L1 across the four passes.
template <int NR>
void tile8_steps(const uint8_t* w, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1, float* const* y,
                 int64_t col, bool accumulate) {
    const A8Tokens<NR> tokens(a, as, nb);
    const auto* blocks = reinterpret_cast<const Q50X8*>(w);
    __m256 lanes[NR][8];
    for (int s = 0; s < 4; ++s) {
        __m256 lo_acc[NR], hi_acc[NR];
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) lo_acc[t] = hi_acc[t] = _mm256_setzero_ps();
        for (int64_t b = b0; b < b1; ++b) {
            const Q50X8& blk = blocks[b];
            __m256i lo, hi;
            step_values(blk, s, lo, hi);
            const __m256 dw = load_f16x8(blk.d);
#pragma GCC unroll 8
            for (int t = 0; t < NR; ++t) {
                const __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(tokens.d[t][b]));
                const int8_t* at = tokens.q[t] + 32 * b + 4 * s;
                lo_acc[t] = _mm256_fmadd_ps(lane_sum(lo, at), scale, lo_acc[t]);
                hi_acc[t] = _mm256_fmadd_ps(lane_sum(hi, at + 16), scale, hi_acc[t]);
            }
        }
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) {
            lanes[t][s] = lo_acc[t];
            lanes[t][s + 4] = hi_acc[t];
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) store8(add_lanes(lanes[t]), y[t] + col, accumulate);
}

constexpr Tile8 kTiles[kTile8Tokens] = {tile8_one, tile8_steps<2>, tile8_steps<3>, tile8_steps<4>};

}  // namespace

// One recipe for every token count (ggml's per-row dot products): the batched tokens and the rest take the same
// tiles.
void gemm_q5_0_x8(const GemmTile& g) { sweep_tile8(g, 32, kTiles, kTiles); }

}  // namespace loom::kernels::cpu::avx2
