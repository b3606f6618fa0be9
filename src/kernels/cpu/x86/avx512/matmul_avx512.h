// AVX-512 matmul kernels (F, BW, VL, VNNI): declarations shared by the files in this folder, all compiled with
// those flags. Include only from x86/avx512/*.cpp.
//
// Every kernel here computes the same bits as its AVX2 counterpart (x86/avx2/), which rounds as llama.cpp's AVX2
// build does (ARCHITECTURE.md, "Bit-level equivalence"): the integers of a block are exact however they are
// summed, so VNNI's vpdpbusd (four u8·s8 products per int32 lane, no saturation) may replace vpmaddubsw +
// vpmaddwd, and wider registers hold more rows; what must not change is each output's sequence of f32
// operations, which these kernels keep lane for lane. The tests compare the two variants bit for bit.
// They read the AVX2 variant's packed activations (x86/avx2/matmul_avx2.h) and hand what they do not cover
// (row remainders, other recipes) to the AVX2 tiles, so a tile's rounding never depends on which variant ran.
#pragma once

#include "kernels/cpu/matmul_kernels.h"

namespace loom::kernels::cpu::avx512 {

void gemm_q4_0(const GemmTile& g);
void gemm_q5_0(const GemmTile& g);
void gemm_q8_0(const GemmTile& g);
void gemm_iq4_nl(const GemmTile& g);
void gemm_q4_k(const GemmTile& g);
void gemm_q4_0_x8(const GemmTile& g);  // PackedLayout::q4_0_x8 (matmul_avx512_q40_x8.cpp)
void gemm_q4_k_x8(const GemmTile& g);  // PackedLayout::q4_k_x8 (matmul_avx512_q4k_x8.cpp)

}  // namespace loom::kernels::cpu::avx512
