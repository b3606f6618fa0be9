// libFuzzer target for Hugging Face vocabularies (RawVocab::from_hf, and from_hf_byte_fallback as Gemma 4's arch
// file asks for it): the input is a tokenizer.json, then
// optionally a NUL byte and a tokenizer_config.json. When they convert, the vocabulary is built (the
// validation a GGUF vocabulary gets) and, when it builds, encodes and decodes a short text. Invariants
// (raw_vocab_check.h): no crash or exception, errors name the source, and every id encoded is inside the
// vocabulary.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "raw_vocab_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace loom::tokenizer;
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    const size_t nul = in.find('\0');
    const std::string_view json = in.substr(0, nul);
    const std::string_view config = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
    fuzz::check_raw_vocab(RawVocab::from_hf(json, config, "fuzz/tokenizer.json"), "fuzz/tokenizer.json",
                          "hf_vocab_fuzz");
    ByteFallbackBpe o;
    o.model = "gemma4";
    o.merges = true;
    o.user_defined = {"<|channel>"};
    // Without a tokenizer_class in the config, model_type's: GemmaTokenizerFast's defaults for the special tokens.
    fuzz::check_raw_vocab(RawVocab::from_hf_byte_fallback(HfTokenizerFiles{json, config, "",
                                                                           R"({"model_type": "gemma3"})"},
                                                          o, "fuzz/tokenizer.json"),
                          "fuzz/tokenizer.json", "hf_vocab_fuzz");
    return 0;
}
