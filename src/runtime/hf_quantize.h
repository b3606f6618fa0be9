// --quantize TYPE for a Hugging Face directory: each tensor quantized at load with loom's own quantizers
// (kernels/ref/quant.h), to the type llama-quantize would give it for that target type. The rule, from llama.cpp's
// src/llama-quant.cpp (tensor_allows_quantization, the output rule of llama_tensor_get_type_impl,
// tensor_type_fallback), only where it is simple:
//   - kept as loaded: tensors of fewer than 2 dimensions, names not ending in "weight", norms ("_norm.weight"),
//     routers ("ffn_gate_inp.weight"), ssm_conv1d, per_layer_model_proj;
//   - output.weight (token_embd.weight when there is no output.weight: the two are tied) gets q6_k, or q8_0 when
//     the target is q8_0 or its rows are not a whole number of the target's blocks;
//   - a row that is not a whole number of the type's blocks falls back as llama-quantize does (q4_k → q5_0,
//     q5_k → q5_1, q6_k → q8_0, q2_k/q3_k → q4_0, iq4_xs → iq4_nl), then to f16;
//   - everything else gets the target type.
// Not done: the per-layer mixes of llama-quantize's *_M/*_S presets (attn_v, ffn_down given more bits), and
// importance matrices; for k-quants loom's fitter is not bit-identical to llama-quantize's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace loom::runtime {

// The --quantize argument as a type: a quantized type loom can write (q8_0, q4_0, q4_1, q5_0, q5_1, q2_k, q3_k,
// q4_k, q5_k, q6_k, iq4_nl, iq4_xs).
Result<DType> hf_quantize_target(const std::string& name);

// The type tensor `name` of `shape` gets for `target`; `tied_output` when the checkpoint has no output.weight.
DType hf_quant_type(const std::string& name, const std::vector<int64_t>& shape, DType stored, DType target,
                    bool tied_output);

// The tensor's values (f32, f16 or bf16, rows of shape.back()) encoded as `to`, rows split over threads.
Result<std::vector<uint8_t>> hf_quantize_tensor(DType from, const uint8_t* data, const std::vector<int64_t>& shape,
                                                DType to);

}  // namespace loom::runtime
