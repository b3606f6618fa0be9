// config.json and tokenizer files → GGUF metadata (hf_metadata.h).
#include "runtime/hf_metadata.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <optional>
#include <nlohmann/json.hpp>

#include "arch/expr.h"
#include "arch/hf_map.h"
#include "formats/gguf_writer.h"
#include "formats/mapped_file.h"
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
        if (fn == "pad" && a.size() == 2 && a[0].kind == arch::Value::Kind::array && a[1].is_number()) {
            std::vector<double> out = a[0].arr;
            out.resize(size_t(std::clamp(a[1].num, 0.0, 4096.0)), 0.0);
            return arch::Value::array(std::move(out));
        }
        return Error::invalid("unknown function {}() with {} argument(s) (known: get, has, each_eq, pad)", fn,
                              a.size());
    }

private:
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

Status add_config_metadata(const arch::HfMap& map, const json& config, const std::string& source,
                           formats::GgufWriter& w) {
    for (const arch::HfConfigKey& c : map.config) {
        if (c.value) {
            std::string absent;
            auto v = eval_config(*c.value, config, &absent);
            if (v.ok()) {
                auto g = computed_value(*v);
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
            if (!v.ok())
                return Error::invalid("{}: config.json '{}' (for {}): {}", source, from, c.key, v.error().message());
            w.set(c.key, std::move(v).value());
        } else if (c.number) {
            if (c.fraction) w.set(c.key, float(*c.number));
            else if (*c.number < 0) w.set(c.key, int32_t(*c.number));
            else w.set(c.key, uint32_t(*c.number));
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

Status add_tokenizer_metadata(const std::string& dir, const json& config, formats::GgufWriter& w) {
    const fs::path d(dir);
    std::error_code ec;
    if (!fs::exists(d / "tokenizer.json", ec)) return Ok();
    LOOM_TRY(std::string tok, formats::read_text_file((d / "tokenizer.json").string()));
    std::string cfg_text;
    json cfg = json::object();
    if (fs::exists(d / "tokenizer_config.json", ec)) {
        LOOM_TRY(cfg_text, formats::read_text_file((d / "tokenizer_config.json").string()));
        cfg = json::parse(cfg_text, nullptr, false);
        if (cfg.is_discarded() || !cfg.is_object())
            return Error::invalid("{}: not a JSON object", (d / "tokenizer_config.json").string());
    }
    LOOM_TRY(tokenizer::RawVocab raw, tokenizer::RawVocab::from_hf(tok, cfg_text, (d / "tokenizer.json").string()));
    // The converter pads the vocabulary to config.json's vocab_size with unused "[PAD<i>]" tokens, so that every
    // row of the embedding is a token (conversion/base.py get_vocab_base).
    if (const json* n = find(config, "vocab_size"); n && n->is_number_unsigned()) {
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
