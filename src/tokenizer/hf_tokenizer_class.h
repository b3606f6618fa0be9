// Which transformers tokenizer class reads a Hugging Face directory, and the special tokens that class has of its
// own: what decides, beside the files, which tokens transformers counts as special (all_special_tokens) when
// llama.cpp's converter asks it (gguf-py's LlamaHfVocab; RawVocab::from_hf_byte_fallback).
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace loom::tokenizer {

struct HfTokenizerClass {
    std::string name;  // as transformers names the fast class, e.g. "LlamaTokenizerFast"
    // __init__'s defaults for the named special tokens (bos_token, eos_token, unk_token, pad_token, ...), used when
    // the configuration does not give the key at all.
    std::vector<std::pair<std::string, std::string>> defaults;
    // Tokens the class appends to additional_special_tokens, each a keyword with a default: the configuration's
    // value for the key when it has one (null: none), else the default (CodeLlama's infill tokens).
    std::vector<std::pair<std::string, std::string>> appended;
};

// The class AutoTokenizer.from_pretrained picks (transformers 4.57, the pinned converter's, with a fast tokenizer):
// tokenizer_config.json's tokenizer_class, else config.json's, as its fast form ("X" → "XFast"); with neither, the
// one transformers maps config.json's model_type to. Errors (not_found) name the file and the class or model type when
// it is not one loom knows the defaults of (LlamaHfVocab would then count other tokens as special than loom does).
Result<HfTokenizerClass> hf_tokenizer_class(const nlohmann::json& tokenizer_config, const nlohmann::json& config,
                                            const std::string& source);

}  // namespace loom::tokenizer
