// AVX2 f32 GEMM for prefill: C[r][t] (+)= Σ_k W[r][k]·A[t][k] with W rows decoded to f32 (row-major) and A
// token-interleaved in blocks of 16 ([k][16] per block), so that one broadcast weight feeds two 8-token FMAs.
//
// Why an f32 path at all: on Zen 1 a 256-bit vpmaddubsw or vpmaddwd takes 2 cycles on the one integer-multiply
// pipe, and the per-block scaling around them competes for the other pipes, so the integer tiles of 8-bit,
// K-quant and half weights reach ~30 GFLOP/s a core, while two FMA pipes do 32 MACs in 4 cycles with nothing
// else to do: this kernel runs at ~95% of that (~39 GFLOP/s a core at 2.45 GHz). The 4-bit legacy types fold
// enough of their integer work to stay faster on the integer path (matmul_avx2_legacy.cpp).
// The micro-kernel is 6 rows × 16 tokens: 12 accumulators, 2 activation vectors, 1 broadcast = 15 registers.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/cpu/x86/avx2/matmul_avx2.h"

namespace loom::kernels::cpu::avx2 {
namespace {

constexpr int kTok = 16;  // tokens per interleaved block

// C[MR][16] (+)= W[MR][kc] · A[kc][16]ᵀ. w: MR rows at stride ws (floats); a: [kc][16]; c: MR rows at stride cs.
// (The loops carry `#pragma GCC unroll`: without complete unrolling before scalar replacement, GCC keeps the
// accumulator array in memory and stores it every iteration.)
template <int MR>
void micro(const float* w, int64_t ws, const float* a, int64_t kc, float* c, int64_t cs, bool accumulate) {
    __m256 acc0[MR], acc1[MR];
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) acc0[r] = acc1[r] = _mm256_setzero_ps();
    for (int64_t k = 0; k < kc; ++k) {
        const __m256 a0 = _mm256_load_ps(a + kTok * k), a1 = _mm256_load_ps(a + kTok * k + 8);
#pragma GCC unroll 8
        for (int r = 0; r < MR; ++r) {
            const __m256 wb = _mm256_broadcast_ss(w + r * ws + k);
            acc0[r] = _mm256_fmadd_ps(wb, a0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(wb, a1, acc1[r]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
        float* cr = c + r * cs;
        if (accumulate) {
            acc0[r] = _mm256_add_ps(acc0[r], _mm256_loadu_ps(cr));
            acc1[r] = _mm256_add_ps(acc1[r], _mm256_loadu_ps(cr + 8));
        }
        _mm256_storeu_ps(cr, acc0[r]);
        _mm256_storeu_ps(cr + 8, acc1[r]);
    }
}

using MicroFn = void (*)(const float*, int64_t, const float*, int64_t, float*, int64_t, bool);
constexpr MicroFn kMicro[] = {micro<1>, micro<2>, micro<3>, micro<4>, micro<5>, micro<6>};

}  // namespace

void sgemm_panel(const SgemmPanel& p) {
    constexpr int kRows = 6;
    for (int64_t r = 0; r < p.n_rows; r += kRows) {
        const int mr = int(p.n_rows - r < kRows ? p.n_rows - r : kRows);
        for (int64_t tb = 0; tb < p.n_blocks; ++tb)
            kMicro[mr - 1](p.w + r * p.w_stride, p.w_stride, p.a + tb * p.a_block_stride, p.kc,
                           p.c + r * p.c_stride + kTok * tb, p.c_stride, p.accumulate);
    }
}

// rows[i][k] -> dst[k][i] for i < n (16 columns, the missing ones zero). 8×8 transposes for the bulk.
void interleave16(const float* const* rows, int n, int64_t n_in, float* dst) {
    const __m256 zero = _mm256_setzero_ps();
    int64_t k = 0;
    for (; k + 8 <= n_in; k += 8) {
        for (int half = 0; half < 2; ++half) {
            __m256 v[8];
            for (int i = 0; i < 8; ++i) {
                const int row = 8 * half + i;
                v[i] = row < n ? _mm256_loadu_ps(rows[row] + k) : zero;
            }
            // 8×8 transpose: unpack pairs, then 2×2 blocks, then 128-bit halves.
            const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
            const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
            const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
            const __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
            const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xee);
            const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xee);
            const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xee);
            const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xee);
            const __m256 out[8] = {
                _mm256_permute2f128_ps(s0, s4, 0x20), _mm256_permute2f128_ps(s1, s5, 0x20),
                _mm256_permute2f128_ps(s2, s6, 0x20), _mm256_permute2f128_ps(s3, s7, 0x20),
                _mm256_permute2f128_ps(s0, s4, 0x31), _mm256_permute2f128_ps(s1, s5, 0x31),
                _mm256_permute2f128_ps(s2, s6, 0x31), _mm256_permute2f128_ps(s3, s7, 0x31),
            };
            for (int j = 0; j < 8; ++j) _mm256_store_ps(dst + kTok * (k + j) + 8 * half, out[j]);
        }
    }
    for (; k < n_in; ++k)
        for (int i = 0; i < kTok; ++i) dst[kTok * k + i] = i < n ? rows[i][k] : 0.f;
}

}  // namespace loom::kernels::cpu::avx2
