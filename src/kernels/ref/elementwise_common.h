// Shared by kernels::ref and kernels::cpu for the element-wise family (norm, rope, softmax, unary, binary,
// scale, glu, top_k): the argument checks (one source for every error message), the scalar formulas with
// llama.cpp's CPU numerics, and the rope angle table. Internal to kernels/.
//
// Numerics source: llama.cpp's ggml CPU backend (ggml/src/ggml-cpu/{ops.cpp,vec.h,vec.cpp,ggml-cpu.c}).
// That backend is built with -march=native, and GCC then contracts a·b + c into one FMA inside its scalar
// C/C++ code (the disassembly of libggml-cpu.so, GCC 12 on this machine, shows it in the rope rotation, the
// YaRN angle mix and the GELU table). Where that changes the rounding, the formulas below write the FMA
// explicitly (and kernel files include ref/no_fp_contract.h, so nothing else is fused), so loom rounds the
// same way whatever its own build flags are. Sums that ggml keeps in double (norms, softmax) are double here.
// Where ggml's x86 build uses a polynomial exp (silu, swiglu, softmax) the reference keeps libm's expf and
// differs from llama.cpp by at most 4 ulp; the AVX2 kernels reproduce the polynomial (cpu/elementwise.h).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/half.h"
#include "kernels/ops.h"

namespace loom::kernels::ref {

// ---- argument checks: Ok, or Error::invalid that starts with the op's name ("rms_norm: ...").

const char* op_name(NormKind k);   // "rms_norm", "layer_norm", "l2_norm"
const char* op_name(BinaryOp op);  // "add", "sub", "mul", "div"
Status check_norm_args(const NormArgs& a);
Status check_rope_args(const RopeArgs& a);
Status check_softmax_args(const SoftmaxArgs& a);
// One softmax row as ggml computes it (ref/softmax.cpp); s is scratch. y may alias x.
void softmax_row(const float* x, const float* mask, float* y, int64_t n, float scale, float softcap,
                 std::vector<float>& s);
Status check_unary_args(const UnaryArgs& a);
Status check_binary_args(const BinaryArgs& a);
Status check_scale_args(const ScaleArgs& a);
Status check_glu_args(const GluArgs& a);
Status check_top_k_args(const TopKArgs& a);

// `t` is present, f32, in host memory, rank >= 1 (any outer shape; rows are the last dim).
Status check_f32_rows(const char* op, const char* what, const TensorView& t);

// One layer-norm row (w, b may be null; y may alias x); the fast CPU backend threads this same code.
void layer_norm_row(const float* x, float* y, const float* w, const float* b, int64_t d, float eps);

// ---- scalar formulas (vec.h unless noted)

inline constexpr float kSqrt2OverPi = 0.79788456080286535587989211986876f;
inline constexpr float kGeluCoefA = 0.044715f;
inline constexpr float kSqrtHalf = 0.70710678118654752440084436210484f;
inline constexpr float kGeluQuickCoef = -1.702f;

// tanh GELU in f32 as ggml_gelu_f32 evaluates it; GCC fuses the inner 1 + a·x·x into fma(a·x, x, 1).
inline float gelu_tanh_f32(float x) {
    const float inner = std::fma(kGeluCoefA * x, x, 1.0f);
    return 0.5f * x * (1.0f + std::tanh(kSqrt2OverPi * x * inner));
}

// tanh GELU as ggml's CPU applies it to f32 (GGML_GELU_FP16, ggml_vec_gelu_f32): x <= -10 gives 0, x >= 10
// gives x, anything else goes through a 64K-entry table indexed by x rounded to f16, whose entries are
// gelu_tanh_f32 of that f16 value rounded to f16 again (table built in ggml-cpu.c ggml_cpu_init).
inline float gelu_tanh(float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return f16_to_f32(f32_to_f16(gelu_tanh_f32(f16_to_f32(f32_to_f16(x)))));
}

inline float gelu_quick_f32(float x) { return x * (1.0f / (1.0f + std::exp(kGeluQuickCoef * x))); }

// Quick GELU goes through the same kind of f16 table (GGML_GELU_QUICK_FP16), without the clamps.
inline float gelu_quick(float x) { return f16_to_f32(f32_to_f16(gelu_quick_f32(f16_to_f32(f32_to_f16(x))))); }

// erf GELU has no table: 0.5·x·(1 + erf(x/√2)) in f32.
inline float gelu_erf(float x) { return 0.5f * x * (1.0f + std::erf(x * kSqrtHalf)); }

inline float silu(float x) { return x / (1.0f + std::exp(-x)); }
inline float sigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
// unary-ops.cpp op_softplus: linear above 20, where log(1 + e^x) == x in f32 anyway.
inline float softplus(float x) { return x > 20.0f ? x : std::log(1.0f + std::exp(x)); }

inline float apply_unary(UnaryOp op, float x) {
    switch (op) {
        case UnaryOp::identity: return x;
        case UnaryOp::silu: return silu(x);
        case UnaryOp::gelu_tanh: return gelu_tanh(x);
        case UnaryOp::gelu_erf: return gelu_erf(x);
        case UnaryOp::gelu_quick: return gelu_quick(x);
        case UnaryOp::sigmoid: return sigmoid(x);
        case UnaryOp::softplus: return softplus(x);
        case UnaryOp::exp: return std::exp(x);
        case UnaryOp::relu: return x > 0.0f ? x : 0.0f;
        case UnaryOp::tanh: return std::tanh(x);
        case UnaryOp::neg: return -x;
        case UnaryOp::sqr: return x * x;
        case UnaryOp::sqrt: return std::sqrt(x);
    }
    return x;
}

inline float apply_binary(BinaryOp op, float a, float b) {
    switch (op) {
        case BinaryOp::add: return a + b;
        case BinaryOp::sub: return a - b;
        case BinaryOp::mul: return a * b;
        case BinaryOp::div: return a / b;
    }
    return a;
}

// ggml_compute_forward_scale_f32: bias 0 is a plain multiply (ggml_vec_scale_f32); otherwise
// ggml_vec_mad1_f32, whose SIMD body is an FMA (and GCC fuses its scalar tail the same way).
inline float scale_bias(float x, float scale, float bias) {
    return bias == 0.0f ? x * scale : std::fma(x, scale, bias);
}

// ---- rope (ops.cpp ggml_compute_forward_rope_flt, ggml_rope_cache_init, ggml_mrope_cache_init, rope_yarn;
// ggml.c ggml_rope_yarn_corr_dims)

// Per-call constants of the angle recurrence, all in f32 as ggml computes them.
struct RopeConsts {
    float theta_scale = 1.f;  // base^(-2/n_rot): θ_{k+1} = θ_k · theta_scale, θ_0 = position
    float corr_lo = 0.f;      // YaRN ramp: pairs below lo extrapolate, above hi interpolate
    float corr_hi = 0.f;
    float mscale = 1.f;  // attn_factor, times 1 + 0.1·ln(1/freq_scale) when YaRN is on
};
RopeConsts rope_consts(const RopeArgs& a);

// cos and sin (magnitude mscale included) of every rotated pair k < n_rot/2 for token t, as ggml's angle
// cache holds them: the angle is a running f32 product per position stream, not pow() per pair.
void rope_angles(const RopeArgs& a, const RopeConsts& c, int64_t t, float* cos_out, float* sin_out);

// The rotation of one pair (rotate_pairs in ops.cpp), rounded as llama.cpp's x86 build does it: GCC fuses
// y0 = fma(x0, c, −(x1·s)) and y1 = fma(x0, s, x1·c), in the scalar NEOX loop and in the fmaddsub
// vectorisation of the NORM loop alike (checked bit for bit against libggml-cpu.so). Two corner cases of
// that build are not reproduced: with an odd number of NORM pairs its last pair is unfused, and so is an
// in-place NORM rope (llama.cpp's graphs never rope in place).
inline void rotate_pair(float x0, float x1, float c, float s, float& y0, float& y1) {
    y0 = std::fma(x0, c, -(x1 * s));
    y1 = std::fma(x0, s, x1 * c);
}

// ---- top-k order: larger first; equal values by lower index; NaN after every number.
inline bool ranks_before(float va, int64_t ia, float vb, int64_t ib) {
    const bool na = std::isnan(va), nb = std::isnan(vb);
    if (na != nb) return nb;
    if (!na && va != vb) return va > vb;
    return ia < ib;
}

}  // namespace loom::kernels::ref
