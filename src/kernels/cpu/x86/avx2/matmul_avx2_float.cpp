// AVX2 tiles for f32, f16 and bf16 weights against f32 activations (already rounded to the weight's half type by
// the packer, so every product is the reference's f16·f16 or bf16·bf16 product, taken in f32).
// A tile keeps MR × NR eight-lane f32 accumulators; each weight vector (widened once) feeds NR FMAs. Sums run per
// lane over the row and are reduced at the end: tinyBLAS's order (llama.cpp's batches). A single token takes
// ggml_vec_dot_f16/f32's order instead (four accumulators over 32-value steps, its reduction, the tail in double).
#include <immintrin.h>

#include <cstdint>
#include <cstring>
#include <utility>

#include "kernels/cpu/x86/avx2/avx2_util.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"

namespace loom::kernels::cpu::avx2 {
namespace {

struct F32 {
    static constexpr int kSize = 4;
    static __m256 load8(const uint8_t* p) { return _mm256_loadu_ps(reinterpret_cast<const float*>(p)); }
    static float load1(const uint8_t* p) {
        float v;
        std::memcpy(&v, p, 4);
        return v;
    }
};
struct F16 {
    static constexpr int kSize = 2;
    static __m256 load8(const uint8_t* p) {
        return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    }
    static float load1(const uint8_t* p) {
        uint16_t v;
        std::memcpy(&v, p, 2);
        return _cvtsh_ss(v);
    }
};
struct BF16 {
    static constexpr int kSize = 2;
    static __m256 load8(const uint8_t* p) {
        const __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
    }
    static float load1(const uint8_t* p) {
        uint16_t v;
        std::memcpy(&v, p, 2);
        const uint32_t b = uint32_t(v) << 16;
        float f;
        std::memcpy(&f, &b, 4);
        return f;
    }
};

template <class W, int MR, int NR>
void tile(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t k0, int64_t k1, float* const* y,
          int64_t col, bool accumulate) {
    const float* ar[NR];
    for (int t = 0; t < NR; ++t) ar[t] = reinterpret_cast<const float*>(a + t * as);
    __m256 acc[MR][NR];
    for (int r = 0; r < MR; ++r)
        for (int t = 0; t < NR; ++t) acc[r][t] = _mm256_setzero_ps();
    int64_t k = k0;
    for (; k + 8 <= k1; k += 8) {
        for (int r = 0; r < MR; ++r) {
            const __m256 wv = W::load8(w + r * ws + k * W::kSize);
            for (int t = 0; t < NR; ++t) acc[r][t] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(ar[t] + k), acc[r][t]);
        }
    }
    for (int t = 0; t < NR; ++t) {
        float* yr = y[t] + col;
        for (int r = 0; r < MR; ++r) {
            float v = hsum(acc[r][t]);
            for (int64_t i = k; i < k1; ++i) v += W::load1(w + r * ws + i * W::kSize) * ar[t][i];
            yr[r] = accumulate ? yr[r] + v : v;
        }
    }
}

// One weight row · one token in ggml_vec_dot_f32 / ggml_vec_dot_f16's order.
template <class W>
float dot_vec_dot_order(const uint8_t* w, const float* a, int64_t k0, int64_t k1) {
    const int64_t np = k0 + ((k1 - k0) & ~int64_t(31));
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int64_t k = k0; k < np; k += 32) {
        s0 = _mm256_fmadd_ps(W::load8(w + k * W::kSize), _mm256_loadu_ps(a + k), s0);
        s1 = _mm256_fmadd_ps(W::load8(w + (k + 8) * W::kSize), _mm256_loadu_ps(a + k + 8), s1);
        s2 = _mm256_fmadd_ps(W::load8(w + (k + 16) * W::kSize), _mm256_loadu_ps(a + k + 16), s2);
        s3 = _mm256_fmadd_ps(W::load8(w + (k + 24) * W::kSize), _mm256_loadu_ps(a + k + 24), s3);
    }
    s0 = _mm256_add_ps(_mm256_add_ps(s0, s2), _mm256_add_ps(s1, s3));
    const __m128 t0 = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    const __m128 t1 = _mm_hadd_ps(t0, t0);
    double sum = _mm_cvtss_f32(_mm_hadd_ps(t1, t1));
    for (int64_t k = np; k < k1; ++k) sum += double(W::load1(w + k * W::kSize) * a[k]);
    return float(sum);
}

using TileFn = void (*)(const uint8_t*, int64_t, const uint8_t*, int64_t, int64_t, int64_t, float* const*, int64_t,
                        bool);

template <class W, int MR, int NR, int... I>
const TileFn* tile_table(std::integer_sequence<int, I...>) {
    static constexpr TileFn kTable[] = {&tile<W, I / NR + 1, I % NR + 1>...};
    return kTable;
}

template <class W, int MR, int NR>
void gemm(const GemmTile& g) {
    // tinyBLAS takes a call of 2+ tokens only when its tiles fit: rows a multiple of 4 and rows of whole 8-value
    // vectors (llamafile_sgemm's matmul(m, n) refuses the rest, and ggml falls back to vec_dot per row and token:
    // a router or gate of 1 or 2 rows). One token per call (or rows computed alone) is vec_dot too.
    if (g.call_tokens == 1 || g.call_rows % 4 != 0 || g.n_in % 8 != 0) {  // ggml_vec_dot's order
        for (int64_t t = 0; t < g.n_tok; ++t) {
            const float* a = reinterpret_cast<const float*>(g.a + t * g.a_stride);
            float* y = g.y_rows[t] + g.y_col;
            for (int64_t o = 0; o < g.n_out; ++o) {
                const float v = dot_vec_dot_order<W>(g.w + o * g.w_stride, a, g.k0, g.k1);
                y[o] = g.accumulate ? y[o] + v : v;
            }
        }
        return;
    }
    const TileFn* table = tile_table<W, MR, NR>(std::make_integer_sequence<int, MR * NR>());
    for (int64_t o = 0; o < g.n_out; o += MR) {
        const int mr = int(g.n_out - o < MR ? g.n_out - o : MR);
        for (int64_t t = 0; t < g.n_tok; t += NR) {
            const int nr = int(g.n_tok - t < NR ? g.n_tok - t : NR);
            table[(mr - 1) * NR + (nr - 1)](g.w + o * g.w_stride, g.w_stride, g.a + t * g.a_stride, g.a_stride, g.k0,
                                            g.k1, g.y_rows + t, g.y_col + o, g.accumulate);
        }
    }
}

}  // namespace

void gemm_f32(const GemmTile& g) { gemm<F32, 3, 4>(g); }
void gemm_f16(const GemmTile& g) { gemm<F16, 3, 4>(g); }
void gemm_bf16(const GemmTile& g) { gemm<BF16, 3, 4>(g); }

}  // namespace loom::kernels::cpu::avx2
