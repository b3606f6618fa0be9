// Synthetic vocabularies for `loom synth` specs ([vocab] model = ..., size = N), written as GGUF tokenizer
// keys. Deterministic: the same model and size always give the same tokens, whatever the weight seed.
//   model = "gemma4"  Gemma 4's layout (tokenizer.ggml.model "gemma4"): its special and control tokens at
//                     their real ids (<pad> 0, <eos> 1, <bos> 2, <|turn> 105, <turn|> 106, ...), newline and
//                     ▁ runs, <0x00>..<0xFF> at 238..493, then BPE pieces learned from a built-in synthetic
//                     corpus (▁-prefixed words, never across words, no multi-digit numbers), the corpus's
//                     characters, tab runs, and the multimodal markers as the last ids. Merges: newline
//                     runs by doubling only (so BPE alone would cut most runs that are tokens), every split
//                     of the ▁ and tab runs as Gemma 4 has them, then the learned ones in order. Types and
//                     keys as llama.cpp's converter writes them (scores -1000, no tokenizer.ggml.pre,
//                     add_bos_token true).
//   any other model   SentencePiece-style: <unk>, <s>, </s>, the byte tokens, then "▁t<i>" pieces, under
//                     the given tokenizer.ggml.model name (e.g. "llama").
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"
#include "formats/gguf_writer.h"

namespace loom::tokenizer {

// The smallest size a gemma4 vocabulary can have (its fixed tokens and characters, with no learned piece).
int64_t gemma4_min_vocab_size();

// Adds the tokenizer.* keys of a `size`-token vocabulary. Errors: a size the model cannot fill.
Status add_vocab(formats::GgufWriter& w, const std::string& model, int64_t size);

}  // namespace loom::tokenizer
