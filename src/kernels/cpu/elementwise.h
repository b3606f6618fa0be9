// The fast CPU element-wise family (norm, rope, softmax, unary, binary, scale, glu, top_k): op drivers that
// check arguments (with the reference's checks) and split rows over the Stream's pool, plus one table of
// row kernels per ISA. Internal to kernels/cpu; kernels::variants() fills one table per ISA with it (tests run every
// variant through those).
//
// Numerics: every variant rounds as kernels::ref does (ref/elementwise_common.h), except where the AVX2
// kernels follow ggml's own AVX2 code instead of its scalar code, as llama.cpp does on this machine:
// - silu, swiglu and softmax use ggml_v_expf's polynomial exp (vec.h; within 1.9 ulp of e^x, expf 0.5) on
//   every full group of 8 and libm expf on the rest of the row; softmax sums each group of 8 in f32 first;
// - rms/l2 sums of squares accumulate in double in another order (same f32 mean but for rare ties).
// Checked against libggml-cpu.so (llama.cpp's -march=native build, GCC 12, this machine) on rms/l2/layer
// norm, rope (norm, neox, imrope, freq factors, YaRN), softmax with mask, all unary ops, swiglu, geglu and
// scale: the AVX2 variant's outputs are bit-identical; the reference and portable variant differ from
// ggml only in silu, swiglu and softmax, by at most 4 ulp.
#pragma once

#include <cstdint>
#include <functional>

#include "kernels/registry.h"

namespace loom::kernels::cpu {

enum class EwIsa : uint8_t { portable, avx2 };

// Fills the element-wise entries of `t` with the `isa` variant. The caller checks that the CPU runs it.
void fill_elementwise(OpTable& t, EwIsa isa);

// Row kernels: the inner loops of one ISA. Pointers are f32 rows of n elements; y may alias the inputs.
struct EwKernels {
    // Σ double(x_i·x_i), each square rounded to f32 first (ggml's rms_norm and l2_norm sums).
    double (*sum_squares)(const float* x, int64_t n);
    // y = (x·s)·w, or y = x·s when w is null.
    void (*mul_scale)(float* y, const float* x, float s, const float* w, int64_t n);
    // One softmax row (see ref/softmax.cpp): mask may be null; softcap 0 is off.
    void (*softmax_row)(float* y, const float* x, const float* mask, float scale, float softcap, int64_t n);
    void (*unary)(UnaryOp op, float* y, const float* x, int64_t n);
    void (*glu)(UnaryOp act, float* y, const float* gate, const float* up, int64_t n);
    void (*binary)(BinaryOp op, float* y, const float* a, const float* b, int64_t n);
    void (*scale)(float* y, const float* x, float s, float bias, int64_t n);
    // Rotate n_pairs pairs with the given cos/sin (NORM: adjacent pairs; NEOX: halves n_pairs apart).
    void (*rope_norm)(float* y, const float* x, const float* cos, const float* sin, int64_t n_pairs);
    void (*rope_neox)(float* y, const float* x, const float* cos, const float* sin, int64_t n_pairs);
};

const EwKernels& ew_kernels(EwIsa isa);

namespace portable {
// The portable kernels (plain C++, built without ISA flags). The AVX2 kernels call them for row tails
// and for ops they do not vectorise, so scalar code is never contracted into FMAs behind our back.
double sum_squares(const float* x, int64_t n);
void mul_scale(float* y, const float* x, float s, const float* w, int64_t n);
void softmax_row(float* y, const float* x, const float* mask, float scale, float softcap, int64_t n);
void softmax_prepare(float* y, const float* x, const float* mask, float scale, float softcap, int64_t n);
double exp_shift_sum(float* y, const float* x, float max, int64_t n);  // y = expf(x − max), Σ in double
void unary(UnaryOp op, float* y, const float* x, int64_t n);
void glu(UnaryOp act, float* y, const float* gate, const float* up, int64_t n);
void binary(BinaryOp op, float* y, const float* a, const float* b, int64_t n);
void scale(float* y, const float* x, float s, float bias, int64_t n);
void rope_norm(float* y, const float* x, const float* cos, const float* sin, int64_t n_pairs);
void rope_neox(float* y, const float* x, const float* cos, const float* sin, int64_t n_pairs);
// NEOX rotation of n pairs (x0[k], x1[k]) into (y0[k], y1[k]).
void rope_halves(float* y0, float* y1, const float* x0, const float* x1, const float* cos, const float* sin, int64_t n);
}  // namespace portable

// ggml's f16 lookup tables as f32 (65536 entries indexed by the f16 bits of the input), built on first use.
const float* gelu_tanh_table();  // without the ±10 clamps; apply those first (ref::gelu_tanh)
const float* gelu_quick_table();

// Runs fn(begin, end) over [0, n) units of `unit_elems` elements each: on the Stream's pool when there is
// enough work to pay for the wake-up (about 16K elements a task), inline on the caller otherwise.
void parallel_units(Stream& s, int64_t n, int64_t unit_elems, const std::function<void(int64_t, int64_t)>& fn);

// The op drivers, one per op; each takes the row kernels of its variant.
Status norm(const NormArgs& a, Stream& s, const EwKernels& k);
Status rope(const RopeArgs& a, Stream& s, const EwKernels& k);
Status softmax(const SoftmaxArgs& a, Stream& s, const EwKernels& k);
Status unary(const UnaryArgs& a, Stream& s, const EwKernels& k);
Status binary(const BinaryArgs& a, Stream& s, const EwKernels& k);
Status scale(const ScaleArgs& a, Stream& s, const EwKernels& k);
Status glu(const GluArgs& a, Stream& s, const EwKernels& k);
Status top_k(const TopKArgs& a, Stream& s);
// Mixture-of-experts routing and weighted sum (cpu/moe.cpp): the reference's rows, split over the pool.
Status moe_route(const MoeRouteArgs& a, Stream& s);
Status weighted_sum(const WeightedSumArgs& a, Stream& s);

namespace x86 {
const EwKernels& ew_kernels_avx2();  // x86/avx2/elementwise_avx2.cpp
}  // namespace x86

}  // namespace loom::kernels::cpu
