// libFuzzer target for SentencePiece tokenizer.model files (SpmModel::parse, RawVocab::from_spm): the input is
// the file. When it converts, the vocabulary is built (the validation a GGUF vocabulary gets) and, when it
// builds, encodes and decodes a short text. Invariants (raw_vocab_check.h): no crash or exception, errors name
// the source, and every id encoded is inside the vocabulary.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "raw_vocab_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace loom::tokenizer;
    const std::string_view in(reinterpret_cast<const char*>(data), size);
    fuzz::check_raw_vocab(RawVocab::from_spm(in, HfTokenizerFiles{}, std::nullopt, "fuzz/tokenizer.model"),
                          "fuzz/tokenizer.model", "spm_model_fuzz");
    return 0;
}
