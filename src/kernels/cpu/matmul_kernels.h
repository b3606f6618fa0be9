// Internal to the CPU matmul family: the contract between the threaded driver (cpu/matmul.cpp) and the
// per-ISA kernels (cpu/matmul_portable.cpp, x86/avx2/*.cpp). Tests use it to run every variant directly.
//
// Two paths, both on the paired activations (formats §2.1: quantized exactly as ref::quantize_row does):
// - the integer path: per weight type an activation packer and a tile kernel. The packer turns one f32 row into
//   the kernel's own layout (the same integers and scales as the GGUF block structs, laid out for aligned
//   loads); the tile computes a rectangle of outputs with the per-block integer sums of formats §2.5. Decode
//   always uses it; it is exact up to the order of f32 additions.
// - the f32 path (optional, prefill-sized jobs): the paired activations decoded back to f32, the weights decoded
//   to f32 per task, an f32 GEMM. Same operands, rounded per product instead of per block (relative differences
//   ~1e-7 per product). The types whose rounding follows llama.cpp's bit for bit (ARCHITECTURE.md, "Bit-level
//   equivalence") do not take it; the rest (bf16, Q2_K, Q3_K, Q5_K, ...) do where it is faster.
#pragma once

#include <cstdint>

#include <memory>

#include "core/dtype.h"
#include "core/packed_weight.h"
#include "kernels/ops.h"

namespace loom::kernels::cpu {

// y_rows[t][y_col + o] (=|+=) Σ_{k0 <= i < k1} w[o, i]·a[t, i] for o in [0, n_out), t in [0, n_tok).
// The partial range [k0, k1) lets the driver block long rows for cache (both multiples of the kernel's k_step).
struct GemmTile {
    const uint8_t* w;  // weight row o starts at w + o * w_stride (bytes): n_in values in the weight type
    int64_t w_stride;
    const uint8_t* a;  // packed activation row t starts at a + t * a_stride (bytes)
    int64_t a_stride;
    float* const* y_rows;  // output row of token t
    int64_t y_col;         // first output column of this tile
    int64_t n_out;
    int64_t n_tok;
    int64_t n_in;  // full row length (the packed layouts depend on it)
    int64_t k0, k1;
    bool accumulate;  // add to y instead of storing
    // Tokens [0, n_batched) of this tile belong to the part of the call that llama.cpp's repacked kernels
    // compute as a batch (groups of 4 tokens: ggml_gemm_*), the rest to its single-token tail (ggml_gemv_*);
    // kernels whose two recipes round differently (Q4_K) follow it. See run_jobs.
    int64_t n_batched = 0;
    // The call's token count and weight row count (not only this tile's): which of llama.cpp's kernels would
    // compute it (tinyBLAS needs 2+ tokens, its tiled K-quant GEMM 8+, its repacking rows in multiples of 8),
    // and so how the kernels round (see matmul_avx2_kquant.cpp, matmul_avx2_float.cpp).
    int64_t call_tokens = 0;
    int64_t call_rows = 0;
    // Whether llama.cpp would hold this weight repacked when its rows allow it (2-D weights and mul_mat_id
    // experts); never for the matrices of a 3-D mul_mat, which then take its un-repacked recipes.
    bool repackable = true;
};

// How one weight type is computed by one variant.
struct TypeKernels {
    DType weight = DType::f32;
    // Bytes of one packed activation row of n_in values (the driver rounds rows up to 64 bytes).
    int64_t (*act_row_bytes)(int64_t n_in) = nullptr;
    // Packs one f32 row of n_in values. PRECONDITION: dst is 64-byte aligned.
    void (*pack_act)(const float* x, uint8_t* dst, int64_t n_in) = nullptr;
    // Computes one tile; any n_out >= 1 and n_tok >= 1.
    void (*gemm)(const GemmTile& t) = nullptr;
    // k ranges are multiples of k_step; k_panel > 0 asks the driver to split rows into panels of that many
    // values (f32 kernels, whose activations are 4 bytes a value), 0 = whole rows.
    int64_t k_step = 0;
    int64_t k_panel = 0;
    const char* label = "";  // e.g. "q4_0 avx2"

    // The f32 prefill path (optional; see MatmulKernels::sgemm). pack_f32 writes the paired activation decoded
    // back to f32 (the same values the integer path multiplies, times their scales); dequant_f32 decodes the
    // weight values [k0, k1) of one row (whole blocks). dequant_f32 == nullptr: the driver uses the reference
    // dequantizer (f32 weights are read in place).
    void (*pack_f32)(const float* x, float* dst, int64_t n_in) = nullptr;
    void (*dequant_f32)(const uint8_t* row, int64_t k0, int64_t k1, float* dst) = nullptr;
    // When this type switches to the f32 path: 0 = at MatmulKernels::sgemm_min_tokens, < 0 = never (the integer
    // tiles are faster at every size: 4- and 5-bit legacy codes on Zen 1), > 0 = from that many tokens.
    int64_t sgemm_min_tokens = 0;

    // The weight layout the tile reads: none = GGUF rows (row o at w + o * w_stride); a packed layout (built at load
    // time, cpu/weight_pack.h) is addressed the same way at PackedWeight::row_stride, for o a multiple of its
    // group size: the driver splits rows at multiples of `row_group`.
    PackedLayout layout = PackedLayout::none;
    int64_t row_group = 1;
};

// One call of the f32 prefill GEMM: C[r][t] (+)= Σ_{k < kc} W[r][k]·A[t][k] for r < n_rows and 16·n_blocks tokens.
struct SgemmPanel {
    const float* w;  // row r at w + r * w_stride (floats), kc values
    int64_t w_stride;
    const float* a;  // token block b at a + b * a_block_stride: [kc][16] floats, 32-byte aligned
    int64_t a_block_stride;
    int64_t n_blocks;
    float* c;  // row r at c + r * c_stride: 16 * n_blocks floats
    int64_t c_stride;
    int64_t n_rows;
    int64_t kc;
    bool accumulate;
};

// One variant's table. Types not listed (those without a paired dot, e.g. q8_k weights) and MatmulMode::f32 run
// on `f32` after dequantizing the rows.
struct MatmulKernels {
    const char* name = "";  // "portable", "avx2"
    const TypeKernels* types = nullptr;
    int n_types = 0;
    TypeKernels f32;  // f32 weights × f32 activations (also used after dequantizing)

    // The f32 prefill path, used for jobs of at least `sgemm_min_tokens` tokens when the type has pack_f32
    // (nullptr: the variant has none). interleave16 writes rows[0..n) (n <= 16, the rest zero) as [n_in][16].
    void (*sgemm)(const SgemmPanel& p) = nullptr;
    void (*interleave16)(const float* const* rows, int n, int64_t n_in, float* dst) = nullptr;
    int64_t sgemm_min_tokens = 0;

    const TypeKernels* find(DType w, PackedLayout layout = PackedLayout::none) const {
        for (int i = 0; i < n_types; ++i)
            if (types[i].weight == w && types[i].layout == layout) return &types[i];
        return nullptr;
    }
};

// The variants. portable covers every type (scalar, ref dot products); avx2 is portable with the AVX2 kernels
// swapped in, avx512 is avx2 with the AVX-512 tiles swapped in (same bits, faster); both nullptr when not built for
// x86-64. Use avx2 only if cpu_features().avx2_kernels(), avx512 only if also cpu_features().avx512_kernels().
const MatmulKernels& portable_matmul_kernels();
const MatmulKernels* avx2_matmul_kernels();
const MatmulKernels* avx512_matmul_kernels();

// What the AVX2 translation units provide (x86/avx2/matmul_avx2.cpp): only their own kernels, so that no
// code compiled with AVX2 flags is shared with the portable path (an inline function instantiated in both
// could be resolved by the linker to the AVX2 copy).
struct Avx2Kernels {
    const TypeKernels* types;
    int n_types;
    const TypeKernels* f32;
    void (*sgemm)(const SgemmPanel& p);
    void (*interleave16)(const float* const* rows, int n, int64_t n_in, float* dst);
};
Avx2Kernels avx2_fast_kernels();

// What the AVX-512 translation units provide (x86/avx512/matmul_avx512.cpp): tiles that replace the AVX2 variant's
// for some (type, layout) pairs, computing the same bits; everything else about those types stays the AVX2 variant's.
struct GemmOverride {
    DType weight;
    PackedLayout layout;
    void (*gemm)(const GemmTile& t);
    const char* label;
};
struct Avx512Kernels {
    const GemmOverride* tiles;
    int n_tiles;
};
Avx512Kernels avx512_fast_kernels();

// The packed form of weight w for this variant's kernels (cpu/weight_pack.cpp), built on s's pool; nullptr when the
// variant has no packed layout for w's type and shape.
Result<std::unique_ptr<PackedWeight>> pack_weight_with(const MatmulKernels& k, const TensorView& w, Stream& s);

// The ops on an explicit variant (matmul_register.cpp binds the widest one into the op table).
Status matmul_with(const MatmulKernels& k, const MatmulArgs& a, Stream& s);
Status matmul_id_with(const MatmulKernels& k, const MatmulIdArgs& a, Stream& s);
Status get_rows_with(const MatmulKernels& k, const GetRowsArgs& a, Stream& s);

}  // namespace loom::kernels::cpu
