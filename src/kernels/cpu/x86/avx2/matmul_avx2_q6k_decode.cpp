// The Q6_K decode tile (one token, four rows) of the AVX2 K-quant kernels (matmul_avx2_kquant.cpp picks it).
#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/x86/avx2/avx2_util.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"

namespace loom::kernels::cpu::avx2 {

// Q6_K, one token, four rows: ggml_vec_dot_q6_K_q8_K's recipe (the same 8 lanes as `tile` with vec_dot), laid out
// for decode: each 128-value half is loaded once (low bits twice 32 bytes, high bits 32 bytes) and yields four
// 32-value chunks; the lane sums stay in registers.
void tile_q6k_row4(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t /*as*/, int64_t nb, int64_t b0, int64_t b1,
                   float* const* y, int64_t col, bool accumulate) {
    const auto* aq = reinterpret_cast<const int8_t*>(a);
    const auto* ad = reinterpret_cast<const float*>(a + 256 * nb);
    const auto* absum = reinterpret_cast<const int16_t*>(a + 260 * nb);
    const __m256i m15 = _mm256_set1_epi8(15), m30 = _mm256_set1_epi8(0x30);
    // int16 lanes 0–7 take scale 2j, lanes 8–15 scale 2j+1 (j = the chunk's index in the half, per byte pair)
    const __m128i lo_hi = _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    for (int64_t b = b0; b < b1; ++b) {
        const int8_t* q8 = aq + 256 * b;
        const __m256i bs = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(absum + 16 * b));
        __m256i av[8];
        for (int j = 0; j < 8; ++j) av[j] = _mm256_load_si256(reinterpret_cast<const __m256i*>(q8 + 32 * j));
        // The next 4-row group, fetched ahead at the pace this one is read (as tile4: short rows defeat the
        // hardware prefetcher when weights stream from DRAM).
        for (int r = 0; r < 4; ++r)
            for (int l = 0; l < 210; l += 64)
                _mm_prefetch(reinterpret_cast<const char*>(w + (4 + r) * ws + b * 210 + l), _MM_HINT_T0);
        for (int r = 0; r < 4; ++r) {
            const uint8_t* x = w + r * ws + b * 210;
            const __m128i sc = _mm_loadu_si128(reinterpret_cast<const __m128i*>(x + 192));
            __m256i sumi = _mm256_setzero_si256();
            for (int h = 0; h < 2; ++h) {
                const __m256i ql0 = load32(x + 64 * h), ql1 = load32(x + 64 * h + 32), qh = load32(x + 128 + 32 * h);
                const __m256i c[4] = {
                    _mm256_or_si256(_mm256_and_si256(ql0, m15), _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
                    _mm256_or_si256(_mm256_and_si256(ql1, m15), _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m15), _mm256_and_si256(qh, m30)),
                    _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m15),
                                    _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30))};
                for (int k = 0; k < 4; ++k) {
                    const int j = 4 * h + k;
                    const __m256i s16 =
                        _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, _mm_add_epi8(lo_hi, _mm_set1_epi8(char(2 * j)))));
                    sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(s16, _mm256_maddubs_epi16(c[k], av[j])));
                }
            }
            // −32 per value through bsums: lane l takes 32·(bs_2l·sc_2l + bs_2l+1·sc_2l+1), as ggml subtracts it.
            sumi = _mm256_sub_epi32(sumi, _mm256_slli_epi32(_mm256_madd_epi16(bs, _mm256_cvtepi8_epi16(sc)), 5));
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(f16_at(x + 208) * ad[b]), _mm256_cvtepi32_ps(sumi), acc[r]);
        }
    }
    float* yr = y[0] + col;
    for (int r = 0; r < 4; ++r) {
        const float v = hsum(acc[r]);
        yr[r] = accumulate ? yr[r] + v : v;
    }
}

}  // namespace loom::kernels::cpu::avx2
