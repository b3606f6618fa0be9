// The AVX2 matmul kernel table: per weight type, the packer and tile of the integer path and the activation
// packer and weight decoder of the f32 path (prefill-sized calls), and where the f32 path takes over. Types
// whose rounding mirrors llama.cpp's (f32, f16, Q4_0, Q5_0, Q8_0, Q4_K, Q6_K: ARCHITECTURE.md, "Bit-level
// equivalence") never take it (-1); of the rest, measured on Zen 1 with 2 threads, the 4/5-bit legacy types
// never, the others from 32 tokens (kernels/cpu/matmul_portable.cpp's default). Types not listed here (none at
// present) keep the portable entry. Q4_0, Q5_0, Q4_K and Q6_K also have tiles for their load-time 8-row layouts
// (weight_pack.h), with the row-major tiles' bits. Q2_K and Q3_K have no AVX2 decoder: their f32 path decodes through
// ref::dequantize_row (slower, still threaded).
#include "kernels/cpu/x86/avx2/matmul_avx2.h"

namespace loom::kernels::cpu {
namespace {

using namespace avx2;

// f32 activations are 4 bytes a value: rows longer than this are split into panels so that a tile's
// activations (64 tokens) and weights stay in L2.
constexpr int64_t kFloatPanel = 1024;

constexpr TypeKernels kTypes[] = {
    {DType::q4_0, a8_row_bytes, pack_a8_q8_0, gemm_q4_0, 32, 0, "q4_0 avx2", pack_f32_q8_0, dequant_q4_0, -1},
    {DType::q4_0, a8_row_bytes, pack_a8_q8_0, gemm_q4_0_x8, 32, 0, "q4_0 x8 avx2", nullptr, nullptr, -1,
     PackedLayout::q4_0_x8, 8},
    {DType::q4_1, a8_row_bytes, pack_a8_q8_1, gemm_q4_1, 32, 0, "q4_1 avx2", pack_f32_q8_0, dequant_q4_1, -1},
    {DType::q5_0, a8_row_bytes, pack_a8_q8_0, gemm_q5_0, 32, 0, "q5_0 avx2", pack_f32_q8_0, dequant_q5_0, -1},
    {DType::q5_0, a8_row_bytes, pack_a8_q8_0, gemm_q5_0_x8, 32, 0, "q5_0 x8 avx2", nullptr, nullptr, -1,
     PackedLayout::q5_0_x8, 8},
    {DType::q5_1, a8_row_bytes, pack_a8_q8_1, gemm_q5_1, 32, 0, "q5_1 avx2", pack_f32_q8_0, dequant_q5_1, -1},
    {DType::q8_0, a8_row_bytes, pack_a8_q8_0, gemm_q8_0, 32, 0, "q8_0 avx2", pack_f32_q8_0, dequant_q8_0, -1},
    {DType::iq4_nl, a8_row_bytes, pack_a8_q8_0, gemm_iq4_nl, 32, 0, "iq4_nl avx2", pack_f32_q8_0, dequant_iq4_nl},
    {DType::q2_k, a8k_row_bytes, pack_a8k, gemm_q2_k, 256, 0, "q2_k avx2", pack_f32_q8_k, nullptr},
    {DType::q3_k, a8k_row_bytes, pack_a8k, gemm_q3_k, 256, 0, "q3_k avx2", pack_f32_q8_k, nullptr},
    {DType::q4_k, a8k_row_bytes, pack_a8k, gemm_q4_k, 256, 0, "q4_k avx2", pack_f32_q8_k, dequant_q4_k, -1},
    {DType::q5_k, a8k_row_bytes, pack_a8k, gemm_q5_k, 256, 0, "q5_k avx2", pack_f32_q8_k, dequant_q5_k},
    {DType::q4_k, a8k_row_bytes, pack_a8k, gemm_q4_k_x8, 256, 0, "q4_k x8 avx2", nullptr, nullptr, -1,
     PackedLayout::q4_k_x8, 8},
    {DType::q6_k, a8k_row_bytes, pack_a8k, gemm_q6_k, 256, 0, "q6_k avx2", pack_f32_q8_k, dequant_q6_k, -1},
    {DType::q6_k, a8k_row_bytes, pack_a8k, gemm_q6_k_x8, 256, 0, "q6_k x8 avx2", nullptr, nullptr, -1,
     PackedLayout::q6_k_x8, 8},
    {DType::iq4_xs, a8k_row_bytes, pack_a8k, gemm_iq4_xs, 256, 0, "iq4_xs avx2", pack_f32_q8_k, dequant_iq4_xs},
    {DType::f16, af_row_bytes, pack_af_f16, gemm_f16, 1, 0, "f16 avx2", pack_f32_f16, dequant_f16, -1},
    {DType::bf16, af_row_bytes, pack_af_bf16, gemm_bf16, 1, kFloatPanel, "bf16 avx2", pack_f32_bf16, dequant_bf16},
};

constexpr TypeKernels kF32 = {DType::f32, af_row_bytes, pack_af_f32,  gemm_f32, 1,
                              0,          "f32 avx2",   pack_f32_f32, nullptr,  -1};

}  // namespace

Avx2Kernels avx2_fast_kernels() {
    return {kTypes, int(sizeof(kTypes) / sizeof(kTypes[0])), &kF32, sgemm_panel, interleave16};
}

}  // namespace loom::kernels::cpu
