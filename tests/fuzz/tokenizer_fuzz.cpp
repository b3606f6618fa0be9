// libFuzzer target for the tokenizers: arbitrary bytes through SPM, byte-level BPE (several
// pre-tokenizers) and gemma4's BPE (▁ for spaces, <0xHH> fallback), with and without special-token parsing. Invariants:
// no crash, every id inside the vocabulary, lossless round trips where the algorithms promise them, and a streaming
// decoder whose output is always valid UTF-8 and, for valid text, the same as decode. Broken invariants abort.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode.h"
#include "tokenizer/vocab.h"

namespace {

using namespace loom;
using namespace loom::tokenizer;

[[noreturn]] void fail(const char* what, std::string_view text) {
    std::fprintf(stderr, "tokenizer_fuzz: invariant broken: %s (input of %zu bytes)\n", what, text.size());
    std::abort();
}

Vocab load(formats::GgufWriter& w) {
    auto bytes = w.to_bytes();
    auto f = formats::GgufFile::parse(std::move(*bytes), "fuzz.gguf");
    auto v = Vocab::load(*f);
    if (!v.ok()) {
        std::fprintf(stderr, "tokenizer_fuzz: %s\n", v.error().message().c_str());
        std::abort();
    }
    return std::move(*v);
}

// SPM: <unk> <s> </s>, byte tokens, pieces for common English fragments, a user-defined token.
Vocab make_spm() {
    std::vector<std::string> tokens{"<unk>", "<s>", "</s>"};
    std::vector<int32_t> types{2, 3, 3};
    for (int b = 0; b < 256; ++b) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
        types.push_back(6);
    }
    const char* pieces[] = {"\xE2\x96\x81",
                            "e",
                            "t",
                            "a",
                            "o",
                            "n",
                            "th",
                            "he",
                            "the",
                            "\xE2\x96\x81the",
                            "in",
                            "an",
                            ("\xE2\x96\x81"
                             "a"),
                            "er",
                            "re",
                            "on",
                            "\xC3\xA9",
                            "\xE6\x97\xA5",
                            "\xF0\x9F\xA4\x96",
                            "\n\n"};
    for (const char* p : pieces) tokens.push_back(p), types.push_back(1);
    tokens.push_back("<ud>"), types.push_back(4);
    std::vector<float> scores(tokens.size());
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = -float(i % 7);
    formats::GgufWriter w;
    w.set("tokenizer.ggml.model", std::string("llama"));
    w.set("tokenizer.ggml.tokens", tokens);
    w.set("tokenizer.ggml.scores", scores);
    w.set("tokenizer.ggml.token_type", types);
    w.set("tokenizer.ggml.add_space_prefix", false);
    return load(w);
}

// Byte-level BPE: the 256 byte characters and a few merges.
Vocab make_bpe(const std::string& pre) {
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) {
        std::string ch;
        append_utf8(ch, byte_to_codepoint(uint8_t(b)));
        tokens.push_back(ch);
    }
    const std::vector<std::string> merges{"t h", "th e", "\xC4\xA0 t",       "\xC4\xA0t he",
                                          "i n", "e r",  "\xC4\xA0 \xC4\xA0"};
    for (const auto& m : merges) tokens.push_back(m.substr(0, m.find(' ')) + m.substr(m.find(' ') + 1));
    tokens.push_back("<|endoftext|>");
    std::vector<int32_t> types(tokens.size(), 1);
    types.back() = 3;
    formats::GgufWriter w;
    w.set("tokenizer.ggml.model", std::string("gpt2"));
    w.set("tokenizer.ggml.pre", pre);
    w.set("tokenizer.ggml.tokens", tokens);
    w.set("tokenizer.ggml.token_type", types);
    w.set("tokenizer.ggml.merges", merges);
    w.set("tokenizer.ggml.bos_token_id", uint32_t(tokens.size() - 1));
    w.set("tokenizer.ggml.eos_token_id", uint32_t(tokens.size() - 1));
    return load(w);
}

// gemma4: control and user-defined markers, the byte tokens, ▁-pieces with merges, newline runs.
Vocab make_gemma4() {
    std::vector<std::string> tokens{"<pad>", "<eos>", "<bos>", "<|turn>", "<turn|>", "<|\"|>", "<|tool_response>"};
    std::vector<int32_t> types{3, 3, 3, 3, 3, 4, 4};
    for (int b = 0; b < 256; ++b) {
        static constexpr char kHex[] = "0123456789ABCDEF";
        tokens.push_back(std::string("<0x") + kHex[b >> 4] + kHex[b & 15] + ">");
        types.push_back(6);
    }
    for (const char* p : {"\xE2\x96\x81", "t", "h", "e", "a", "\n", "\xC3\xA9"})
        tokens.push_back(p), types.push_back(1);
    const std::vector<std::string> merges{"t h",   "th e",   "\xE2\x96\x81 the", "\xE2\x96\x81 \xE2\x96\x81",
                                          "\n \n", "\n\n \n"};
    for (const auto& m : merges)
        tokens.push_back(m.substr(0, m.find(' ', 1)) + m.substr(m.find(' ', 1) + 1)), types.push_back(1);
    formats::GgufWriter w;
    w.set("tokenizer.ggml.model", std::string("gemma4"));
    w.set("tokenizer.ggml.tokens", tokens);
    w.set("tokenizer.ggml.token_type", types);
    w.set("tokenizer.ggml.merges", merges);
    w.set("tokenizer.ggml.bos_token_id", uint32_t(2));
    w.set("tokenizer.ggml.eos_token_id", uint32_t(1));
    return load(w);
}

struct Setup {
    std::vector<std::unique_ptr<Vocab>> vocabs;
    std::vector<std::unique_ptr<Tokenizer>> toks;
    Setup() {
        vocabs.push_back(std::make_unique<Vocab>(make_spm()));
        for (const char* pre : {"qwen2", "llama-bpe", "deepseek-v3", "deepseek-llm", "gpt-2", "default"})
            vocabs.push_back(std::make_unique<Vocab>(make_bpe(pre)));
        vocabs.push_back(std::make_unique<Vocab>(make_gemma4()));
        for (auto& v : vocabs) toks.push_back(std::make_unique<Tokenizer>(*v));
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const Setup s;
    if (size == 0) return 0;
    const uint8_t sel = data[0];
    const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
    const Tokenizer& tok = *s.toks[sel % s.toks.size()];
    const Vocab& v = tok.vocab();
    const bool parse = sel & 0x80, add = sel & 0x40;

    auto ids = tok.encode(text, add, parse);
    if (!ids.ok()) {
        // Only BPE may refuse input: code points above U+10FFFF (gemma4's vocabulary has every byte token).
        if (v.type() == VocabType::spm) fail("SPM refused input", text);
        return 0;
    }
    for (int32_t id : *ids)
        if (!v.valid(id)) fail("id outside the vocabulary", text);

    const std::string decoded = tok.decode(*ids, {.unparse_special = true});
    // SPM is lossless on valid UTF-8 without a literal ▁ (which decodes as a space). On invalid input a
    // lead byte may swallow the bytes of a ▁ that stood for a space; they come back as bytes.
    const bool has_sp = text.find("\xE2\x96\x81") != std::string_view::npos;
    if (v.type() == VocabType::spm && !add && !has_sp && valid_utf8(text) && decoded != text)
        fail("SPM round trip", text);
    if (v.type() == VocabType::bpe && !v.clean_spaces() && valid_utf8(text) && decoded != text)
        fail("BPE round trip", text);

    StreamingDecoder d(v, true);
    std::string streamed;
    for (int32_t id : *ids) streamed += d.push(id);
    streamed += d.flush();
    if (!valid_utf8(streamed)) fail("streamed text is not valid UTF-8", text);
    if (valid_utf8(decoded) && v.type() == VocabType::bpe && !v.clean_spaces() && streamed != decoded)
        fail("streamed text differs from decode", text);
    return 0;
}
