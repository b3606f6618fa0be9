// Scalar dot products of one weight row with one activation row in its paired format (shared reference,
// formats §2.1 and §2.5): the arithmetic every fast matmul kernel must reproduce.
//
// Numerics (the "paired" identities): inside a block (32 values) or super-block (256 values) the products are
// summed exactly in int32; each block's integer sum is then scaled to f32 and added to one f32 sum, in block
// order. f16/bf16 rows are widened to f32 and their products summed in f32; f32 rows likewise.
// PRECONDITIONS: n is a multiple of the weight type's block size; w holds row_bytes(weight, n) bytes and a holds
// row_bytes(paired activation type, n) bytes, each at any alignment.
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace loom::kernels::ref {

// Σ_i w[i]·a[i] over n values.
using VecDotFn = float (*)(int64_t n, const void* w, const void* a);

// The paired dot for a weight type (its activation type is kernels::paired_act_type(weight)), or nullptr for
// types without an integer/half path (those are dotted in f32 after dequantization).
VecDotFn vec_dot_fn(DType weight);

float vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a);
float vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a);
float vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a);
float vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a);
float vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a);
float vec_dot_iq4_nl_q8_0(int64_t n, const void* w, const void* a);
float vec_dot_q2_k_q8_k(int64_t n, const void* w, const void* a);
float vec_dot_q3_k_q8_k(int64_t n, const void* w, const void* a);
float vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a);
float vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a);
float vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a);
float vec_dot_iq4_xs_q8_k(int64_t n, const void* w, const void* a);
float vec_dot_f16_f16(int64_t n, const void* w, const void* a);
float vec_dot_bf16_bf16(int64_t n, const void* w, const void* a);
float vec_dot_f32_f32(int64_t n, const void* w, const void* a);

}  // namespace loom::kernels::ref
