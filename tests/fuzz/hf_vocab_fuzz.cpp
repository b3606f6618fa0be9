// libFuzzer target for Hugging Face vocabularies (RawVocab::from_hf): the input is a tokenizer.json, then
// optionally a NUL byte and a tokenizer_config.json. When they convert, the vocabulary is built (the
// validation a GGUF vocabulary gets) and, when it builds, encodes and decodes a short text. Invariants: no
// crash or exception, errors name the source, and every id encoded is inside the vocabulary.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace {

using namespace loom::tokenizer;

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "hf_vocab_fuzz: invariant broken: %s: %s\n", what, detail.c_str());
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const size_t nul = in.find('\0');
    const std::string_view json = in.substr(0, nul);
    const std::string_view config = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
    auto raw = RawVocab::from_hf(json, config, "fuzz/tokenizer.json");
    if (!raw.ok()) {
        if (raw.error().message().rfind("fuzz/tokenizer.json", 0) != 0)
            fail("an error that does not start with the source", raw.error().message());
        return 0;
    }
    auto vocab = Vocab::build(*raw);
    if (!vocab.ok()) return 0;
    const Tokenizer tok(*vocab);
    auto ids = tok.encode("Hello world, 123 <|x|>\n", true, true);
    if (!ids.ok()) return 0;
    for (int32_t id : *ids)
        if (!vocab->valid(id)) fail("id outside the vocabulary", std::to_string(id));
    (void)tok.decode(*ids, {});
    return 0;
}
