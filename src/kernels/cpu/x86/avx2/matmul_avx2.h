// AVX2 matmul kernels: declarations shared by the files in this folder (all compiled with -mavx2 -mfma -mf16c),
// and the packed activation layouts they read. Include only from x86/ kernels (the AVX-512 tiles read the same
// layouts and hand row remainders to these tiles).
//
// Packed activation rows (one row per token, 64-byte aligned; the integers and scales are exactly those of
// ref::quantize_row for the paired type, only laid out for aligned vector loads):
//   A8  (legacy 32-value blocks, nb = n_in / 32):
//       int8 qs[nb][32] | f32 d[nb] (the f16 scale, widened) | f32 s[nb] | int32 sum[nb] (Σq)
//       s = d·Σq for Q8_0 pairing, and the f16-rounded Q8_1 `s` (widened) for Q8_1 pairing.
//   A8K (256-value super-blocks, nb = n_in / 256):
//       int8 qs[nb][256] | f32 d[nb] | int16 bsums[nb][16]
//   AF  (f32, f16, bf16 weights): f32[n_in], the activation rounded to the weight's half type first.
#pragma once

#include <cstdint>

#include "kernels/cpu/matmul_kernels.h"

namespace loom::kernels::cpu::avx2 {

int64_t a8_row_bytes(int64_t n_in);
int64_t a8k_row_bytes(int64_t n_in);
int64_t af_row_bytes(int64_t n_in);

void pack_a8_q8_0(const float* x, uint8_t* dst, int64_t n_in);  // Q8_0 integers, s = d·Σq
void pack_a8_q8_1(const float* x, uint8_t* dst, int64_t n_in);  // Q8_1 integers and s
void pack_a8k(const float* x, uint8_t* dst, int64_t n_in);      // Q8_K
void pack_af_f32(const float* x, uint8_t* dst, int64_t n_in);
void pack_af_f16(const float* x, uint8_t* dst, int64_t n_in);
void pack_af_bf16(const float* x, uint8_t* dst, int64_t n_in);

void gemm_q4_0(const GemmTile& g);
void gemm_q4_1(const GemmTile& g);
void gemm_q5_0(const GemmTile& g);
void gemm_q5_1(const GemmTile& g);
void gemm_q8_0(const GemmTile& g);
void gemm_iq4_nl(const GemmTile& g);

void gemm_q2_k(const GemmTile& g);
void gemm_q3_k(const GemmTile& g);
void gemm_q4_k(const GemmTile& g);
void gemm_q5_k(const GemmTile& g);
void gemm_q6_k(const GemmTile& g);
void gemm_iq4_xs(const GemmTile& g);
void gemm_q4_0_x8(const GemmTile& g);  // PackedLayout::q4_0_x8 (matmul_avx2_q40_x8.cpp)
void gemm_q4_k_x8(const GemmTile& g);  // PackedLayout::q4_k_x8 (matmul_avx2_q4k_x8.cpp)
void gemm_q6_k_x8(const GemmTile& g);  // PackedLayout::q6_k_x8 (matmul_avx2_q6k_x8.cpp)
void gemm_q5_0_x8(const GemmTile& g);  // PackedLayout::q5_0_x8 (matmul_avx2_q50_x8.cpp)

// Q6_K, one token, four rows (matmul_avx2_q6k_decode.cpp), in the tile signature of matmul_avx2_kquant.cpp.
void tile_q6k_row4(const uint8_t* w, int64_t ws, const uint8_t* a, int64_t as, int64_t nb, int64_t b0, int64_t b1,
                   float* const* y, int64_t col, bool accumulate);

void gemm_f32(const GemmTile& g);
void gemm_f16(const GemmTile& g);
void gemm_bf16(const GemmTile& g);

// The f32 prefill path (matmul_avx2_sgemm.cpp, matmul_avx2_dequant.cpp).
void sgemm_panel(const SgemmPanel& p);
void interleave16(const float* const* rows, int n, int64_t n_in, float* dst);

void pack_f32_q8_0(const float* x, float* dst, int64_t n_in);  // Q8_0 (= Q8_1) values, decoded
void pack_f32_q8_k(const float* x, float* dst, int64_t n_in);
void pack_f32_f16(const float* x, float* dst, int64_t n_in);
void pack_f32_bf16(const float* x, float* dst, int64_t n_in);
void pack_f32_f32(const float* x, float* dst, int64_t n_in);

void dequant_q4_0(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_q4_1(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_q5_0(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_q5_1(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_q8_0(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_iq4_nl(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_q4_k(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_q5_k(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_q6_k(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_iq4_xs(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_f16(const uint8_t* row, int64_t k0, int64_t k1, float* dst);
void dequant_bf16(const uint8_t* row, int64_t k0, int64_t k1, float* dst);

}  // namespace loom::kernels::cpu::avx2
