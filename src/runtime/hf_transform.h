// The load-time transforms an architecture file's [hf.tensors] may name (arch/hf_map.h): the few operations
// llama.cpp's converter applies to Hugging Face tensors (shared reference, vision-and-safetensors §2.4–2.5),
// written once and reused by every family. Values are computed in f32 from the stored ones, as the converter does
// (bf16 and f16 → f32 is exact); a pure reordering keeps the stored type.
//   rope_permute(n)   rows viewed as [n, 2, rows/n/2], the last two axes swapped: Hugging Face's rotate-half
//                     layout of a head's rows → the adjacent pairs of GGUF's NORM rope (llama's Q with n = heads,
//                     K with n = KV heads; weights and biases)
//   add(c)            x + c, in f32 (Gemma's zero-centred norms: c = 1)
//   neg_exp           −exp(x), in f32 (Qwen 3.5's A_log → ssm_a)
//   f32               a cast to f32
//   squeeze           drops every dimension of size 1 (a conv1d weight [C, 1, K] → [C, K])
//   reorder_heads(axis, groups, heads, block)
//                     the last heads·block entries along `axis` (0 = rows, 1 = the next dimension, -1 = the last),
//                     seen as [groups, heads/groups, block], made [heads/groups, groups, block]: heads grouped by
//                     key head → tiled (Qwen 3.5's value heads; the identity when groups == heads)
//   reshape(d0, d1, ...) the same bytes under a new shape (one dimension may be -1: what is left)
//   slice(axis, start, length)  entries start..start+length along `axis` (one part of a fused tensor)
//   transpose         swaps the last two dimensions (DeepSeek's k_b)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "arch/hf_map.h"
#include "core/dtype.h"
#include "core/error.h"

namespace loom::runtime {

// A tensor made at load: its bytes owned, in `type` (f32, f16 or bf16).
struct LoadTensor {
    DType type = DType::f32;
    std::vector<int64_t> shape;  // outermost first
    std::vector<uint8_t> bytes;
};

// Resolves a transform argument (a number, or a metadata key holding one).
using HfArgFn = std::function<Result<double>(const std::string& arg)>;

// Applies one transform; an error names the op and what did not fit (shape, argument).
Result<LoadTensor> apply_hf_transform(const arch::HfTransform& t, LoadTensor in, const HfArgFn& arg);
// Whether `op` is a transform this file knows (the architecture file is checked with it at load).
bool known_hf_transform(const std::string& op);
// The tensor's values as f32.
std::vector<float> to_f32(const LoadTensor& t);

}  // namespace loom::runtime
