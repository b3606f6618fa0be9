// Byte-level BPE pre-tokenization: the regex list that tokenizer.ggml.pre selects splits text into words
// before merges (formats-and-tokenizers §5.4). Regexes run through PCRE2 (UTF + UCP, JIT when available).
//
// Exactness against llama.cpp: its splitter classifies characters with Unicode 15.1 tables, and PCRE2 10.42
// knows Unicode 14. So for a regex that uses \p{..}, loom hands PCRE2 a stand-in text in which every
// non-ASCII character is replaced by one representative of its class from loom's own 15.1 table
// (unicode.h): a letter by U+00E0, a number by U+00B2, and so on; PCRE2 then only classifies ASCII and the
// representatives, on which every Unicode version agrees. This is llama.cpp's own "collapsed text" idea.
// Regexes without \p{..} (DeepSeek's explicit ranges) see the real code points, with non-ASCII
// whitespace turned into U+000B as llama.cpp does. Offsets map back by code point index.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer {

class Pretokenizer {
public:
    // Compiles the regex list of `p` (not PreTokenizer::none). An error only if PCRE2 refuses a pattern.
    static Result<std::shared_ptr<const Pretokenizer>> make(PreTokenizer p);
    ~Pretokenizer();

    // Splits code points (from decode_utf8_lenient; every one <= U+10FFFF) into consecutive words,
    // returned as lengths in code points that sum to cpts.size(). Each regex in turn splits every word
    // of the previous step: its matches and the text between them become words. Thread-safe.
    Result<std::vector<size_t>> split(std::span<const uint32_t> cpts) const;

    // The patterns, as given to PCRE2 (for tests and `loom tokenize --verbose`).
    const std::vector<std::string>& patterns() const { return patterns_; }

private:
    struct Compiled;
    Pretokenizer() = default;
    std::vector<std::string> patterns_;
    std::vector<std::unique_ptr<Compiled>> compiled_;
};

// The representative code point that stands for `cp` in the text given to \p{..} regexes (see above).
uint32_t class_representative(uint32_t cp);

}  // namespace loom::tokenizer
