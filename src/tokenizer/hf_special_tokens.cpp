// add_special_tokens: gguf-py's SpecialVocab (vocab.py, _try_load_from_tokenizer_json and
// _try_load_from_config_json) step for step, since the GGUF ids and add_*_token flags llama.cpp runs with are
// whatever its quirks give: tokenizer_config.json is rewritten as it goes (bos from cls, eos from sep, eot/eom
// when the post-processor's last token differs from eos), and "empty" means Python's falsiness.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <optional>

#include "tokenizer/hf_special_tokens.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer {
namespace {

using json = nlohmann::json;

// Python's truthiness of a JSON value (None, "", 0, false, [] and {} are false); absent reads as null.
bool truthy(const json& v) {
    if (v.is_null()) return false;
    if (v.is_boolean()) return v.get<bool>();
    if (v.is_number()) return v.get<double>() != 0;
    if (v.is_string() || v.is_array() || v.is_object()) return !v.empty();
    return true;
}

// dict.get(key) on a JSON object (null when absent or not an object).
json get(const json& obj, const std::string& key) { return obj.is_object() && obj.contains(key) ? obj[key] : json(); }

// The 'id' of a TemplateProcessing entry's SpecialToken, or null.
json special_id(const json& entry) { return get(get(entry, "SpecialToken"), "id"); }

// The GGUF id key each special token type is written to; cls has no writer in gguf-py and is dropped.
std::string_view id_key(const std::string& typ) {
    static const std::map<std::string, std::string_view> k = {
        {"bos", "bos_token_id"},       {"eos", "eos_token_id"},     {"unk", "unknown_token_id"},
        {"sep", "seperator_token_id"}, {"pad", "padding_token_id"}, {"mask", "mask_token_id"},
        {"eot", "eot_token_id"},       {"eom", "eom_token_id"},
    };
    auto it = k.find(typ);
    return it == k.end() ? std::string_view() : it->second;
}

class SpecialVocab {
public:
    // n_vocab: ids at or past it are skipped (none when absent, as for a SpecialVocab made without n_vocab).
    SpecialVocab(std::optional<size_t> n_vocab, std::vector<std::string> types)
        : n_vocab_(n_vocab), types_(std::move(types)) {}

    Status load(const json& tokenizer, json config, const json& model_config, const std::string& source) {
        const json added = tokenizer.is_object() ? get(tokenizer, "added_tokens") : json::array();
        if (tokenizer.is_object()) post_processor(tokenizer, config);
        if (truthy(config)) LOOM_RETURN_IF_ERROR(from_tokenizer_config(config, added, source));
        for (const std::string& typ : types_) {
            json id = get(model_config, typ + "_token_id");
            if (id.is_null()) id = get(get(model_config, "text_config"), typ + "_token_id");
            LOOM_RETURN_IF_ERROR(set_id(typ, id, source));
        }
        return Ok{};
    }

    // _set_special_token for an id the caller gives (after load: the files' ids win).
    Status fallback(const std::string& typ, int64_t id, const std::string& source) { return set_id(typ, id, source); }

    // add_to_gguf: each id where gguf-py has a writer for its type (a key written again replaces the earlier
    // value, as GGUFWriter does), and the add_* flags.
    void write(RawVocab& r) const {
        for (const auto& [typ, id] : ids_) {
            const std::string_view k = id_key(typ);
            if (k.empty()) continue;
            auto same = std::find_if(r.ids.begin(), r.ids.end(), [&](const auto& p) { return p.first == k; });
            if (same != r.ids.end()) same->second = id;
            else r.ids.emplace_back(std::string(k), id);
        }
        for (const auto& [typ, add] : add_) {
            if (typ == "bos") r.add_bos = add;
            if (typ == "eos") r.add_eos = add;
            if (typ == "sep") r.add_sep = add;
        }
    }

private:
    // _set_special_token: integers only, the first one set wins, ids past the vocabulary are skipped.
    Status set_id(const std::string& typ, const json& id, const std::string& source) {
        if (!id.is_number_integer()) return Ok{};
        if (id.get<int64_t>() < 0)
            return Error::invalid("{}: invalid value for special token type {}: {}", source, typ, id.dump());
        if (n_vocab_ && uint64_t(id.get<int64_t>()) >= *n_vocab_) return Ok{};
        if (std::none_of(ids_.begin(), ids_.end(), [&](const auto& p) { return p.first == typ; }))
            ids_.emplace_back(typ, id.get<int64_t>());
        return Ok{};
    }

    void set_add_default(const std::string& typ, bool v) {
        if (!add_.count(typ)) add_[typ] = v;
    }

    // What tokenizer.json's post-processor says about adding BOS/EOS/SEP; may rewrite `config`.
    void post_processor(const json& tokenizer, json& config) {
        json bos = get(config, "bos_token"), cls = get(config, "cls_token");
        json eos = get(config, "eos_token"), sep = get(config, "sep_token");
        if (!truthy(bos) && truthy(cls) && truthy(config)) config["bos_token"] = bos = cls;
        if (!truthy(eos) && truthy(sep) && truthy(config)) config["eos_token"] = eos = sep;
        const json pp = get(tokenizer, "post_processor");
        if (!truthy(pp)) return;
        const json procs = pp.contains("processors") ? pp["processors"] : json::array({pp});
        for (const json& proc : procs) {
            const json type = get(proc, "type");
            if (type == "ByteLevel") {
                set_add_default("bos", false);
                set_add_default("eos", false);
            } else if (type == "RobertaProcessing") {
                add_["bos"] = add_["eos"] = add_["sep"] = true;
                if (!truthy(cls) && truthy(config)) {
                    const json c = get(proc, "cls");
                    cls = c.is_array() && !c.empty() ? c[0] : bos;
                    config["cls_token"] = cls;
                }
                if (!truthy(sep) && truthy(config)) {
                    const json s = get(proc, "sep");
                    sep = s.is_array() && !s.empty() ? s[0] : eos;
                    config["sep_token"] = sep;
                }
            } else if (type == "TemplateProcessing") {
                template_processing(proc, config, bos, cls, eos, sep);
            }
        }
    }

    // "Crude parsing of TemplateProcessing" (gguf-py's words): the first and last tokens of `single` are BOS
    // and EOS; a special token between A and B in `pair` is a separator.
    void template_processing(const json& proc, json& config, json& bos, json& cls, json& eos, const json& sep) {
        const json single = get(proc, "single").is_array() ? proc["single"] : json::array();
        json pair = get(proc, "pair").is_array() ? proc["pair"] : json::array();
        json first, last;
        if (single.size() > 1) {
            first = special_id(single[0]);
            if (truthy(first)) {
                if (!truthy(config)) {
                    bos = first;
                } else if (first != bos && first != cls) {
                    if (!truthy(bos)) config["bos_token"] = bos = first;
                    if (!truthy(cls)) config["cls_token"] = cls = first;
                }
                add_["bos"] = first == bos || first == cls;
            }
            last = special_id(single[single.size() - 1]);
            if (truthy(last)) {
                if (!truthy(config)) {
                    eos = last;
                } else if (last != eos) {
                    if (std::find(types_.begin(), types_.end(), "eot") == types_.end()) {
                        types_.emplace_back("eot");
                        config["eot_token"] = eos;
                    } else if (std::find(types_.begin(), types_.end(), "eom") == types_.end()) {
                        types_.emplace_back("eom");
                        config["eom_token"] = eos;
                    }
                    config["eos_token"] = eos = last;
                }
                add_["eos"] = last == eos;
            }
        }
        if (pair.empty()) return;
        const size_t start = truthy(first) && special_id(pair[0]) == first ? 1 : 0;
        const size_t stop = truthy(last) && special_id(pair[pair.size() - 1]) == last ? pair.size() - 1 : pair.size();
        if (start >= stop) return;
        pair = json(std::vector<json>(pair.begin() + std::ptrdiff_t(start), pair.begin() + std::ptrdiff_t(stop)));
        const json a = get(get(pair[0], "Sequence"), "id"), b = get(get(pair[pair.size() - 1], "Sequence"), "id");
        if (a != "A" || b != "B" || pair.size() <= 2) return;
        // A [sep] [eos] B: the one or two entries between the sequences.
        bool add_sep = false;
        const json e1 = special_id(pair[1]);
        if (truthy(e1) && (e1 == sep || e1 == eos) && !truthy(last)) add_sep = true;
        if (pair.size() == 4) {
            const json e2 = special_id(pair[2]);
            if (truthy(e2) && (e2 == sep || e2 == eos)) add_sep = true;
        }
        add_["sep"] = add_sep;
        if (add_sep && !truthy(sep) && truthy(config)) config["sep_token"] = eos;
    }

    // add_<typ>_token flags the post-processor left unset, and ids of the *_token texts among tokenizer.json's
    // added tokens.
    Status from_tokenizer_config(const json& config, const json& added, const std::string& source) {
        for (const std::string& typ : types_) {
            if (const json a = get(config, "add_" + typ + "_token"); a.is_boolean())
                set_add_default(typ, a.get<bool>());
            const json entry = get(config, typ + "_token");
            json content;
            if (entry.is_string()) content = entry;
            else if (entry.is_object() && get(entry, "content").is_string()) content = entry["content"];
            else continue;
            json id;
            if (added.is_array())
                for (const json& t : added)
                    if (get(t, "content") == content) {
                        id = get(t, "id");
                        break;
                    }
            LOOM_RETURN_IF_ERROR(set_id(typ, id, source));
        }
        return Ok{};
    }

    std::optional<size_t> n_vocab_;
    std::vector<std::string> types_;
    std::vector<std::pair<std::string, int64_t>> ids_;
    std::map<std::string, bool> add_;
};

Result<json> parse_object(std::string_view text, std::string_view file, const std::string& source) {
    if (text.empty()) return json();
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error::invalid("{}: {}: not a JSON object", source, file);
    return j;
}

}  // namespace

Status add_special_tokens(RawVocab& r, const HfTokenizerFiles& files) {
    LOOM_TRY(json tokenizer, parse_object(files.tokenizer_json, "tokenizer.json", r.source));
    LOOM_TRY(json config, parse_object(files.tokenizer_config_json, "tokenizer_config.json", r.source));
    LOOM_TRY(json model_config, parse_object(files.config_json, "config.json", r.source));
    SpecialVocab sv(r.tokens.size(), {"bos", "eos", "unk", "sep", "pad", "cls", "mask"});
    LOOM_RETURN_IF_ERROR(sv.load(tokenizer, std::move(config), model_config, r.source));
    sv.write(r);
    return Ok{};
}

Status add_special_tokens(RawVocab& r, const HfTokenizerFiles& files,
                          const std::vector<std::pair<std::string, int64_t>>& types) {
    LOOM_TRY(json tokenizer, parse_object(files.tokenizer_json, "tokenizer.json", r.source));
    LOOM_TRY(json config, parse_object(files.tokenizer_config_json, "tokenizer_config.json", r.source));
    LOOM_TRY(json model_config, parse_object(files.config_json, "config.json", r.source));
    std::vector<std::string> names;
    names.reserve(types.size());
    for (const auto& [typ, id] : types) names.push_back(typ);
    SpecialVocab sv(std::nullopt, std::move(names));
    LOOM_RETURN_IF_ERROR(sv.load(tokenizer, std::move(config), model_config, r.source));
    for (const auto& [typ, id] : types) LOOM_RETURN_IF_ERROR(sv.fallback(typ, id, r.source));
    sv.write(r);
    return Ok{};
}

}  // namespace loom::tokenizer
