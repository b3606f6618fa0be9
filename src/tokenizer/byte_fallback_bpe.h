// How a model family's converter reads a Hugging Face tokenizer.json that is a BPE with byte fallback (not
// byte-level): the arch file's [hf] byte_fallback_bpe table (arch/hf_map.h), used by RawVocab::from_hf_byte_fallback.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace loom::tokenizer {

struct ByteFallbackBpe {
    std::string model;                      // tokenizer.ggml.model
    std::optional<std::string> pre;         // tokenizer.ggml.pre, when the converter writes one
    bool merges = false;                    // tokenizer.ggml.merges from tokenizer.json (SpecialVocab load_merges)
    std::vector<std::string> user_defined;  // token texts made user-defined after the vocabulary is read
    std::optional<bool> add_space_prefix, add_bos_token;  // written after SpecialVocab's
};

}  // namespace loom::tokenizer
