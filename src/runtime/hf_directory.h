// A Hugging Face model directory presented as the GGUF file the rest of loom reads: metadata from config.json
// (through the family's [hf.config] map) and from tokenizer.json, tokenizer_config.json (chat template, special
// tokens) and generation_config.json (EOS); tensors renamed and transformed by [hf.tensors], stored ones
// viewed in place (zero-copy) and transformed ones made at load. The family is the architecture file whose
// [hf] architectures lists config.json's "architectures" (or the file given).
//
// The metadata key loom.hf.transforms lists what was done to each tensor that is not a plain view
// ("blk.0.attn_q.weight ← model.layers.0.self_attn.q_proj.weight: rope_permute(4)"), for `loom inspect`.
#pragma once

#include <string>

#include "core/error.h"
#include "formats/gguf_reader.h"
#include "formats/mapped_file.h"

namespace loom::runtime {

inline constexpr const char* kHfTransformsKey = "loom.hf.transforms";

// `quantize`: a type name for --quantize (runtime/hf_quantize.h), or empty for the weights as stored.
Result<formats::GgufFile> open_hf_directory(const std::string& dir, const std::string& arch_file = "",
                                            formats::LoadMode mode = formats::LoadMode::map,
                                            const std::string& quantize = "");

// A GGUF file, or a Hugging Face model directory (open_hf_directory; `quantize` is an error for a GGUF file).
Result<formats::GgufFile> open_model_file(const std::string& path, const std::string& arch_file = "",
                                          formats::LoadMode mode = formats::LoadMode::map,
                                          const formats::MappedFile::ProgressFn& progress = {},
                                          const std::string& quantize = "");

}  // namespace loom::runtime
