// RawVocab::from_spm: a SentencePiece tokenizer.model and the JSON files beside it as the GGUF tokenizer keys
// llama.cpp's converter writes for it (convert_hf_to_gguf: _create_vocab_sentencepiece, _set_vocab_sentencepiece).
#include <nlohmann/json.hpp>

#include <charconv>

#include "tokenizer/spm_model.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer {
namespace {

using json = nlohmann::json;

constexpr int64_t kMaxTokens = int64_t(1) << 24;
constexpr float kPadScore = -10000.f;   // the converter's score for ids no piece fills
constexpr float kAddedScore = -1000.f;  // ... and for added tokens

// The converter's does_token_look_special: added tokens some models fail to mark special.
bool looks_special(std::string_view t) {
    auto wraps = [&](std::string_view open, std::string_view close) {
        return t.size() >= open.size() + close.size() && t.substr(0, open.size()) == open &&
               t.substr(t.size() - close.size()) == close;
    };
    return t == "<pad>" || t == "<mask>" || t == "<2mass>" || t == "[@BOS@]" || wraps("<|", "|>") ||
           wraps("<\xEF\xBD\x9C", "\xEF\xBD\x9C>") || wraps("<unused", ">");
}

// The converter asks SentencePiece IsUnknown / IsControl / IsUnused / IsByte; everything else (user-defined
// pieces too) is normal.
TokenType type_of(SpmPiece::Type t) {
    switch (t) {
        case SpmPiece::Type::unknown: return TokenType::unknown;
        case SpmPiece::Type::control: return TokenType::control;
        case SpmPiece::Type::unused: return TokenType::unused;
        case SpmPiece::Type::byte: return TokenType::byte;
        case SpmPiece::Type::normal:
        case SpmPiece::Type::user_defined: return TokenType::normal;
    }
    return TokenType::normal;
}

std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
        s.replace(at, from.size(), to);
    return s;
}

}  // namespace

Result<RawVocab> RawVocab::from_spm(std::string_view tokenizer_model, const HfTokenizerFiles& files,
                                    std::optional<int64_t> vocab_size, std::string source) {
    LOOM_TRY(SpmModel m, SpmModel::parse(tokenizer_model, source));
    const int64_t n = vocab_size.value_or(int64_t(m.pieces.size()));
    if (n <= 0 || n > kMaxTokens) return Error::invalid("{}: vocab_size {} (expected 1..{})", source, n, kMaxTokens);

    RawVocab r;
    r.source = std::move(source);
    r.model = "llama";
    r.pre = "default";
    // Every id starts as an unused "[PAD<i>]"; pieces beyond vocab_size are dropped, as the converter does.
    r.tokens.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) r.tokens[size_t(i)] = "[PAD" + std::to_string(i) + "]";
    std::vector<float> scores(size_t(n), kPadScore);
    std::vector<int32_t> types(size_t(n), int32_t{int32_t(TokenType::unused)});
    for (size_t i = 0; i < m.pieces.size() && int64_t(i) < n; ++i) {
        r.tokens[i] = std::move(m.pieces[i].piece);
        scores[i] = m.pieces[i].score;
        types[i] = int32_t(type_of(m.pieces[i].type));
    }

    // added_tokens.json: {"text": id}, user-defined.
    if (!files.added_tokens_json.empty()) {
        const json a = json::parse(files.added_tokens_json, nullptr, false);
        if (a.is_discarded() || !a.is_object())
            return Error::invalid("{}: added_tokens.json: not a JSON object", r.source);
        for (const auto& [text, id] : a.items()) {
            if (!id.is_number_integer() || id.get<int64_t>() < 0)
                return Error::invalid("{}: added_tokens.json: '{}': id {} is not a non-negative integer", r.source,
                                      text, id.dump());
            if (id.get<int64_t>() >= n) continue;  // the converter warns and skips it
            const auto i = size_t(id.get<int64_t>());
            r.tokens[i] = text;
            scores[i] = kAddedScore;
            types[i] = int32_t(TokenType::user_defined);
        }
    }

    // tokenizer_config.json's added_tokens_decoder: {"<id>": {"content": ..., "special": ...}}.
    if (!files.tokenizer_config_json.empty()) {
        const json c = json::parse(files.tokenizer_config_json, nullptr, false);
        if (c.is_discarded() || !c.is_object())
            return Error::invalid("{}: tokenizer_config.json: not a JSON object", r.source);
        const json& dec = c.contains("added_tokens_decoder") ? c["added_tokens_decoder"] : json::object();
        if (!dec.is_object())
            return Error::invalid("{}: tokenizer_config.json: added_tokens_decoder is not an object", r.source);
        for (const auto& [key, entry] : dec.items()) {
            int64_t id = -1;
            if (auto [end, ec] = std::from_chars(key.data(), key.data() + key.size(), id);
                ec != std::errc() || end != key.data() + key.size())
                id = -1;
            if (id < 0 || !entry.is_object() || !entry.contains("content") || !entry["content"].is_string())
                return Error::invalid(
                    "{}: tokenizer_config.json: added_tokens_decoder['{}']: expected a non-negative "
                    "id and an object with a string content",
                    r.source, key);
            if (id >= n) continue;
            std::string text = entry["content"].get<std::string>();
            const bool special =
                entry.contains("special") && entry["special"].is_boolean() && entry["special"].get<bool>();
            if (special || looks_special(text)) {
                types[size_t(id)] = int32_t(TokenType::control);
            } else {
                text = replace_all(std::move(text), "\xE2\x96\x81", " ");  // the converter pre-normalizes ▁ here
                types[size_t(id)] = int32_t(TokenType::user_defined);
            }
            scores[size_t(id)] = kAddedScore;
            r.tokens[size_t(id)] = std::move(text);
        }
    }
    r.scores = std::move(scores);
    r.types = std::move(types);
    LOOM_RETURN_IF_ERROR(add_special_tokens(r, files));
    return r;
}

}  // namespace loom::tokenizer
