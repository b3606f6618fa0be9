// config.json and tokenizer files → GGUF metadata (hf_metadata.h).
#include "runtime/hf_metadata.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <optional>
#include <variant>
#include <nlohmann/json.hpp>

#include "arch/expr.h"
#include "arch/hf_map.h"
#include "formats/gguf_writer.h"
#include "formats/mapped_file.h"
#include "tokenizer/hf_special_tokens.h"
#include "tokenizer/vocab.h"

namespace loom::runtime {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// A config.json value by key; "a.b" reads into nested objects. Null when absent (or JSON null).
const json* find(const json& config, const std::string& key) {
    const json* at = &config;
    size_t start = 0;
    while (true) {
        const size_t dot = key.find('.', start);
        const std::string part = key.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
        if (!at->is_object() || !at->contains(part)) return nullptr;
        at = &(*at)[part];
        if (dot == std::string::npos) break;
        start = dot + 1;
    }
    return at->is_null() ? nullptr : at;
}

// TextModel's self.rope_parameters (conversion/base.py): config.json's rope_parameters when it has the key, else
// rope_scaling (absent or null: empty). Unless split into full_attention / sliding_attention, it gets rope_theta,
// rope_type (from `type`), partial_rotary_factor and original_max_position_embeddings from the top level where it
// lacks them (the first of the converter's names present, when not null).
json converter_rope_parameters(const json& config) {
    const char* table = config.contains("rope_parameters") ? "rope_parameters" : "rope_scaling";
    json rp = config.contains(table) && config[table].is_object() ? config[table] : json::object();
    if (rp.contains("full_attention") || rp.contains("sliding_attention")) return rp;
    auto mirror = [&](const char* to, std::initializer_list<const char*> names) {
        for (const char* k : names) {
            if (!config.contains(k)) continue;
            if (!rp.contains(to) && !config[k].is_null()) rp[to] = config[k];
            return;
        }
    };
    mirror("rope_theta",
           {"global_rope_theta", "rope_global_theta", "rope_theta_global", "rope_theta", "rotary_emb_base"});
    if (!rp.contains("rope_type") && rp.contains("type") && !rp["type"].is_null()) rp["rope_type"] = rp["type"];
    mirror("partial_rotary_factor", {"partial_rotary_factor", "rope_pct", "rope_percent"});
    mirror("original_max_position_embeddings", {"original_max_position_embeddings"});
    return rp;
}

Result<formats::GgufValue> scalar_value(const json& v) {
    if (v.is_boolean()) return formats::GgufValue(v.get<bool>());
    if (v.is_string()) return formats::GgufValue(v.get<std::string>());
    if (v.is_number_unsigned()) {
        const auto u = v.get<uint64_t>();
        return u <= UINT32_MAX ? formats::GgufValue(uint32_t(u)) : formats::GgufValue(u);
    }
    if (v.is_number_integer()) {
        const auto i = v.get<int64_t>();
        return i >= INT32_MIN ? formats::GgufValue(int32_t(i)) : formats::GgufValue(i);
    }
    if (v.is_number_float()) return formats::GgufValue(float(v.get<double>()));
    return Error::invalid("a {} where a number, string or boolean was expected", v.type_name());
}

Result<formats::GgufValue> value_of(const json& v) {
    if (!v.is_array()) return scalar_value(v);
    // Arrays: all booleans, all integers (i32) or any numbers (f32).
    bool all_bool = true, all_int = true;
    for (const json& x : v) {
        all_bool = all_bool && x.is_boolean();
        all_int = all_int && x.is_number_integer();
        if (!x.is_boolean() && !x.is_number()) return Error::invalid("an array holding a {}", x.type_name());
    }
    if (all_bool && !v.empty()) {
        std::vector<bool> out;
        for (const json& x : v) out.push_back(x.get<bool>());
        return formats::GgufValue(out);
    }
    if (all_int) {
        std::vector<int32_t> out;
        for (const json& x : v) out.push_back(int32_t(x.get<int64_t>()));
        return formats::GgufValue(out);
    }
    std::vector<float> out;
    for (const json& x : v) out.push_back(float(x.get<double>()));
    return formats::GgufValue(out);
}

// A config.json value as an expression value: numbers and booleans as numbers, strings, arrays of those as
// number arrays. Null for anything else (objects, mixed arrays).
std::optional<arch::Value> as_value(const json& v) {
    if (v.is_boolean()) return arch::Value::number(v.get<bool>() ? 1 : 0);
    if (v.is_number()) return arch::Value::number(v.get<double>());
    if (v.is_string()) return arch::Value::string(v.get<std::string>());
    if (!v.is_array()) return std::nullopt;
    std::vector<double> a;
    for (const json& x : v) {
        if (x.is_boolean()) a.push_back(x.get<bool>() ? 1 : 0);
        else if (x.is_number()) a.push_back(x.get<double>());
        else return std::nullopt;
    }
    return arch::Value::array(std::move(a));
}

class ConfigScope : public arch::Scope {
public:
    ConfigScope(const json& config, std::string* absent) : config_(config), absent_(absent) {}

    Result<arch::Value> lookup(std::string_view name) const override { return read(std::string(name)); }

    Result<arch::Value> call(std::string_view fn, std::span<const arch::Value> a) const override {
        auto key = [&](size_t i) -> Result<std::string> {
            if (a.size() <= i || a[i].kind != arch::Value::Kind::string)
                return Error::invalid("{}(): argument {} must be a config.json key in quotes", fn, i + 1);
            return a[i].str;
        };
        if (fn == "get" && (a.size() == 1 || a.size() == 2)) {
            LOOM_TRY(std::string k, key(0));
            if (a.size() == 2 && !find(config_, k)) return a[1];
            return read(k);
        }
        if (fn == "has" && a.size() == 1) {
            LOOM_TRY(std::string k, key(0));
            return arch::Value::number(find(config_, k) ? 1 : 0);
        }
        if (fn == "each_eq" && a.size() == 2) {
            LOOM_TRY(std::string k, key(0));
            LOOM_TRY(std::string text, key(1));
            const json* v = find(config_, k);
            if (!v) return absent(k);
            if (!v->is_array()) return Error::invalid("each_eq(): config.json '{}' is not an array", k);
            std::vector<double> out;
            for (const json& x : *v) out.push_back(x.is_string() && x.get<std::string>() == text ? 1 : 0);
            return arch::Value::array(std::move(out));
        }
        if (fn == "is_null" && a.size() == 1) {
            LOOM_TRY(std::string k, key(0));
            const json* parent = k.find('.') == std::string::npos ? &config_ : find(config_, k.substr(0, k.rfind('.')));
            const std::string last = k.substr(k.rfind('.') + 1);
            return arch::Value::number(parent && parent->is_object() && parent->contains(last) &&
                                       (*parent)[last].is_null());
        }
        if ((fn == "rope_param" || fn == "rope_parameters") && (a.size() == 1 || a.size() == 2)) {
            // The converter's rope_params (the full_attention table when split) or its whole rope_parameters.
            LOOM_TRY(std::string k, key(0));
            const json rp = converter_rope_parameters(config_);
            const json& params = fn == "rope_param" && rp.contains("full_attention") ? rp["full_attention"] : rp;
            const json* v = find(params, k);
            if (!v && a.size() == 2) return a[1];
            if (!v) return absent("rope_parameters." + k);
            auto x = as_value(*v);
            if (!x)
                return Error::invalid("config.json rope parameter '{}' is a {}, not a number or string", k,
                                      v->type_name());
            return *x;
        }
        if (fn == "has_rope_param" && a.size() == 1) {
            LOOM_TRY(std::string k, key(0));
            const json rp = converter_rope_parameters(config_);
            return arch::Value::number(find(rp.contains("full_attention") ? rp["full_attention"] : rp, k) ? 1 : 0);
        }
        if (fn == "fail" && a.size() == 1 && a[0].kind == arch::Value::Kind::string)
            return Error::invalid("{}", a[0].str);
        if (fn == "layer_override" && a.size() == 3) return layer_override(a);
        if (fn == "none" && a.empty()) return absent("none()");  // as if absent: the key is left out
        if (fn == "pad" && a.size() == 2 && a[0].kind == arch::Value::Kind::array && a[1].is_number()) {
            std::vector<double> out = a[0].arr;
            out.resize(size_t(std::clamp(a[1].num, 0.0, 4096.0)), 0.0);
            return arch::Value::array(std::move(out));
        }
        return Error::invalid(
            "unknown function {}() with {} argument(s) (known: get, has, is_null, each_eq, layer_override, pad, none, "
            "rope_param, rope_parameters, has_rope_param, fail)",
            fn, a.size());
    }

private:
    // layer_override('field', 'type', fallback): transformers' heterogeneous configs keep per-layer attributes in
    // per_layer_config ({"<layer>": {field: value}}); the value given to the first layer (by number) whose
    // layer_types entry is `type`, else the fallback (what llama.cpp's Gemma 4 converter reads).
    Result<arch::Value> layer_override(std::span<const arch::Value> a) const {
        if (a[0].kind != arch::Value::Kind::string || a[1].kind != arch::Value::Kind::string)
            return Error::invalid("layer_override(): the field and the layer type are strings in quotes");
        const json* layers = find(config_, "per_layer_config");
        const json* types = find(config_, "layer_types");
        if (!layers || !types) return a[2];
        if (!layers->is_object() || !types->is_array())
            return Error::invalid(
                "layer_override(): config.json 'per_layer_config' must be an object and "
                "'layer_types' an array");
        std::map<int64_t, const json*> by_layer;
        for (const auto& [k, v] : layers->items()) {
            char* end = nullptr;
            const long long l = std::strtoll(k.c_str(), &end, 10);
            if (k.empty() || *end != '\0' || l < 0)
                return Error::invalid("layer_override(): config.json 'per_layer_config' key '{}' is not a layer number",
                                      k);
            by_layer[l] = &v;
        }
        for (const auto& [l, v] : by_layer) {
            if (size_t(l) >= types->size() || !(*types)[size_t(l)].is_string() ||
                (*types)[size_t(l)].get<std::string>() != a[1].str || !v->is_object() || !v->contains(a[0].str))
                continue;
            auto x = as_value((*v)[a[0].str]);
            if (!x)
                return Error::invalid("layer_override(): config.json 'per_layer_config.{}.{}' is not a number", l,
                                      a[0].str);
            return *x;
        }
        return a[2];
    }

    Result<arch::Value> read(const std::string& k) const {
        const json* v = find(config_, k);
        if (!v) return absent(k);
        auto x = as_value(*v);
        if (!x)
            return Error::invalid("config.json '{}' is a {}, not a number, string or array of numbers", k,
                                  v->type_name());
        return *x;
    }
    Error absent(const std::string& k) const {
        if (absent_) *absent_ = k;
        return Error::not_found("config.json has no '{}'", k);
    }

    const json& config_;
    std::string* absent_;
};

using Lets = std::vector<std::pair<std::string, arch::Expr>>;

// A ConfigScope with `i` (the entry an each-expression computes), meta('key') (a metadata key written before) and
// the names of a generated tensor's `let` table.
class EntryScope : public arch::Scope {
public:
    EntryScope(const ConfigScope& config, double i, const formats::GgufWriter* meta, const Lets* lets = nullptr)
        : config_(config), i_(i), meta_(meta), lets_(lets) {}

    Result<arch::Value> lookup(std::string_view name) const override {
        if (name == "i") return arch::Value::number(i_);
        if (lets_)
            for (const auto& [k, e] : *lets_) {
                if (k != name) continue;
                // Evaluated where read; a chain deeper than the table is long is a cycle.
                if (depth_ > lets_->size())
                    return Error::invalid("let '{}' reads itself (through the other let names)", k);
                ++depth_;
                auto v = e.eval(*this);
                --depth_;
                return v;
            }
        return config_.lookup(name);
    }
    Result<arch::Value> call(std::string_view fn, std::span<const arch::Value> a) const override {
        if (fn != "meta" || !meta_) return config_.call(fn, a);
        if (a.size() != 1 || a[0].kind != arch::Value::Kind::string)
            return Error::invalid("meta(): one argument, a metadata key in quotes");
        LOOM_TRY(double v, metadata_number(*meta_, a[0].str));
        return arch::Value::number(v);
    }

private:
    const ConfigScope& config_;
    double i_;
    const formats::GgufWriter* meta_;
    const Lets* lets_;
    mutable size_t depth_ = 0;
};

Result<formats::GgufValue> computed_value(const arch::Value& v) {
    if (v.kind == arch::Value::Kind::string) return formats::GgufValue(v.str);
    auto whole = [](double x) { return x == std::floor(x) && std::abs(x) < 2147483648.0; };
    if (v.kind == arch::Value::Kind::number) {
        if (!whole(v.num)) return formats::GgufValue(float(v.num));
        return v.num < 0 ? formats::GgufValue(int32_t(v.num)) : formats::GgufValue(uint32_t(v.num));
    }
    if (std::all_of(v.arr.begin(), v.arr.end(), whole)) {
        std::vector<int32_t> out;
        for (double x : v.arr) out.push_back(int32_t(x));
        return formats::GgufValue(out);
    }
    std::vector<float> out;
    for (double x : v.arr) out.push_back(float(x));
    return formats::GgufValue(out);
}

}  // namespace

Result<arch::Value> eval_config(const arch::Expr& e, const json& config, std::string* absent) {
    return e.eval(ConfigScope(config, absent));
}

Result<arch::Value> eval_config(const arch::Expr& e, const json& config, const formats::GgufWriter& meta) {
    const ConfigScope scope(config, nullptr);
    return e.eval(EntryScope(scope, 0, &meta));
}

Result<std::vector<double>> eval_each(const arch::Expr& each, const arch::Expr& value, const json& config,
                                      const formats::GgufWriter* meta, std::string* absent, const Lets* lets) {
    const ConfigScope scope(config, absent);
    LOOM_TRY(int64_t n, each.eval_int(EntryScope(scope, 0, meta, lets)));
    if (n < 0 || n > (int64_t(1) << 20))
        return Error::invalid("'{}' = {}: expected a length from 0 to 2^20", each.text(), n);
    std::vector<double> out;
    for (int64_t i = 0; i < n; ++i) {
        LOOM_TRY(double v, value.eval_number(EntryScope(scope, double(i), meta, lets)));
        out.push_back(v);
    }
    return out;
}

Result<double> metadata_number(const formats::GgufWriter& meta, const std::string& key) {
    for (const auto& [k, val] : meta.metadata()) {
        if (k != key) continue;
        return std::visit(
            [&](const auto& x) -> Result<double> {
                using T = std::decay_t<decltype(x)>;
                if constexpr (std::is_arithmetic_v<T>) return double(x);
                else return Error::invalid("metadata key '{}' is not a number", key);
            },
            val);
    }
    return Error::not_found("no metadata key '{}' (config.json did not give it)", key);
}

Result<json> read_hf_config(const std::string& dir) {
    const std::string path = (fs::path(dir) / "config.json").string();
    LOOM_TRY(std::string text, formats::read_text_file(path));
    json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error::invalid("{}: not a JSON object", path);
    // Multimodal checkpoints nest the language model's keys (vision-and-safetensors §2.3).
    for (const char* nested : {"text_config", "llm_config", "language_config"}) {
        if (!j.contains(nested) || !j[nested].is_object()) continue;
        for (const auto& [k, v] : j[nested].items())
            if (k != "architectures" || !j.contains("architectures")) j[k] = v;
    }
    return j;
}

// A number as the type a [hf.config] entry names (the converter's add_float32 / add_uint32 / add_int32).
Result<formats::GgufValue> as_type(formats::GgufValue v, const std::string& type) {
    if (type.empty()) return v;
    return std::visit(
        [&](const auto& x) -> Result<formats::GgufValue> {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) {
                const double d = double(x);
                if (type == "f32") return formats::GgufValue(float(d));
                if (d != std::floor(d) || d < (type == "u32" ? 0.0 : double(INT32_MIN)) ||
                    d > (type == "u32" ? double(UINT32_MAX) : double(INT32_MAX)))
                    return Error::invalid("{} is not a {} value", d, type);
                if (type == "u32") return formats::GgufValue(uint32_t(d));
                return formats::GgufValue(int32_t(d));
            } else {
                return Error::invalid("a {} value must be a number", type);
            }
        },
        v);
}

Status add_config_metadata(const arch::HfMap& map, const json& config, const std::string& source,
                           formats::GgufWriter& w) {
    for (const arch::HfConfigKey& c : map.config) {
        if (c.value) {
            std::string absent;
            auto v = [&]() -> Result<arch::Value> {
                if (!c.each) return eval_config(*c.value, config, &absent);
                LOOM_TRY(std::vector<double> each, eval_each(*c.each, *c.value, config, nullptr, &absent));
                return arch::Value::array(std::move(each));
            }();
            if (v.ok()) {
                auto g = computed_value(*v);
                if (g.ok()) g = as_type(std::move(g).value(), c.type);
                if (!g.ok())
                    return Error::invalid("{}: '{}' (for {}): {}", source, c.value->text(), c.key, g.error().message());
                w.set(c.key, std::move(g).value());
                continue;
            }
            if (absent.empty())  // the message names the expression
                return Error::invalid("{}: the value of {}: {}", source, c.key, v.error().message());
        }
        const json* found = nullptr;
        std::string from;
        for (const std::string& k : c.from)
            if ((found = find(config, k))) {
                from = k;
                break;
            }
        if (found) {
            auto v = value_of(*found);
            if (v.ok()) v = as_type(std::move(v).value(), c.type);
            if (!v.ok())
                return Error::invalid("{}: config.json '{}' (for {}): {}", source, from, c.key, v.error().message());
            w.set(c.key, std::move(v).value());
        } else if (c.number) {
            formats::GgufValue v = c.fraction      ? formats::GgufValue(float(*c.number))
                                   : *c.number < 0 ? formats::GgufValue(int32_t(*c.number))
                                                   : formats::GgufValue(uint32_t(*c.number));
            auto typed = as_type(std::move(v), c.type);
            if (!typed.ok()) return Error::invalid("{}: the default of {}: {}", source, c.key, typed.error().message());
            w.set(c.key, std::move(typed).value());
        } else if (c.text) {
            w.set(c.key, *c.text);
        } else if (c.flag) {
            w.set(c.key, *c.flag);
        } else if (c.numbers) {
            LOOM_TRY(formats::GgufValue v, computed_value(arch::Value::array(*c.numbers)));
            w.set(c.key, std::move(v));
        }
    }
    return Ok();
}

Status check_refusals(const arch::HfMap& map, const json& config, const std::string& source) {
    for (const arch::HfRefusal& r : map.refuse) {
        const json* v = find(config, r.key);
        if (!v || !v->is_string()) continue;
        for (const std::string& bad : r.values)
            if (v->get<std::string>() == bad)
                return Error::unsupported("{}: '{}' = \"{}\": {}", source, r.key, bad, r.why);
    }
    return Ok();
}

namespace {

// A file of the directory as text, "" when it is absent.
Result<std::string> optional_file(const fs::path& path) {
    std::error_code ec;
    if (!fs::exists(path, ec)) return std::string();
    return formats::read_text_file(path.string());
}

// The vocabulary from tokenizer.model, as llama.cpp's converter reads it for a family that prefers it
// (_set_vocab_sentencepiece): vocab_size from config.json (vocab_size_per_layer_input first, as the converter
// asks), add_space_prefix when the family writes one.
Result<tokenizer::RawVocab> spm_vocab(const fs::path& d, const json& config, const std::string& cfg_text,
                                      const arch::HfSentencePiece& spm) {
    LOOM_TRY(std::string model, formats::read_text_file((d / "tokenizer.model").string()));
    LOOM_TRY(std::string tok, optional_file(d / "tokenizer.json"));
    LOOM_TRY(std::string added, optional_file(d / "added_tokens.json"));
    LOOM_TRY(std::string model_config, optional_file(d / "config.json"));
    std::optional<int64_t> vocab_size;
    for (const char* k : {"vocab_size_per_layer_input", "vocab_size"})
        if (const json* n = find(config, k); n && n->is_number_integer() && !vocab_size) vocab_size = n->get<int64_t>();
    const tokenizer::HfTokenizerFiles files{tok, cfg_text, added, model_config};
    LOOM_TRY(tokenizer::RawVocab raw,
             tokenizer::RawVocab::from_spm(model, files, vocab_size, (d / "tokenizer.model").string()));
    if (spm.add_space_prefix) raw.add_space_prefix = *spm.add_space_prefix;
    return raw;
}

}  // namespace

Status add_tokenizer_metadata(const std::string& dir, const json& config, const arch::HfMap& map,
                              formats::GgufWriter& w) {
    const std::optional<arch::HfSentencePiece>& spm = map.sentencepiece;
    const fs::path d(dir);
    std::error_code ec;
    const bool use_spm = spm && fs::exists(d / "tokenizer.model", ec);
    if (!use_spm && !fs::exists(d / "tokenizer.json", ec)) return Ok();
    LOOM_TRY(std::string cfg_text, optional_file(d / "tokenizer_config.json"));
    json cfg = json::object();
    if (!cfg_text.empty()) {
        cfg = json::parse(cfg_text, nullptr, false);
        if (cfg.is_discarded() || !cfg.is_object())
            return Error::invalid("{}: not a JSON object", (d / "tokenizer_config.json").string());
    }
    tokenizer::RawVocab raw;
    bool pad = true;
    if (use_spm) {
        LOOM_TRY(raw, spm_vocab(d, config, cfg_text, *spm));
    } else {
        LOOM_TRY(std::string tok, formats::read_text_file((d / "tokenizer.json").string()));
        std::optional<tokenizer::RawVocab> fallback;
        if (map.byte_fallback_bpe) {
            // The family's reading when the file is a BPE with byte fallback; a file of another kind (unsupported
            // there) goes on to the byte-level reader.
            LOOM_TRY(std::string added, optional_file(d / "added_tokens.json"));
            LOOM_TRY(std::string model_config, optional_file(d / "config.json"));
            LOOM_TRY(std::string special_map, optional_file(d / "special_tokens_map.json"));
            const tokenizer::HfTokenizerFiles files{tok, cfg_text, added, model_config, special_map};
            auto r = tokenizer::RawVocab::from_hf_byte_fallback(files, *map.byte_fallback_bpe,
                                                                (d / "tokenizer.json").string());
            if (r.ok()) fallback = std::move(r).value();
            else if (r.error().code() != ErrorCode::unsupported) return std::move(r).error();
        }
        if (fallback) {
            raw = std::move(*fallback);
            pad = false;  // LlamaHfVocab's vocabulary is written as it is
        } else {
            LOOM_TRY(raw, tokenizer::RawVocab::from_hf(tok, cfg_text, (d / "tokenizer.json").string()));
        }
    }
    // The converter pads the vocabulary to config.json's vocab_size with unused "[PAD<i>]" tokens, so that every
    // row of the embedding is a token (conversion/base.py get_vocab_base).
    if (const json* n = find(config, "vocab_size"); pad && n && n->is_number_unsigned()) {
        constexpr int32_t kUnused = 5;  // llama.cpp's LLAMA_TOKEN_TYPE_UNUSED
        const auto want = size_t(std::min<uint64_t>(n->get<uint64_t>(), uint64_t(1) << 24));
        if (raw.types) raw.types->resize(raw.tokens.size(), 1);
        if (raw.scores) raw.scores->resize(raw.tokens.size(), 0.0f);
        for (size_t i = raw.tokens.size(); i < want; ++i) {
            raw.tokens.push_back(fmt::format("[PAD{}]", i));
            if (raw.types) raw.types->push_back(kUnused);
            if (raw.scores) raw.scores->push_back(0.0f);
        }
    }
    // The family's set_vocab wrote tokenizer_config.json's add_prefix_space before reading the vocabulary.
    if (map.tokenizer_config_prefix_space && !raw.add_space_prefix && cfg.contains("add_prefix_space") &&
        cfg["add_prefix_space"].is_boolean())
        raw.add_space_prefix = cfg["add_prefix_space"].get<bool>();
    // Whether an [hf] `if` over config.json holds; an error names the key it came from.
    auto holds = [&](const arch::Expr& when, const char* key) -> Result<bool> {
        auto v = eval_config(when, config, nullptr);
        if (!v.ok())
            return std::move(v).error().with_context(
                fmt::format("{}: [hf] {} '{}'", (d / "config.json").string(), key, when.text()));
        return v->truthy();
    };
    // Special tokens the family's converter sets after the vocabulary (SpecialVocab again, over other types).
    for (const arch::HfSpecialTokens& t : map.special_tokens) {
        LOOM_TRY(const bool when, holds(t.when, "special_tokens"));
        if (!when) continue;
        LOOM_TRY(std::string tok, optional_file(d / "tokenizer.json"));
        LOOM_TRY(std::string model_config, optional_file(d / "config.json"));
        const tokenizer::HfTokenizerFiles files{tok, cfg_text, "", model_config};
        LOOM_RETURN_IF_ERROR(tokenizer::add_special_tokens(raw, files, t.ids));
    }
    // Flags it writes last.
    for (const arch::HfTokenizerFlags& f : map.tokenizer_flags) {
        LOOM_TRY(const bool when, holds(f.when, "tokenizer_flags"));
        if (!when) continue;
        for (const auto& [name, v] : f.flags) {
            if (name == "add_bos_token") raw.add_bos = v;
            else if (name == "add_eos_token") raw.add_eos = v;
            else raw.add_space_prefix = v;
        }
    }
    w.set("tokenizer.ggml.model", raw.model);
    if (raw.pre) w.set("tokenizer.ggml.pre", *raw.pre);
    w.set("tokenizer.ggml.tokens", raw.tokens);
    if (raw.scores) w.set("tokenizer.ggml.scores", *raw.scores);
    if (raw.types) w.set("tokenizer.ggml.token_type", *raw.types);
    if (raw.merges) w.set("tokenizer.ggml.merges", *raw.merges);
    bool has_eos = false;
    for (const auto& [name, id] : raw.ids) {
        w.set("tokenizer.ggml." + name, uint32_t(id));
        has_eos = has_eos || name == "eos_token_id";
    }
    for (auto [name, v] :
         {std::pair{"add_bos_token", raw.add_bos}, std::pair{"add_eos_token", raw.add_eos},
          std::pair{"add_sep_token", raw.add_sep}, std::pair{"add_space_prefix", raw.add_space_prefix}})
        if (v) w.set(std::string("tokenizer.ggml.") + name, *v);

    // The chat template: tokenizer_config.json's string, or the "default" of its named list, or (newer
    // checkpoints) a chat_template.jinja beside it.
    std::string tmpl;
    if (cfg.contains("chat_template") && cfg["chat_template"].is_string()) {
        tmpl = cfg["chat_template"].get<std::string>();
    } else if (cfg.contains("chat_template") && cfg["chat_template"].is_array()) {
        for (const json& t : cfg["chat_template"])
            if (t.is_object() && t.value("name", "") == "default" && t.contains("template") &&
                t["template"].is_string())
                tmpl = t["template"].get<std::string>();
    } else if (fs::exists(d / "chat_template.jinja", ec)) {
        LOOM_TRY(tmpl, formats::read_text_file((d / "chat_template.jinja").string()));
    }
    if (!tmpl.empty()) w.set("tokenizer.chat_template", tmpl);

    // generation_config.json's EOS (an id or a list; the first) when the tokenizer files named none.
    if (!has_eos && fs::exists(d / "generation_config.json", ec)) {
        LOOM_TRY(std::string gen_text, formats::read_text_file((d / "generation_config.json").string()));
        const json gen = json::parse(gen_text, nullptr, false);
        const json* eos = gen.is_object() && gen.contains("eos_token_id") ? &gen["eos_token_id"] : nullptr;
        if (eos && eos->is_array() && !eos->empty()) eos = &(*eos)[0];
        if (eos && eos->is_number_unsigned()) w.set("tokenizer.ggml.eos_token_id", uint32_t(eos->get<uint64_t>()));
    }
    return Ok();
}

}  // namespace loom::runtime
