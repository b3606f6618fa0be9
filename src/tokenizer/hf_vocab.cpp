// RawVocab::from_hf: a Hugging Face tokenizer.json (+ tokenizer_config.json) as GGUF tokenizer keys would
// hold it (llama.cpp's convert_hf_to_gguf: token types, "[PAD<i>]" holes, merges as "left right"), with the
// pre-tokenizer recognised by its regexes rather than by llama.cpp's hash of a test string.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "tokenizer/vocab.h"

namespace loom::tokenizer {
namespace {

using json = nlohmann::json;

// Pre-tokenizer regexes exactly as tokenizer.json files carry them, and the tokenizer.ggml.pre they mean.
struct KnownPre {
    const char* name;
    std::vector<std::string> splits;  // the Split regexes, in order (empty: ByteLevel's own GPT-2 regex)
};

const std::vector<KnownPre>& known_pres() {
    static const std::vector<KnownPre> k = {
        {"llama-bpe",
         {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}},
        {"qwen2",
         {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}},
        {"qwen35",
         {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}},
        {"deepseek-v3",
         {R"(\p{N}{1,3})", "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
          "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| "
          "?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"}},
        {"gpt-2", {}},
    };
    return k;
}

// The text of a token entry in tokenizer_config.json: a string, or an AddedToken object with "content".
std::string token_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
    return {};
}

}  // namespace

Result<RawVocab> RawVocab::from_hf(std::string_view tokenizer_json, std::string_view config_json, std::string source) {
    const json j = json::parse(tokenizer_json, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error::invalid("{}: not a JSON object", source);
    const json& model = j.value("model", json::object());
    if (model.value("type", "") != "BPE")
        return Error::unsupported("{}: model.type '{}': only BPE tokenizer.json files are supported", source,
                                  model.value("type", std::string("(none)")));

    // Byte-level: a ByteLevel pre-tokenizer (alone or in a Sequence), and the Split regexes before it.
    const json& pt = j.contains("pre_tokenizer") && !j["pre_tokenizer"].is_null() ? j["pre_tokenizer"] : json::object();
    std::vector<json> steps;
    if (pt.value("type", "") == "Sequence") {
        for (const json& s : pt.value("pretokenizers", json::array())) steps.push_back(s);
    } else if (!pt.empty()) {
        steps.push_back(pt);
    }
    bool byte_level = false, byte_level_regex = false;
    std::vector<std::string> splits;
    for (const json& s : steps) {
        const std::string type = s.value("type", "");
        if (type == "ByteLevel") {
            byte_level = true;
            byte_level_regex = s.value("use_regex", true);
        } else if (type == "Split" && s.contains("pattern") && s["pattern"].contains("Regex")) {
            splits.push_back(s["pattern"]["Regex"].get<std::string>());
        } else {
            return Error::unsupported("{}: pre_tokenizer step '{}' is not supported", source, type);
        }
    }
    if (!byte_level)
        return Error::unsupported("{}: not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer)", source);
    if (byte_level_regex && !splits.empty())
        return Error::unsupported("{}: both Split regexes and ByteLevel's own regex: not a known pre-tokenizer",
                                  source);

    RawVocab r;
    r.source = std::move(source);
    r.model = "gpt2";
    for (const KnownPre& k : known_pres())
        if (k.splits == splits) r.pre = k.name;
    if (!r.pre)
        return Error::unsupported("{}: pre-tokenizer regexes not recognised (first: /{}/)", r.source,
                                  splits.empty() ? std::string("(none)") : splits[0]);

    // Tokens: the vocabulary, then added tokens on top; holes become "[PAD<i>]" (user-defined).
    const json& vocab = model.value("vocab", json::object());
    const json& added = j.value("added_tokens", json::array());
    int64_t n = 0;
    for (const auto& [t, id] : vocab.items()) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0)
            return Error::invalid("{}: model.vocab['{}']: bad id", r.source, t);
        n = std::max(n, id.get<int64_t>() + 1);
    }
    for (const json& a : added) n = std::max(n, a.value("id", int64_t(-1)) + 1);
    if (n > (int64_t(1) << 24)) return Error::invalid("{}: {} token ids: too many", r.source, n);
    r.tokens.assign(size_t(n), std::string());
    r.types = std::vector<int32_t>(size_t(n), int32_t(TokenType::user_defined));
    std::vector<bool> set(size_t(n), false);
    for (const auto& [t, id] : vocab.items()) {
        r.tokens[size_t(id.get<int64_t>())] = t;
        (*r.types)[size_t(id.get<int64_t>())] = int32_t(TokenType::normal);
        set[size_t(id.get<int64_t>())] = true;
    }
    for (const json& a : added) {
        const int64_t id = a.value("id", int64_t(-1));
        if (id < 0 || !a.contains("content"))
            return Error::invalid("{}: added_tokens: an entry without id or content", r.source);
        r.tokens[size_t(id)] = a["content"].get<std::string>();
        (*r.types)[size_t(id)] = int32_t(a.value("special", false) ? TokenType::control : TokenType::user_defined);
        set[size_t(id)] = true;
    }
    for (size_t i = 0; i < size_t(n); ++i)
        if (!set[i]) r.tokens[i] = "[PAD" + std::to_string(i) + "]";

    std::vector<std::string> merges;
    for (const json& m : model.value("merges", json::array())) {
        if (m.is_string()) merges.push_back(m.get<std::string>());
        else if (m.is_array() && m.size() == 2)
            merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
        else return Error::invalid("{}: model.merges: an entry that is neither \"a b\" nor [a, b]", r.source);
    }
    r.merges = std::move(merges);

    // BOS/EOS and whether to add them: tokenizer_config.json, else a TemplateProcessing post-processor.
    auto id_of = [&](const std::string& text) -> int64_t {
        for (size_t i = 0; i < r.tokens.size(); ++i)
            if (r.tokens[i] == text) return int64_t(i);
        return -1;
    };
    if (!config_json.empty()) {
        const json c = json::parse(config_json, nullptr, false);
        if (c.is_discarded() || !c.is_object())
            return Error::invalid("{}: tokenizer_config.json: not a JSON object", r.source);
        for (auto [field, key] :
             {std::pair{"bos_token", "bos_token_id"}, std::pair{"eos_token", "eos_token_id"},
              std::pair{"pad_token", "padding_token_id"}, std::pair{"unk_token", "unknown_token_id"}}) {
            if (!c.contains(field)) continue;
            const std::string text = token_text(c[field]);
            if (text.empty()) continue;
            const int64_t id = id_of(text);
            if (id < 0)
                return Error::invalid("{}: tokenizer_config.json: {} '{}' is not in the vocabulary", r.source, field,
                                      text);
            r.ids.emplace_back(key, id);
        }
        if (c.contains("add_bos_token") && c["add_bos_token"].is_boolean()) r.add_bos = c["add_bos_token"].get<bool>();
        if (c.contains("add_eos_token") && c["add_eos_token"].is_boolean()) r.add_eos = c["add_eos_token"].get<bool>();
    }
    const json& post =
        j.contains("post_processor") && !j["post_processor"].is_null() ? j["post_processor"] : json::object();
    if (!r.add_bos && post.value("type", "") == "TemplateProcessing") {
        const json& single = post.value("single", json::array());
        if (!single.empty() && single[0].contains("SpecialToken")) {
            const int64_t id = id_of(single[0]["SpecialToken"].value("id", std::string()));
            if (id >= 0) {
                r.add_bos = true;
                if (std::none_of(r.ids.begin(), r.ids.end(), [](const auto& p) { return p.first == "bos_token_id"; }))
                    r.ids.emplace_back("bos_token_id", id);
            }
        }
    }
    return r;
}

}  // namespace loom::tokenizer
