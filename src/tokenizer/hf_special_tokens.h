// gguf-py's SpecialVocab run again over other token types, as a converter may do after the vocabulary (llama's
// CodeLlama case); the first run is add_special_tokens in vocab.h.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"

namespace loom::tokenizer {

struct RawVocab;
struct HfTokenizerFiles;

// SpecialVocab(dir, special_token_types=<the types>) (no n_vocab: no range check), then _set_special_token with
// each type's given id, then add_to_gguf: a type's id is its tokenizer_config.json <type>_token text among
// tokenizer.json's added tokens, else config.json's <type>_token_id, else the id given here. Written to r.ids
// (replacing an entry of the same key) only for the types gguf-py has an add_<type>_token_id writer for (bos, eos,
// unk, sep, pad, mask, eot, eom): the pinned gguf-py has none for prefix, suffix and middle, so those are dropped
// as the converter drops them. The add_bos/eos/sep flags the post-processor gives are set again. Errors: a file that
// is not a JSON object, a negative id.
Status add_special_tokens(RawVocab& r, const HfTokenizerFiles& files,
                          const std::vector<std::pair<std::string, int64_t>>& types);

}  // namespace loom::tokenizer
