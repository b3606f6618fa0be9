// The invariants of the fuzz targets for vocabulary converters (hf_vocab_fuzz, spm_model_fuzz): an error names
// the source; a converted vocabulary that builds encodes a short text to ids inside it and decodes them.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer::fuzz {

[[noreturn]] inline void fail(const char* target, const char* what, const std::string& detail) {
    std::fprintf(stderr, "%s: invariant broken: %s: %s\n", target, what, detail.c_str());
    std::abort();
}

inline void check_raw_vocab(const Result<RawVocab>& raw, std::string_view source, const char* target) {
    if (!raw.ok()) {
        if (raw.error().message().rfind(source, 0) != 0)
            fail(target, "an error that does not start with the source", raw.error().message());
        return;
    }
    auto vocab = Vocab::build(*raw);
    if (!vocab.ok()) return;
    const Tokenizer tok(*vocab);
    auto ids = tok.encode("Hello world, 123 <|x|> <s>\n", true, true);
    if (!ids.ok()) return;
    for (int32_t id : *ids)
        if (!vocab->valid(id)) fail(target, "id outside the vocabulary", std::to_string(id));
    (void)tok.decode(*ids, {});
}

}  // namespace loom::tokenizer::fuzz
