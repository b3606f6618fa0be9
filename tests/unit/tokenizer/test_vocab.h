// Small vocabularies for hand-computed tokenizer tests, built as GGUF metadata in memory and loaded
// through Vocab::load (the path real files take).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer::testing {

struct TestVocab {
    std::string model = "llama";
    std::string pre;  // empty: no key
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    std::vector<std::string> merges;
    std::vector<std::pair<std::string, formats::GgufValue>> extra;  // more tokenizer.ggml.* keys

    int32_t add(std::string text, float score = 0.f, TokenType type = TokenType::normal) {
        tokens.push_back(std::move(text));
        scores.push_back(score);
        types.push_back(int32_t(type));
        return int32_t(tokens.size() - 1);
    }

    formats::GgufWriter writer() const {
        formats::GgufWriter w;
        w.set("general.architecture", std::string("llama"));
        w.set("tokenizer.ggml.model", model);
        if (!pre.empty()) w.set("tokenizer.ggml.pre", pre);
        w.set("tokenizer.ggml.tokens", tokens);
        if (!scores.empty()) w.set("tokenizer.ggml.scores", scores);
        if (!types.empty()) w.set("tokenizer.ggml.token_type", types);
        if (!merges.empty()) w.set("tokenizer.ggml.merges", merges);
        for (const auto& [k, v] : extra) w.set("tokenizer.ggml." + k, v);
        return w;
    }

    Result<Vocab> load() const {
        auto bytes = writer().to_bytes();
        if (!bytes) return bytes.error();
        auto f = formats::GgufFile::parse(std::move(*bytes), "test.gguf");
        if (!f) return f.error();
        return Vocab::load(*f);
    }
};

// <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF> (ids 3..258): a SentencePiece skeleton.
inline TestVocab spm_skeleton() {
    TestVocab v;
    v.add("<unk>", 0, TokenType::unknown);
    v.add("<s>", 0, TokenType::control);
    v.add("</s>", 0, TokenType::control);
    for (int b = 0; b < 256; ++b) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        v.add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", 0, TokenType::byte);
    }
    return v;
}

// GPT-2's 256 byte characters as tokens 0..255 (id = byte), for byte-level BPE tests.
inline TestVocab bpe_skeleton(std::string pre = "gpt-2") {
    TestVocab v;
    v.model = "gpt2";
    v.pre = std::move(pre);
    for (int b = 0; b < 256; ++b) {
        std::string ch;
        append_utf8(ch, byte_to_codepoint(uint8_t(b)));
        v.add(ch);
    }
    return v;
}

}  // namespace loom::tokenizer::testing
