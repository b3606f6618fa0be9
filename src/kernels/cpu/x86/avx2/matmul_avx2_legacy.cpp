// AVX2 tiles for the 32-value block types (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL) against packed A8 activations.
//
// A tile is MR weight rows × NR tokens. Per block, each weight row is unpacked once into 32 bytes and reused
// for NR tokens; each pair (row, token) costs one vpmaddubsw (u8×s8 -> pairs summed in i16) and one vpmaddwd
// (-> i32), then the block's integer sum is scaled in f32 by d_w·d_a. On Zen 1 both integer multiplies issue
// on one pipe at 2 cycles per 256-bit op, so ~4 cycles a pair-block is the floor; everything else (unpacking,
// scales, conversion, FMA) is arranged to overlap on the other pipes.
//
// vpmaddubsw needs one unsigned operand. Unsigned-code types (Q4_0: q−8, Q5_0: q−16) multiply the raw code
// and subtract offset·Σa in the integer domain (Σa per block comes with the activations), so the block's
// integer is exactly the reference's. Signed types (Q8_0, IQ4_NL) use |w| and sign(a, w). Q4_1/Q5_1 add
// their offset m through Q8_1's s in f32, as the reference does.
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "formats/quant_layout.h"
#include "kernels/cpu/x86/avx2/avx2_util.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"

namespace loom::kernels::cpu::avx2 {
namespace {

// ---- weight decoders: the 32 codes of a block as bytes, and where its scales are --------------------------
// kOffset: the value is code + kOffset (unsigned codes); kSigned: codes are signed values; kMin: value has + m.
// kWholeBlocks: how llama.cpp's CPU backend (AVX2) rounds this type, which loom follows bit for bit: its
// repacked kernels (Q4_0, IQ4_NL: ggml_gemm/gemv_*_8x8_q8_0) scale each block's whole integer sum,
// y = fma(Σ_block, d_w·d_a, y) block after block (tile4); tinyBLAS and ggml_vec_dot (the other types) keep 8
// lanes of 4-product sums, lane = fma(lane_sum, d_w·d_a, lane), and add the lanes at the end (tile).

// Codes 0..15 of values 0..15 (lo) and 16..31 (hi) as two 16-byte halves: no cross-lane insert.
inline void nibbles_lo_hi(const uint8_t* p, __m128i& lo, __m128i& hi) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i m = _mm_set1_epi8(0x0f);
    lo = _mm_and_si128(x, m);
    hi = _mm_and_si128(_mm_srli_epi16(x, 4), m);
}
inline void q5_lo_hi(const uint8_t* qs, const uint8_t* qh, __m128i& lo, __m128i& hi) {
    nibbles_lo_hi(qs, lo, hi);
    const __m256i h = q5_high_bits(qh);
    lo = _mm_or_si128(lo, _mm256_castsi256_si128(h));
    hi = _mm_or_si128(hi, _mm256_extracti128_si256(h, 1));
}

struct Q4_0 {
    static constexpr bool kWholeBlocks = true;
    static constexpr int kCodeMax = 15;
    static constexpr int kBytes = 18, kOffset = -8;
    static constexpr bool kSigned = false, kMin = false;
    static __m256i codes(const uint8_t* b) { return unpack_nibbles(b + 2); }
    static void codes_lo_hi(const uint8_t* b, __m128i& lo, __m128i& hi) { nibbles_lo_hi(b + 2, lo, hi); }
};
struct Q4_1 {
    static constexpr bool kWholeBlocks = false;
    static constexpr int kCodeMax = 15;
    static constexpr int kBytes = 20, kOffset = 0;
    static constexpr bool kSigned = false, kMin = true;
    static __m256i codes(const uint8_t* b) { return unpack_nibbles(b + 4); }
    static void codes_lo_hi(const uint8_t* b, __m128i& lo, __m128i& hi) { nibbles_lo_hi(b + 4, lo, hi); }
};
struct Q5_0 {
    static constexpr bool kWholeBlocks = false;
    static constexpr int kCodeMax = 31;
    static constexpr int kBytes = 22, kOffset = -16;
    static constexpr bool kSigned = false, kMin = false;
    static __m256i codes(const uint8_t* b) { return _mm256_or_si256(unpack_nibbles(b + 6), q5_high_bits(b + 2)); }
    static __m256i signed_values(const uint8_t* b) { return q5_0_values(b + 6, b + 2); }  // codes + kOffset
    static void codes_lo_hi(const uint8_t* b, __m128i& lo, __m128i& hi) { q5_lo_hi(b + 6, b + 2, lo, hi); }
};
struct Q5_1 {
    static constexpr bool kWholeBlocks = false;
    static constexpr int kCodeMax = 31;
    static constexpr int kBytes = 24, kOffset = 0;
    static constexpr bool kSigned = false, kMin = true;
    static __m256i codes(const uint8_t* b) { return _mm256_or_si256(unpack_nibbles(b + 8), q5_high_bits(b + 4)); }
    static void codes_lo_hi(const uint8_t* b, __m128i& lo, __m128i& hi) { q5_lo_hi(b + 8, b + 4, lo, hi); }
};
struct Q8_0 {
    static constexpr bool kWholeBlocks = false;
    [[maybe_unused]] static constexpr int kCodeMax = 127;  // read on the unsigned path only
    static constexpr int kBytes = 34, kOffset = 0;
    static constexpr bool kSigned = true, kMin = false;
    static __m256i codes(const uint8_t* b) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 2)); }
};
struct IQ4_NL {
    static constexpr bool kWholeBlocks = true;
    [[maybe_unused]] static constexpr int kCodeMax = 127;  // read on the unsigned path only
    static constexpr int kBytes = 18, kOffset = 0;
    static constexpr bool kSigned = true, kMin = false;
    static __m256i codes(const uint8_t* b) {
        const __m128i k = _mm_loadu_si128(reinterpret_cast<const __m128i*>(formats::kIq4NlValues));
        return _mm256_shuffle_epi8(_mm256_set_m128i(k, k), unpack_nibbles(b + 2));
    }
};

// A block's 32 values as signed bytes: code + kOffset for the unsigned-code types (Q5_0 has a shorter way to it).
template <class D>
__m256i block_values(const uint8_t* b) {
    if constexpr (requires { D::signed_values(b); }) return D::signed_values(b);
    else if constexpr (D::kOffset != 0) return _mm256_add_epi8(D::codes(b), _mm256_set1_epi8(D::kOffset));
    else return D::codes(b);
}

// One MR × NR tile over blocks [b0, b1). nb: blocks in a full row (the packed layout's geometry).
template <class D, int MR, int NR>
void tile(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
          float* const* y, int64_t col, bool accumulate) {
    const A8Tokens<NR> tokens(a, as, nb);
    const auto& aq = tokens.q;
    const auto& ad = tokens.d;
    const auto& asum_f = tokens.s;
    __m256 acc[MR][NR];
    __m128 corr[NR];  // Q4_1/Q5_1: Σ_b m_w·s_a for up to 4 rows
    for (int r = 0; r < MR; ++r)
        for (int t = 0; t < NR; ++t) acc[r][t] = _mm256_setzero_ps();
    for (int t = 0; t < NR; ++t) corr[t] = _mm_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);

    for (int64_t b = b0; b < b1; ++b) {
        const uint8_t* wb = w + b * D::kBytes;
        // The next group of rows, fetched ahead at the pace this one is read (see tile4).
        for (int r = 0; r < MR; ++r) _mm_prefetch(reinterpret_cast<const char*>(wb + (MR + r) * ws), _MM_HINT_T0);
        __m256i code[MR], mag[MR];
        // The rows' f16 scales gathered in a general register: going through a stack array would make the
        // vector load straddle several small stores, which defeats store forwarding (a ~15-cycle stall).
        uint64_t dbits = 0, mbits = 0;
        for (int r = 0; r < MR; ++r) {
            // Offset codes become signed values here, so each lane sums (code + offset)·a over its own 4 values
            // as ggml_vec_dot/tinyBLAS do (the lane sums, not only the block's total, set the f32 rounding).
            code[r] = block_values<D>(wb + r * ws);
            if constexpr (D::kSigned || D::kOffset != 0) mag[r] = _mm256_sign_epi8(code[r], code[r]);
            dbits |= uint64_t(load_u16(wb + r * ws)) << (16 * r);
            if constexpr (D::kMin) mbits |= uint64_t(load_u16(wb + r * ws + 2)) << (16 * r);
        }
        const __m128 dw = _mm_cvtph_ps(_mm_cvtsi64_si128(int64_t(dbits)));
        __m128 mw = _mm_setzero_ps();
        if constexpr (D::kMin) mw = _mm_cvtph_ps(_mm_cvtsi64_si128(int64_t(mbits)));

        for (int t = 0; t < NR; ++t) {
            alignas(16) float scale[4];
            _mm_store_ps(scale, _mm_mul_ps(dw, _mm_set1_ps(ad[t][b])));
            if constexpr (D::kMin) corr[t] = _mm_fmadd_ps(mw, _mm_set1_ps(asum_f[t][b]), corr[t]);
            const auto* ap = reinterpret_cast<const __m256i*>(aq[t] + 32 * b);
            for (int r = 0; r < MR; ++r) {
                const __m256i p = D::kSigned || D::kOffset != 0
                                      ? _mm256_maddubs_epi16(mag[r], _mm256_sign_epi8(_mm256_load_si256(ap), code[r]))
                                      : _mm256_maddubs_epi16(code[r], _mm256_load_si256(ap));
                const __m256i s = _mm256_madd_epi16(p, ones);
                acc[r][t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_broadcast_ss(&scale[r]), acc[r][t]);
            }
        }
    }
    for (int t = 0; t < NR; ++t) {
        alignas(16) float c[4];
        _mm_store_ps(c, corr[t]);
        float* yr = y[t] + col;
        for (int r = 0; r < MR; ++r) {
            float v = hsum(acc[r][t]);
            if constexpr (D::kMin) v += c[r];
            yr[r] = accumulate ? yr[r] + v : v;
        }
    }
}

// Four rows' vectors folded into one: 32-bit slot r (of each 128-bit half) holds row r's partial sums (one
// int32 lane, or two int16 lanes), so a block's scaling costs one convert and one multiply for all four rows.
inline __m256i fold4_i32(__m256i s0, __m256i s1, __m256i s2, __m256i s3) {
    const __m256i t01 = _mm256_add_epi32(_mm256_unpacklo_epi32(s0, s1), _mm256_unpackhi_epi32(s0, s1));
    const __m256i t23 = _mm256_add_epi32(_mm256_unpacklo_epi32(s2, s3), _mm256_unpackhi_epi32(s2, s3));
    return _mm256_add_epi32(_mm256_unpacklo_epi64(t01, t23), _mm256_unpackhi_epi64(t01, t23));
}

// The same for four rows' int16 vectors: each output lane sums 4 input lanes of one row, so every input lane
// must stay below 2^15 / 4 (4-bit codes: a lane is at most 2·2·15·127 = 7620).
inline __m128i fold4_i16(__m128i p0, __m128i p1, __m128i p2, __m128i p3) {
    const __m128i t01 = _mm_add_epi16(_mm_unpacklo_epi32(p0, p1), _mm_unpackhi_epi32(p0, p1));
    const __m128i t23 = _mm_add_epi16(_mm_unpacklo_epi32(p2, p3), _mm_unpackhi_epi32(p2, p3));
    return _mm_add_epi16(_mm_unpacklo_epi64(t01, t23), _mm_unpackhi_epi64(t01, t23));
}
// 5-bit codes (lanes up to 2·2·31·127 = 15748): one level in int16 (2 lanes), then widen and finish in int32.
inline __m128i fold4_i16_i32(__m128i p0, __m128i p1, __m128i p2, __m128i p3) {
    const __m128i ones = _mm_set1_epi16(1);
    const __m128i t01 = _mm_madd_epi16(_mm_add_epi16(_mm_unpacklo_epi32(p0, p1), _mm_unpackhi_epi32(p0, p1)), ones);
    const __m128i t23 = _mm_madd_epi16(_mm_add_epi16(_mm_unpacklo_epi32(p2, p3), _mm_unpackhi_epi32(p2, p3)), ones);
    return _mm_add_epi32(_mm_unpacklo_epi64(t01, t23), _mm_unpackhi_epi64(t01, t23));
}

// The main tile: 4 rows × NR tokens (NR = 1 is decode's matvec). Each row's block is unpacked once per block
// and reused for NR tokens; per token the four rows' products are folded into one vector (slot r = row r), so
// one vpmaddwd, one convert and one multiply-add serve all four rows.
// Unsigned codes work in 128-bit halves: per row two vpmaddubsw (values 0–15 and 16–31) added in int16, then
// folded (4-bit codes entirely in int16, 5-bit codes half in int16 and half in int32, see fold4_i16*). Signed
// codes (Q8_0, IQ4_NL: pairs up to 2·127²) are widened per row and folded in int32. On Zen 1 this takes most
// vpmaddwd off the integer-multiply pipe: ~2.25 instead of 4 cycles of that pipe per 32 MACs for 4-bit codes.
template <class D, int NR>
void tile4(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
           float* const* y, int64_t col, bool accumulate) {
    const A8Tokens<NR> tokens(a, as, nb);
    const auto& aq = tokens.q;
    const auto& ad = tokens.d;
    const auto& asum_f = tokens.s;
    const auto& asum_i = tokens.sum;
    __m128 acc[NR], corr[NR];
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) acc[t] = corr[t] = _mm_setzero_ps();
    // The next 4-row group, fetched ahead at the pace this group is read: rows are short (a 2048-value Q4_0 row is
    // 18 cache lines), too short for the hardware prefetcher to ramp up on each one when weights stream from DRAM.
    const uint8_t* next = w + 4 * ws;
    for (int64_t b = b0; b < b1; ++b) {
        const uint8_t* wb = w + b * D::kBytes;
        _mm_prefetch(reinterpret_cast<const char*>(next + (b - b0) * 4 * D::kBytes), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(next + (b - b0) * 4 * D::kBytes + 64), _MM_HINT_T0);
        uint64_t dbits = 0, mbits = 0;
        __m128i lo[4], hi[4];
        __m256i code[4];
#pragma GCC unroll 4
        for (int r = 0; r < 4; ++r) {
            if constexpr (D::kSigned) code[r] = D::codes(wb + r * ws);
            else D::codes_lo_hi(wb + r * ws, lo[r], hi[r]);
            dbits |= uint64_t(load_u16(wb + r * ws)) << (16 * r);
            if constexpr (D::kMin) mbits |= uint64_t(load_u16(wb + r * ws + 2)) << (16 * r);
        }
        const __m128 dw = _mm_cvtph_ps(_mm_cvtsi64_si128(int64_t(dbits)));
        __m128 mw = _mm_setzero_ps();
        if constexpr (D::kMin) mw = _mm_cvtph_ps(_mm_cvtsi64_si128(int64_t(mbits)));
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) {
            __m128i s;
            if constexpr (D::kSigned) {
                const __m256i av = _mm256_load_si256(reinterpret_cast<const __m256i*>(aq[t] + 32 * b));
                const __m256i ones = _mm256_set1_epi16(1);
                __m256i p[4];
#pragma GCC unroll 4
                for (int r = 0; r < 4; ++r)
                    p[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_sign_epi8(code[r], code[r]),
                                                                  _mm256_sign_epi8(av, code[r])),
                                             ones);
                const __m256i f = fold4_i32(p[0], p[1], p[2], p[3]);
                s = _mm_add_epi32(_mm256_castsi256_si128(f), _mm256_extracti128_si256(f, 1));
            } else {
                const __m128i a_lo = _mm_load_si128(reinterpret_cast<const __m128i*>(aq[t] + 32 * b));
                const __m128i a_hi = _mm_load_si128(reinterpret_cast<const __m128i*>(aq[t] + 32 * b + 16));
                __m128i p[4];
#pragma GCC unroll 4
                for (int r = 0; r < 4; ++r)
                    p[r] = _mm_add_epi16(_mm_maddubs_epi16(lo[r], a_lo), _mm_maddubs_epi16(hi[r], a_hi));
                s = D::kCodeMax <= 15 ? _mm_madd_epi16(fold4_i16(p[0], p[1], p[2], p[3]), _mm_set1_epi16(1))
                                      : fold4_i16_i32(p[0], p[1], p[2], p[3]);
            }
            // offset·Σa, exactly, in the integer domain.
            if constexpr (D::kOffset != 0) s = _mm_add_epi32(s, _mm_set1_epi32(D::kOffset * asum_i[t][b]));
            acc[t] = _mm_fmadd_ps(_mm_cvtepi32_ps(s), _mm_mul_ps(dw, _mm_set1_ps(ad[t][b])), acc[t]);
            if constexpr (D::kMin) corr[t] = _mm_fmadd_ps(mw, _mm_set1_ps(asum_f[t][b]), corr[t]);
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < NR; ++t) {
        __m128 v = acc[t];
        if constexpr (D::kMin) v = _mm_add_ps(v, corr[t]);
        float* yr = y[t] + col;
        if (accumulate) v = _mm_add_ps(v, _mm_loadu_ps(yr));
        _mm_storeu_ps(yr, v);
    }
}

using TileFn = void (*)(const uint8_t*, int64_t, const uint8_t*, int64_t, int64_t, int64_t, int64_t, float* const*,
                        int64_t, bool);

template <class D, int MR, int NR, int... I>
const TileFn* tile_table(std::integer_sequence<int, I...>) {
    static constexpr TileFn kTable[] = {&tile<D, I / NR + 1, I % NR + 1>...};
    return kTable;
}

template <class D, int NR, int... I>
const TileFn* tile4_table(std::integer_sequence<int, I...>) {
    static constexpr TileFn kTable[] = {&tile4<D, I + 1>...};
    return kTable;
}

// Sweeps the tiles over the rectangle: 4-row groups outer (their unpacked blocks stay in L1), tokens inner;
// a last group of 1–3 rows takes the generic MR × NR tile (and single-token eight-lane calls take rows one by one).
template <class D, int NR>
void gemm(const GemmTile& g) {
    constexpr int MR = 4;
    const TileFn* table = tile_table<D, MR, NR>(std::make_integer_sequence<int, MR * NR>());
    const TileFn* table4 = tile4_table<D, NR>(std::make_integer_sequence<int, NR>());
    const int64_t nb = g.n_in / 32, b0 = g.k0 / 32, b1 = g.k1 / 32;
    // One token (decode) with the eight-lane recipe: one row at a time, so that each thread reads one sequential
    // stream (and fetches the next row ahead) instead of four rows side by side. Each row's lanes are its own, so
    // the bits do not change. Measured on Zen 4 (matmul_bench matvec Q8_0, 2 threads, two interleaved runs):
    // 2048x32000 1862–1915 us vs 2920–2928 us, 2048x5632 342–355 vs 509–539 us.
    const int step = g.n_tok == 1 && !D::kWholeBlocks ? 1 : MR;
    for (int64_t o = 0; o < g.n_out; o += step) {
        const int mr = int(g.n_out - o < step ? g.n_out - o : step);
        for (int64_t t = 0; t < g.n_tok; t += NR) {
            const int nr = int(g.n_tok - t < NR ? g.n_tok - t : NR);
            const TileFn fn = mr == MR && D::kWholeBlocks ? table4[nr - 1] : table[(mr - 1) * NR + (nr - 1)];
            fn(g.w + o * g.w_stride, g.w_stride, g.a + t * g.a_stride, g.a_stride, nb, b0, b1, g.y_rows + t,
               g.y_col + o, g.accumulate);
        }
    }
}

}  // namespace

void gemm_q4_0(const GemmTile& g) { gemm<Q4_0, 3>(g); }
void gemm_q4_1(const GemmTile& g) { gemm<Q4_1, 3>(g); }
void gemm_q5_0(const GemmTile& g) { gemm<Q5_0, 3>(g); }
void gemm_q5_1(const GemmTile& g) { gemm<Q5_1, 3>(g); }
void gemm_q8_0(const GemmTile& g) { gemm<Q8_0, 3>(g); }
void gemm_iq4_nl(const GemmTile& g) { gemm<IQ4_NL, 3>(g); }

}  // namespace loom::kernels::cpu::avx2
