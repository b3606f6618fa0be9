// Scalar reference conversions between f32 and every storage type loom reads: the oracle that fast
// dequantize/quantize kernels are tested against, and what loaders use to widen weights.
#pragma once

#include <cstdint>

#include "core/dtype.h"
#include "core/error.h"

namespace loom::kernels::ref {

// Decodes n values of type t from src into dst.
// Types: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, q2_k, q3_k, q4_k, q5_k, q6_k, q8_k, iq4_nl,
// iq4_xs. Any other type returns Error::unsupported naming it.
// Bit-exact with ggml's reference dequantizers (each product and sum rounded to f32 in ggml's order).
// PRECONDITIONS: n >= 0 and a multiple of t's block size (asserted); src holds row_bytes(t, n) bytes at any
// alignment; dst holds n floats and does not overlap src.
Status dequantize_row(DType t, const void* src, float* dst, int64_t n);

// n_rows contiguous rows of row_len values each (row r starts at byte r * row_bytes(t, row_len)).
// PRECONDITIONS: as dequantize_row, with row_len a multiple of the block size.
Status dequantize(DType t, const void* src, float* dst, int64_t n_rows, int64_t row_len);

// Whether quantize_row supports t: f32, f16, bf16, q4_0, q4_1, q5_0, q5_1, q8_0, q8_1, q2_k, q3_k, q4_k,
// q5_k, q6_k, q8_k, iq4_nl, iq4_xs.
bool can_quantize(DType t);

// Encodes n values from src as type t into dst (row_bytes(t, n) bytes, any alignment).
// - f16, bf16: round to nearest even (core/half.h).
// - q8_0, q8_1, q8_k: bit-exact with ggml's reference quantizers, because these quantize activations and a
//   matmul must see the same integers llama.cpp does.
// - q4_0, q4_1, q5_0, q5_1: ggml's reference rule (bit-exact with ggml and the gguf Python package).
// - q2_k … q6_k, iq4_nl, iq4_xs: loom's own least-squares scale/min fitter; valid blocks of the format, not
//   bit-identical to llama-quantize's output. Unweighted (no importance matrix).
// Types without a quantizer return Error::unsupported.
// PRECONDITIONS: n >= 0 and a multiple of t's block size (asserted); src values are finite.
Status quantize_row(DType t, const float* src, void* dst, int64_t n);

// Encodes an ACTIVATION row into its paired type, as llama.cpp's CPU backend does at run time on x86
// (ggml-cpu arch/x86/quants.c): q8_0 and q8_1 use id = 127/amax and round half to even (the AVX/AVX2
// quantizer, which differs from ggml's reference rule in both), q8_k and the plain types as quantize_row.
// The integers then differ from quantize_row's on ties and where 127/amax and 1/(amax/127) round apart,
// which moves logits by far more than f32 noise; weights keep quantize_row's rule (llama-quantize's).
// PRECONDITIONS: as quantize_row.
Status quantize_activations(DType t, const float* src, void* dst, int64_t n);

// Sub-block k's (0..7) 6-bit scale and min in the 12 packed bytes of a Q4_K/Q5_K block (formats §2.4,
// ggml's get_scale_min_k4).
void q4_k_scale_min(const uint8_t s[12], int k, int* sc, int* mn);

}  // namespace loom::kernels::ref
