// AVX2 + FMA + F16C row kernels of the element-wise family (contract in cpu/elementwise.h): groups of 8 in
// registers, row tails and unvectorised ops handed to the portable kernels.
//
// Only intrinsics and internal-linkage helpers here, no inline functions from shared headers: a copy
// compiled with these flags could be the one the linker keeps for portable callers (and GCC would contract
// its a·b + c into FMAs). Every rounding step below is an explicit intrinsic.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/x86/avx2/expf_ggml.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::cpu::x86 {

namespace {

inline __m256 load(const float* p) { return _mm256_loadu_ps(p); }
inline void store(float* p, __m256 v) { _mm256_storeu_ps(p, v); }

// e^x on 8 lanes by ggml_v_expf's algorithm (expf_ggml.h). About 1.5 ulp from expf; the bits equal ggml's
// wherever |n| <= 126. Outside that range (results below 1.2e−38 or above 1.7e38) ggml rescales in two steps;
// here x below −104 (including −inf) gives 0 as expf does, and the rare other lanes are recomputed with libm
// expf, so they equal the portable kernels' bits instead.
inline __m256 exp8(__m256 x) {
    const avx2::ExpfParts f = avx2::expf_parts(x);
    const __m256 n = f.n, p = f.p, k = f.k;
    const __m256 underflow = _mm256_cmp_ps(n, _mm256_set1_ps(-126.0f), _CMP_LT_OQ);
    __m256 y = _mm256_andnot_ps(underflow, _mm256_fmadd_ps(p, k, k));
    const __m256 rare = _mm256_or_ps(_mm256_cmp_ps(n, _mm256_set1_ps(126.0f), _CMP_GT_OQ),
                                     _mm256_and_ps(underflow, _mm256_cmp_ps(x, _mm256_set1_ps(-104.0f), _CMP_GT_OQ)));
    if (const int lanes = _mm256_movemask_ps(rare)) [[unlikely]] {
        alignas(32) float xs[8], ys[8];
        _mm256_store_ps(xs, x);
        _mm256_store_ps(ys, y);
        for (int j = 0; j < 8; ++j)
            if (lanes & (1 << j)) ys[j] = __builtin_expf(xs[j]);
        y = _mm256_load_ps(ys);
    }
    return y;
}

// x / (1 + e^−x), as ggml_v_silu.
inline __m256 silu8(__m256 x) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_setzero_ps(), x));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

// The f16 table lookup: index = x rounded to f16 (nearest even, as ggml's _cvtss_sh(x, 0)).
inline __m256 lookup8(const float* table, __m256 x) {
    const __m128i h = _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT);
    return _mm256_i32gather_ps(table, _mm256_cvtepu16_epi32(h), 4);
}

// tanh GELU as ggml_vec_gelu_f32: 0 at or below −10, x at or above 10, the table in between.
inline __m256 gelu_tanh8(const float* table, __m256 x) {
    __m256 g = lookup8(table, x);
    g = _mm256_blendv_ps(g, x, _mm256_cmp_ps(x, _mm256_set1_ps(10.0f), _CMP_GE_OQ));
    return _mm256_andnot_ps(_mm256_cmp_ps(x, _mm256_set1_ps(-10.0f), _CMP_LE_OQ), g);
}

// Σ of 8 lanes in the order of ggml's AVX2 softmax: (hi + lo) halves, then lanes 0+2 and 1+3, then those two.
inline float hsum_ggml(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_extractf128_ps(v, 1), _mm256_castps256_ps128(v));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

double sum_squares(const float* x, int64_t n) {
    // Squares in f32 (as ggml), widened exactly and summed in four double accumulators.
    __m256d acc0 = _mm256_setzero_pd(), acc1 = _mm256_setzero_pd();
    __m256d acc2 = _mm256_setzero_pd(), acc3 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m256 a = load(x + i), b = load(x + i + 8);
        const __m256 a2 = _mm256_mul_ps(a, a), b2 = _mm256_mul_ps(b, b);
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(a2)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(a2, 1)));
        acc2 = _mm256_add_pd(acc2, _mm256_cvtps_pd(_mm256_castps256_ps128(b2)));
        acc3 = _mm256_add_pd(acc3, _mm256_cvtps_pd(_mm256_extractf128_ps(b2, 1)));
    }
    for (; i + 8 <= n; i += 8) {
        const __m256 a = load(x + i);
        const __m256 a2 = _mm256_mul_ps(a, a);
        acc0 = _mm256_add_pd(acc0, _mm256_cvtps_pd(_mm256_castps256_ps128(a2)));
        acc1 = _mm256_add_pd(acc1, _mm256_cvtps_pd(_mm256_extractf128_ps(a2, 1)));
    }
    const __m256d acc = _mm256_add_pd(_mm256_add_pd(acc0, acc1), _mm256_add_pd(acc2, acc3));
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(acc), _mm256_extractf128_pd(acc, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s) + portable::sum_squares(x + i, n - i);
}

void mul_scale(float* y, const float* x, float s, const float* w, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s);
    int64_t i = 0;
    if (w) {
        for (; i + 8 <= n; i += 8) store(y + i, _mm256_mul_ps(_mm256_mul_ps(load(x + i), vs), load(w + i)));
    } else {
        for (; i + 8 <= n; i += 8) store(y + i, _mm256_mul_ps(load(x + i), vs));
    }
    if (i < n) portable::mul_scale(y + i, x + i, s, w ? w + i : nullptr, n - i);
}

// ggml_compute_forward_soft_max_f32 on AVX2: scale, add the mask, f32 max, ggml_vec_soft_max_f32 (vector
// exp on groups of 8, each group summed in f32 and added to a double; expf on the tail), then × 1/sum.
void softmax_row(float* y, const float* x, const float* mask, float scale, float softcap, int64_t n) {
    int64_t i = 0;
    if (softcap == 0.0f) {
        const __m256 vs = _mm256_set1_ps(scale);
        for (; i + 8 <= n; i += 8) {
            __m256 v = _mm256_mul_ps(load(x + i), vs);
            if (mask) v = _mm256_add_ps(v, load(mask + i));
            store(y + i, v);
        }
    }
    if (i < n) portable::softmax_prepare(y + i, x + i, mask ? mask + i : nullptr, scale, softcap, n - i);

    const __m256 neg_inf = _mm256_set1_ps(-__builtin_inff());
    __m256 vmax = neg_inf;
    i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, load(y + i));
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    for (; i < n; ++i) m = _mm_max_ss(m, _mm_load_ss(y + i));
    const float max = _mm_cvtss_f32(m);

    if (max == -__builtin_inff()) {  // fully masked row: zeros (see ref/softmax.cpp)
        std::memset(y, 0, size_t(n) * sizeof(float));
        return;
    }
    const __m256 vm = _mm256_set1_ps(max);
    double sum = 0.0;
    i = 0;
    for (; i + 8 <= n; i += 8) {
        const __m256 e = exp8(_mm256_sub_ps(load(y + i), vm));
        store(y + i, e);
        sum += double(hsum_ggml(e));
    }
    if (i < n) sum += portable::exp_shift_sum(y + i, y + i, max, n - i);
    mul_scale(y, y, float(1.0 / sum), nullptr, n);
}

void unary(UnaryOp op, float* y, const float* x, int64_t n) {
    int64_t i = 0;
    switch (op) {
        case UnaryOp::silu:
            for (; i + 8 <= n; i += 8) store(y + i, silu8(load(x + i)));
            break;
        case UnaryOp::gelu_tanh: {
            const float* table = gelu_tanh_table();
            for (; i + 8 <= n; i += 8) store(y + i, gelu_tanh8(table, load(x + i)));
            break;
        }
        case UnaryOp::gelu_quick: {
            const float* table = gelu_quick_table();
            for (; i + 8 <= n; i += 8) store(y + i, lookup8(table, load(x + i)));
            break;
        }
        case UnaryOp::identity:
            if (y != x) std::memmove(y, x, size_t(n) * sizeof(float));
            return;
        case UnaryOp::neg:
            for (; i + 8 <= n; i += 8) store(y + i, _mm256_xor_ps(load(x + i), _mm256_set1_ps(-0.0f)));
            break;
        case UnaryOp::relu:  // max_ps returns its second operand (+0) for NaN and ±0, as x > 0 ? x : 0
            for (; i + 8 <= n; i += 8) store(y + i, _mm256_max_ps(load(x + i), _mm256_setzero_ps()));
            break;
        case UnaryOp::sqr:
            for (; i + 8 <= n; i += 8) {
                const __m256 v = load(x + i);
                store(y + i, _mm256_mul_ps(v, v));
            }
            break;
        case UnaryOp::sqrt:
            for (; i + 8 <= n; i += 8) store(y + i, _mm256_sqrt_ps(load(x + i)));
            break;
        default:  // sigmoid, softplus, exp, tanh, gelu_erf: libm per element, as ggml
            break;
    }
    if (i < n) portable::unary(op, y + i, x + i, n - i);
}

void glu(UnaryOp act, float* y, const float* gate, const float* up, int64_t n) {
    int64_t i = 0;
    switch (act) {
        case UnaryOp::silu:  // ggml_vec_swiglu_f32: silu(gate) · up
            for (; i + 8 <= n; i += 8) store(y + i, _mm256_mul_ps(silu8(load(gate + i)), load(up + i)));
            break;
        case UnaryOp::gelu_tanh: {  // ggml_vec_geglu_f32
            const float* table = gelu_tanh_table();
            for (; i + 8 <= n; i += 8) store(y + i, _mm256_mul_ps(gelu_tanh8(table, load(gate + i)), load(up + i)));
            break;
        }
        case UnaryOp::gelu_quick: {
            const float* table = gelu_quick_table();
            for (; i + 8 <= n; i += 8) store(y + i, _mm256_mul_ps(lookup8(table, load(gate + i)), load(up + i)));
            break;
        }
        default: break;
    }
    if (i < n) portable::glu(act, y + i, gate + i, up + i, n - i);
}

void binary(BinaryOp op, float* y, const float* a, const float* b, int64_t n) {
    int64_t i = 0;
    switch (op) {
        case BinaryOp::add:
            for (; i + 8 <= n; i += 8) store(y + i, _mm256_add_ps(load(a + i), load(b + i)));
            break;
        case BinaryOp::sub:
            for (; i + 8 <= n; i += 8) store(y + i, _mm256_sub_ps(load(a + i), load(b + i)));
            break;
        case BinaryOp::mul:
            for (; i + 8 <= n; i += 8) store(y + i, _mm256_mul_ps(load(a + i), load(b + i)));
            break;
        case BinaryOp::div:
            for (; i + 8 <= n; i += 8) store(y + i, _mm256_div_ps(load(a + i), load(b + i)));
            break;
    }
    if (i < n) portable::binary(op, y + i, a + i, b + i, n - i);
}

// x·s when bias is 0 (ggml_vec_scale_f32), else one FMA (ggml_vec_mad1_f32).
void scale(float* y, const float* x, float s, float bias, int64_t n) {
    const __m256 vs = _mm256_set1_ps(s), vb = _mm256_set1_ps(bias);
    int64_t i = 0;
    if (bias == 0.0f) {
        for (; i + 8 <= n; i += 8) store(y + i, _mm256_mul_ps(load(x + i), vs));
    } else {
        for (; i + 8 <= n; i += 8) store(y + i, _mm256_fmadd_ps(load(x + i), vs, vb));
    }
    if (i < n) portable::scale(y + i, x + i, s, bias, n - i);
}

// Adjacent pairs, 4 per register, rounded as GCC's fmaddsub vectorisation of ggml's rotate_pairs:
// even lanes fma(x0, c, −x1·s), odd lanes fma(x0, s, x1·c).
void rope_norm(float* y, const float* x, const float* cos, const float* sin, int64_t n_pairs) {
    int64_t k = 0;
    for (; k + 4 <= n_pairs; k += 4) {
        const __m256 v = load(x + 2 * k);
        const __m128 c4 = _mm_loadu_ps(cos + k), s4 = _mm_loadu_ps(sin + k);
        const __m256 cs = _mm256_set_m128(_mm_unpackhi_ps(c4, s4), _mm_unpacklo_ps(c4, s4));  // [c0 s0 c1 s1 ...]
        const __m256 sc = _mm256_permute_ps(cs, 0xB1);                                        // [s0 c0 s1 c1 ...]
        const __m256 x0 = _mm256_moveldup_ps(v), x1 = _mm256_movehdup_ps(v);                  // [x0 x0 x2 x2 ...]
        store(y + 2 * k, _mm256_fmaddsub_ps(x0, cs, _mm256_mul_ps(x1, sc)));
    }
    if (k < n_pairs) portable::rope_norm(y + 2 * k, x + 2 * k, cos + k, sin + k, n_pairs - k);
}

// Split halves: y0 = fma(x0, c, −x1·s), y1 = fma(x0, s, x1·c), as ggml's rotate_pairs built by GCC.
void rope_neox(float* y, const float* x, const float* cos, const float* sin, int64_t n_pairs) {
    const float* x1p = x + n_pairs;
    float* y1p = y + n_pairs;
    int64_t k = 0;
    for (; k + 8 <= n_pairs; k += 8) {
        const __m256 x0 = load(x + k), x1 = load(x1p + k), c = load(cos + k), s = load(sin + k);
        const __m256 y0 = _mm256_fmsub_ps(x0, c, _mm256_mul_ps(x1, s));
        const __m256 y1 = _mm256_fmadd_ps(x0, s, _mm256_mul_ps(x1, c));
        store(y + k, y0);
        store(y1p + k, y1);
    }
    if (k < n_pairs) portable::rope_halves(y + k, y1p + k, x + k, x1p + k, cos + k, sin + k, n_pairs - k);
}

const EwKernels kAvx2{sum_squares, mul_scale, softmax_row, unary, glu, binary, scale, rope_norm, rope_neox};

}  // namespace

const EwKernels& ew_kernels_avx2() { return kAvx2; }

}  // namespace loom::kernels::cpu::x86
