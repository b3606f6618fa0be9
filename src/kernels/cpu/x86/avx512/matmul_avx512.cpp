// The AVX-512 matmul kernels: the types whose AVX-512 tiles compute the AVX2 tiles' bits faster (see
// matmul_avx512.h). Only the tile changes: packers, k steps and the f32 path stay the AVX2 variant's
// (matmul_portable.cpp builds the table).
#include "kernels/cpu/x86/avx512/matmul_avx512.h"

namespace loom::kernels::cpu {
namespace {

constexpr GemmOverride kTiles[] = {
    {DType::q4_0, PackedLayout::none, avx512::gemm_q4_0, "q4_0 avx512"},
    {DType::q5_0, PackedLayout::none, avx512::gemm_q5_0, "q5_0 avx512"},
    {DType::q8_0, PackedLayout::none, avx512::gemm_q8_0, "q8_0 avx512"},
    {DType::iq4_nl, PackedLayout::none, avx512::gemm_iq4_nl, "iq4_nl avx512"},
    {DType::q4_k, PackedLayout::none, avx512::gemm_q4_k, "q4_k avx512"},
    {DType::q4_0, PackedLayout::q4_0_x8, avx512::gemm_q4_0_x8, "q4_0_x8 avx512"},
    {DType::q4_k, PackedLayout::q4_k_x8, avx512::gemm_q4_k_x8, "q4_k_x8 avx512"},
};

}  // namespace

Avx512Kernels avx512_fast_kernels() { return {kTiles, int(sizeof(kTiles) / sizeof(kTiles[0]))}; }

}  // namespace loom::kernels::cpu
