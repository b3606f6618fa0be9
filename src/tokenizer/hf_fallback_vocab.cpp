// RawVocab::from_hf_byte_fallback: a tokenizer.json BPE with byte fallback (Llama 2 style fast tokenizers, Gemma 4)
// as llama.cpp's converter reads it: gguf-py's LlamaHfVocab, which asks transformers (4.57, the pinned converter's)
// for the vocabulary, the added tokens and the special tokens, then the family's set_vocab and SpecialVocab.
//
// What transformers answers, from the files alone:
// - vocab_size: the BPE model's own vocabulary (added tokens not counted); get_vocab(): that plus the added tokens.
// - the special tokens: tokenizer_config.json's bos/eos/unk/sep/pad/cls/mask_token, additional_special_tokens and
//   extra_special_tokens (transformers' order); the tokenizer class's defaults for the named ones it does not
//   set, and the tokens the class appends to the additional ones (hf_tokenizer_class.h); special_tokens_map.json
//   only for a legacy config without added_tokens_decoder, where its values win over the config's. A special
//   token missing from the vocabulary is added after it, in that order.
// - a token's type: byte (`<0xHH>`), control (one of the special tokens' ids) or normal; added tokens beyond the
//   vocabulary are control when special, else user-defined. Every score is -1000.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <set>

#include "tokenizer/hf_tokenizer_class.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer {
namespace {

using json = nlohmann::json;

constexpr float kScore = -1000.0f;  // LlamaHfVocab.get_token_score

// The text of a special-token entry: a string, or an AddedToken object's "content"; "" for null or anything else.
std::string token_text(const json& v) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
    return {};
}

Result<json> object_of(std::string_view text, const char* file, const std::string& source) {
    if (text.empty()) return json::object();
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error::invalid("{}: {}: not a JSON object", source, file);
    return j;
}

// transformers' all_special_tokens for this config, in its order, without repeats.
std::vector<std::string> special_tokens(const json& cfg, const json& legacy_map, const HfTokenizerClass& c) {
    static constexpr const char* kNamed[] = {"bos_token", "eos_token", "unk_token", "sep_token",
                                             "pad_token", "cls_token", "mask_token"};
    // from_pretrained's init kwargs: the config, then (legacy only) special_tokens_map.json over it (its additional
    // special tokens appended to the config's, its other values replacing the config's), then the class's defaults
    // for keys neither has at all.
    json kw = cfg;
    if (!cfg.contains("added_tokens_decoder")) {
        for (const auto& [key, v] : legacy_map.items()) {
            if (key == "additional_special_tokens" && v.is_array()) {
                json list = kw.contains(key) && kw[key].is_array() ? kw[key] : json::array();
                for (const json& t : v)
                    if (std::none_of(list.begin(), list.end(),
                                     [&](const json& x) { return token_text(x) == token_text(t); }))
                        list.push_back(t);
                kw[key] = list;
            } else {
                kw[key] = v;
            }
        }
    }
    for (const auto& [key, text] : c.defaults)
        if (!kw.contains(key)) kw[key] = text;
    if (!c.appended.empty()) {
        json list = kw.contains("additional_special_tokens") && kw["additional_special_tokens"].is_array()
                        ? kw["additional_special_tokens"]
                        : json::array();
        for (const auto& [key, text] : c.appended)
            if (!kw.contains(key)) list.push_back(text);
            else if (!kw[key].is_null()) list.push_back(kw[key]);
        kw["additional_special_tokens"] = list;
    }

    std::vector<std::string> out;
    auto add = [&](const json& v) {
        const std::string t = token_text(v);
        if (!t.empty() && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
    };
    for (const char* key : kNamed)
        if (kw.contains(key)) add(kw[key]);
    if (kw.contains("additional_special_tokens") && kw["additional_special_tokens"].is_array())
        for (const json& t : kw["additional_special_tokens"]) add(t);
    if (kw.contains("extra_special_tokens") && kw["extra_special_tokens"].is_object())
        for (const auto& [name, t] : kw["extra_special_tokens"].items()) add(t);
    return out;
}

// SpecialVocab's merges: "a b" as written, or [a, b] joined by a space with spaces inside a part written as U+0120
// (the form transformers 4.45+ saves).
Result<std::vector<std::string>> merges_of(const json& model, const std::string& source) {
    std::vector<std::string> out;
    const json& m = model.contains("merges") ? model["merges"] : json::array();
    if (!m.is_array()) return Error::invalid("{}: model.merges: not an array", source);
    for (const json& e : m) {
        if (e.is_string()) {
            out.push_back(e.get<std::string>());
        } else if (e.is_array() && e.size() == 2 && e[0].is_string() && e[1].is_string()) {
            std::string joined;
            for (int k = 0; k < 2; ++k) {
                if (k == 1) joined += ' ';
                for (char c : e[size_t(k)].get<std::string>())
                    joined += c == ' ' ? std::string("\u0120") : std::string(1, c);
            }
            out.push_back(std::move(joined));
        } else {
            return Error::invalid("{}: model.merges[{}]: neither \"a b\" nor [a, b]", source, out.size());
        }
    }
    return out;
}

}  // namespace

Result<RawVocab> RawVocab::from_hf_byte_fallback(const HfTokenizerFiles& files, const ByteFallbackBpe& o,
                                                 std::string source) {
    LOOM_TRY(json j, object_of(files.tokenizer_json, "tokenizer.json", source));
    LOOM_TRY(json cfg, object_of(files.tokenizer_config_json, "tokenizer_config.json", source));
    LOOM_TRY(json legacy_map, object_of(files.special_tokens_map_json, "special_tokens_map.json", source));
    LOOM_TRY(json config, object_of(files.config_json, "config.json", source));
    const json& model = j.contains("model") && j["model"].is_object() ? j["model"] : json::object();
    const json& decoder = j.contains("decoder") && j["decoder"].is_object() ? j["decoder"] : json::object();
    if (model.value("type", "") != "BPE" || !model.value("byte_fallback", false) ||
        decoder.value("type", "") != "Sequence")
        return Error::unsupported(
            "{}: not a BPE tokenizer with byte fallback (needs model.type BPE, model.byte_fallback true and a "
            "Sequence decoder)",
            source);

    // get_vocab(): the model's vocabulary, then the added tokens over it.
    std::map<int64_t, std::string> by_id;
    std::map<std::string, int64_t> id_of;
    const json& vocab = model.contains("vocab") && model["vocab"].is_object() ? model["vocab"] : json::object();
    const int64_t n_base = int64_t(vocab.size());
    for (const auto& [text, id] : vocab.items()) {
        if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= (int64_t(1) << 24))
            return Error::invalid("{}: model.vocab['{}']: bad id", source, text);
        by_id[id.get<int64_t>()] = text;
        id_of[text] = id.get<int64_t>();
    }
    std::vector<std::pair<int64_t, std::string>> added;  // tokenizer.json's added tokens, as ids ≥ n_base get them
    int64_t next = n_base;
    for (const json& a : j.value("added_tokens", json::array())) {
        if (!a.is_object() || !a.contains("id") || !a["id"].is_number_integer() || a["id"].get<int64_t>() < 0 ||
            !a.contains("content") || !a["content"].is_string())
            return Error::invalid("{}: added_tokens: an entry without a valid id and content", source);
        const int64_t id = a["id"].get<int64_t>();
        const std::string text = a["content"].get<std::string>();
        if (id >= (int64_t(1) << 24)) return Error::invalid("{}: added_tokens: id {} is too large", source, id);
        by_id[id] = text;
        id_of[text] = id;
        if (id >= n_base) added.emplace_back(id, text);
        next = std::max(next, id + 1);
    }

    // The special tokens; one the vocabulary lacks is added, as the tokenizer does when it is made.
    LOOM_TRY(HfTokenizerClass tokenizer_class, hf_tokenizer_class(cfg, config, source));
    const std::vector<std::string> specials = special_tokens(cfg, legacy_map, tokenizer_class);
    for (const std::string& t : specials) {
        if (id_of.count(t)) continue;
        id_of[t] = next;
        by_id[next] = t;
        added.emplace_back(next++, t);
    }
    std::sort(added.begin(), added.end());
    std::set<int64_t> special_ids;
    for (const std::string& t : specials) special_ids.insert(id_of.at(t));

    RawVocab r;
    r.source = std::move(source);
    r.model = o.model;
    r.pre = o.pre;
    r.scores = std::vector<float>();
    r.types = std::vector<int32_t>();
    for (int64_t id = 0; id < n_base; ++id) {
        auto it = by_id.find(id);
        if (it == by_id.end())
            return Error::invalid("{}: no token has id {} (model.vocab has {} tokens)", r.source, id, n_base);
        const bool byte = parse_byte_token(it->second) >= 0;  // LlamaHfVocab's <0xHH>, either case
        r.tokens.push_back(it->second);
        r.types->push_back(int32_t(byte                    ? TokenType::byte
                                   : special_ids.count(id) ? TokenType::control
                                                           : TokenType::normal));
    }
    for (const auto& [id, text] : added) {
        r.tokens.push_back(text);
        r.types->push_back(int32_t(special_ids.count(id_of.at(text)) ? TokenType::control : TokenType::user_defined));
    }
    r.scores->assign(r.tokens.size(), kScore);
    for (const std::string& t : o.user_defined)
        for (size_t i = 0; i < r.tokens.size(); ++i)
            if (r.tokens[i] == t) (*r.types)[i] = int32_t(TokenType::user_defined);
    if (o.merges) {
        LOOM_TRY(r.merges, merges_of(model, r.source));
    }
    LOOM_RETURN_IF_ERROR(add_special_tokens(r, files));
    if (o.add_space_prefix) r.add_space_prefix = o.add_space_prefix;
    if (o.add_bos_token) r.add_bos = o.add_bos_token;
    return r;
}

}  // namespace loom::tokenizer
