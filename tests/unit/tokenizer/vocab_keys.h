// Checks shared by the tests that rebuild a GGUF vocabulary from Hugging Face files: the tokenizer.* keys of a
// written GGUF against a reference, and the ids both vocabularies give the tokenizer corpus.
#pragma once

#include <map>
#include <string>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer::vocab_check {

using Keys = std::map<std::string, formats::GgufValue>;

Keys tokenizer_keys(const formats::GgufWriter& w);
Keys tokenizer_keys(const formats::GgufFile& f);
// Every key of `want` in `got` with the same type and value (arrays: the first differing element is reported),
// and no other key.
void expect_same_keys(const Keys& got, const Keys& want);
// The vocabulary the written keys load as.
Result<Vocab> vocab_of(const formats::GgufWriter& w);
// The ids of the first `n` corpus texts (BOS added, specials parsed) under two vocabularies, text by text; a text
// one refuses (a byte with no byte token, for a vocabulary without them) the other must refuse too.
void expect_same_ids(const Vocab& a, const Vocab& b, size_t n);

}  // namespace loom::tokenizer::vocab_check
