// Small vocabularies for hand-computed tokenizer tests, built as GGUF metadata in memory and loaded
// through Vocab::load (the path real files take).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "tokenizer/tokenizer.h"
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

// Text -> ids, failing the test on an error (then no ids).
inline std::vector<int32_t> encode(const Tokenizer& t, std::string_view s, bool add = true, bool parse = false) {
    auto r = t.encode(s, add, parse);
    EXPECT_TRUE(r.ok()) << r.error().message();
    return r.ok() ? *r : std::vector<int32_t>{};
}

// The 256 byte tokens <0x00>..<0xFF>, appended.
inline void add_byte_tokens(TestVocab& v, float score) {
    for (int b = 0; b < 256; ++b) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        v.add(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">", score, TokenType::byte);
    }
}

// <unk> <s> </s>, the 256 byte tokens <0x00>..<0xFF> (ids 3..258): a SentencePiece skeleton.
inline TestVocab spm_skeleton() {
    TestVocab v;
    v.add("<unk>", 0, TokenType::unknown);
    v.add("<s>", 0, TokenType::control);
    v.add("</s>", 0, TokenType::control);
    add_byte_tokens(v, 0);
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

// A gemma4-model skeleton, ids as Gemma 4 orders its kinds: <pad> <eos> <bos> <unk> (0..3, control),
// <|turn> <turn|> (4, 5, control), <|tool_response> (6, user-defined, as the converter writes it), </s> (7,
// normal), then the byte tokens <0x00>..<0xFF> (8..263). Special ids as keys; no merges yet.
inline TestVocab gemma4_skeleton() {
    TestVocab v;
    v.model = "gemma4";
    for (const char* t : {"<pad>", "<eos>", "<bos>", "<unk>", "<|turn>", "<turn|>"})
        v.add(t, -1000, TokenType::control);
    v.add("<|tool_response>", -1000, TokenType::user_defined);
    v.add("</s>", -1000);
    add_byte_tokens(v, -1000);
    v.extra = {{"bos_token_id", uint32_t(2)},     {"eos_token_id", uint32_t(1)}, {"unknown_token_id", uint32_t(3)},
               {"padding_token_id", uint32_t(0)}, {"add_space_prefix", false},   {"add_bos_token", true}};
    return v;
}

}  // namespace loom::tokenizer::testing
