// Parsing of an architecture file's [hf] section (format in hf_map.h) and the name patterns it uses.
#include "arch/hf_map.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "arch/arch_file.h"

namespace loom::arch {
namespace {

std::string with_arch(std::string s, const std::string& arch) {
    for (size_t at = s.find("{arch}"); at != std::string::npos; at = s.find("{arch}", at + arch.size()))
        s.replace(at, 6, arch);
    return s;
}

Status unknown(const std::string& path, const std::string& where, const Node& table,
               const std::vector<std::string>& known) {
    for (const auto& [k, v] : table.fields) {
        bool ok = false;
        for (const std::string& x : known) ok = ok || x == k;
        if (!ok)
            return Error::invalid("{}:{}: {}unknown key '{}' (known: {})", path, v.line, where, k,
                                  fmt::join(known, ", "));
    }
    return Ok();
}

Result<std::vector<std::string>> strings(const Node& n, const std::string& path, const std::string& what) {
    std::vector<std::string> out;
    if (n.kind == Node::Kind::string) return std::vector<std::string>{n.str};
    if (n.kind != Node::Kind::array)
        return Error::invalid("{}:{}: {} must be a string or an array of strings", path, n.line, what);
    for (const Node& i : n.items) {
        if (i.kind != Node::Kind::string) return Error::invalid("{}:{}: {} must hold strings", path, i.line, what);
        out.push_back(i.str);
    }
    return out;
}

// "op" or "op(a, b)".
Result<HfTransform> transform_of(const Node& n, const std::string& path, const std::string& arch) {
    if (n.kind != Node::Kind::string)
        return Error::invalid("{}:{}: a transform is a string \"op(args)\"", path, n.line);
    HfTransform t;
    t.text = n.str;
    const size_t open = n.str.find('(');
    t.op = n.str.substr(0, open);
    for (char c : t.op)
        if (!std::islower(static_cast<unsigned char>(c)) && c != '_' && !std::isdigit(static_cast<unsigned char>(c)))
            return Error::invalid("{}:{}: transform '{}': the name must be lower_snake", path, n.line, n.str);
    if (t.op.empty()) return Error::invalid("{}:{}: transform '{}' has no name", path, n.line, n.str);
    if (open == std::string::npos) return t;
    if (n.str.back() != ')') return Error::invalid("{}:{}: transform '{}': missing ')'", path, n.line, n.str);
    std::string inner = n.str.substr(open + 1, n.str.size() - open - 2);
    size_t start = 0;
    while (start <= inner.size()) {
        // The next comma outside parentheses (an argument may be an expression with a call).
        size_t comma = start;
        for (int depth = 0; comma < inner.size() && (inner[comma] != ',' || depth > 0); ++comma)
            depth += inner[comma] == '(' ? 1 : inner[comma] == ')' ? -1 : 0;
        std::string a = inner.substr(start, comma - start);
        a.erase(0, a.find_first_not_of(' '));
        a.erase(a.find_last_not_of(' ') + 1);
        if (a.empty()) return Error::invalid("{}:{}: transform '{}': an empty argument", path, n.line, n.str);
        t.args.push_back(with_arch(a, arch));
        start = comma + 1;
    }
    return t;
}

// [hf] ignore: names, or tables { name, if } dropped only when `if` holds.
Result<std::vector<HfIgnore>> ignore_of(const Node& n, const std::string& path) {
    if (n.kind == Node::Kind::string) return std::vector<HfIgnore>{{n.str, std::nullopt}};
    if (n.kind != Node::Kind::array)
        return Error::invalid("{}:{}: [hf] ignore must be an array of names or {{ name, if }} tables", path, n.line);
    std::vector<HfIgnore> out;
    for (const Node& x : n.items) {
        if (x.kind == Node::Kind::string) {
            out.push_back({x.str, std::nullopt});
            continue;
        }
        const auto name = x.fields.find("name"), when = x.fields.find("if");
        if (x.kind != Node::Kind::table || name == x.fields.end() || name->second.kind != Node::Kind::string ||
            when == x.fields.end() || when->second.kind != Node::Kind::string)
            return Error::invalid("{}:{}: [hf] ignore: an entry is a name or {{ name = \"...\", if = \"...\" }}", path,
                                  x.line);
        LOOM_RETURN_IF_ERROR(unknown(path, "[hf] ignore: ", x, {"name", "if"}));
        auto e = Expr::parse(when->second.str);
        if (!e.ok())
            return Error::invalid("{}:{}: [hf] ignore '{}': if: {}", path, x.line, name->second.str,
                                  e.error().message());
        out.push_back({name->second.str, std::move(e).value()});
    }
    return out;
}

// An expression field of [hf.<section>] '<name>' ({arch} substituted).
Result<Expr> expr_of(const Node& n, const std::string& path, const std::string& where, const std::string& arch) {
    if (n.kind != Node::Kind::string) return Error::invalid("{}:{}: {}: an expression string", path, n.line, where);
    auto e = Expr::parse(with_arch(n.str, arch));
    if (!e.ok()) return Error::invalid("{}:{}: {}: {}", path, n.line, where, e.error().message());
    return std::move(e).value();
}

Result<HfConfigKey> config_key_of(const std::string& key, const Node& n, const std::string& path,
                                  const std::string& arch) {
    HfConfigKey c;
    c.key = with_arch(key, arch);
    c.line = n.line;
    if (n.kind == Node::Kind::string) {
        c.from = {n.str};
        return c;
    }
    if (n.kind != Node::Kind::table)
        return Error::invalid("{}:{}: [hf.config] '{}': a config.json key or a table {{ key, default }}", path, n.line,
                              key);
    LOOM_RETURN_IF_ERROR(
        unknown(path, fmt::format("[hf.config] '{}': ", key), n, {"key", "value", "each", "default", "type"}));
    if (auto it = n.fields.find("type"); it != n.fields.end()) {
        const Node& t = it->second;
        if (t.kind != Node::Kind::string || (t.str != "f32" && t.str != "u32" && t.str != "i32"))
            return Error::invalid("{}:{}: [hf.config] '{}': type must be \"f32\", \"u32\" or \"i32\"", path, t.line,
                                  key);
        c.type = t.str;
    }
    if (auto it = n.fields.find("key"); it != n.fields.end()) {
        LOOM_TRY(c.from, strings(it->second, path, "key"));
    }
    if (auto it = n.fields.find("value"); it != n.fields.end()) {
        if (it->second.kind != Node::Kind::string || !c.from.empty())
            return Error::invalid("{}:{}: [hf.config] '{}': value is an expression string, without key", path,
                                  it->second.line, key);
        auto e = Expr::parse(it->second.str);
        if (!e.ok())
            return Error::invalid("{}:{}: [hf.config] '{}': {}", path, it->second.line, key, e.error().message());
        c.value = std::move(e).value();
    }
    if (auto it = n.fields.find("each"); it != n.fields.end()) {
        if (!c.value)
            return Error::invalid("{}:{}: [hf.config] '{}': each needs a value expression", path, it->second.line, key);
        LOOM_TRY(c.each, expr_of(it->second, path, fmt::format("[hf.config] '{}': each", key), arch));
    }
    if (auto it = n.fields.find("default"); it != n.fields.end()) {
        const Node& d = it->second;
        const bool numbers =
            d.kind == Node::Kind::array &&
            std::all_of(d.items.begin(), d.items.end(), [](const Node& x) { return x.kind == Node::Kind::number; });
        if (d.kind == Node::Kind::number) c.number = d.num, c.fraction = d.num != double(int64_t(d.num));
        else if (d.kind == Node::Kind::string) c.text = d.str;
        else if (d.kind == Node::Kind::boolean) c.flag = d.num != 0;
        else if (numbers) {
            c.numbers.emplace();
            for (const Node& x : d.items) c.numbers->push_back(x.num);
        } else
            return Error::invalid("{}:{}: [hf.config] '{}': default must be a number, string, boolean or numbers", path,
                                  d.line, key);
    }
    if (c.from.empty() && !c.value && !c.number && !c.text && !c.flag && !c.numbers)
        return Error::invalid("{}:{}: [hf.config] '{}': needs a key, a value or a default", path, n.line, key);
    return c;
}

Result<HfTensorRule> tensor_rule_of(const std::string& from, const Node& n, const std::string& path,
                                    const std::string& arch) {
    HfTensorRule r;
    r.from = from;
    r.line = n.line;
    if (n.kind == Node::Kind::string) {
        r.to = n.str;
    } else if (n.kind == Node::Kind::table) {
        LOOM_RETURN_IF_ERROR(unknown(path, fmt::format("[hf.tensors] '{}': ", from), n, {"name", "transform"}));
        auto name = n.fields.find("name");
        if (name == n.fields.end() || name->second.kind != Node::Kind::string)
            return Error::invalid("{}:{}: [hf.tensors] '{}': needs name = \"<GGUF name>\"", path, n.line, from);
        r.to = name->second.str;
        if (auto t = n.fields.find("transform"); t != n.fields.end()) {
            const Node& list = t->second;
            if (list.kind != Node::Kind::array)
                return Error::invalid("{}:{}: [hf.tensors] '{}': transform must be an array", path, list.line, from);
            for (const Node& x : list.items) {
                LOOM_TRY(HfTransform tr, transform_of(x, path, arch));
                r.transforms.push_back(std::move(tr));
            }
        }
    } else {
        return Error::invalid("{}:{}: [hf.tensors] '{}': a GGUF name or a table {{ name, transform }}", path, n.line,
                              from);
    }
    const bool from_layer = r.from.find("{layer}") != std::string::npos;
    if (from_layer != (r.to.find("{layer}") != std::string::npos))
        return Error::invalid("{}:{}: [hf.tensors] '{}': {{layer}} must be in both names or neither", path, r.line,
                              from);
    if (r.to.find("{expert}") != std::string::npos)
        return Error::invalid(
            "{}:{}: [hf.tensors] '{}': {{expert}} belongs in the checkpoint name only (experts are stacked)", path,
            r.line, from);
    return r;
}

Result<HfGenerated> generated_of(const std::string& name, const Node& n, const std::string& path,
                                 const std::string& arch) {
    const std::string where = fmt::format("[hf.generated] '{}'", name);
    if (n.kind != Node::Kind::table)
        return Error::invalid("{}:{}: {}: a table {{ each, value, if, let }}", path, n.line, where);
    LOOM_RETURN_IF_ERROR(unknown(path, where + ": ", n, {"each", "value", "if", "let"}));
    auto each = n.fields.find("each"), value = n.fields.find("value"), when = n.fields.find("if");
    if (each == n.fields.end() || value == n.fields.end())
        return Error::invalid("{}:{}: {}: needs each (the length) and value (entry i)", path, n.line, where);
    HfGenerated g;
    g.name = with_arch(name, arch);
    g.line = n.line;
    LOOM_TRY(g.each, expr_of(each->second, path, where + ": each", arch));
    LOOM_TRY(g.value, expr_of(value->second, path, where + ": value", arch));
    if (when != n.fields.end()) {
        LOOM_TRY(g.when, expr_of(when->second, path, where + ": if", arch));
    }
    if (auto let = n.fields.find("let"); let != n.fields.end()) {
        if (let->second.kind != Node::Kind::table)
            return Error::invalid("{}:{}: {}: let must be a table {{ name = \"<expression>\" }}", path,
                                  let->second.line, where);
        for (const auto& [k, v] : let->second.fields) {
            if (k == "i" || k.empty() || std::isdigit(static_cast<unsigned char>(k[0])) ||
                !std::all_of(k.begin(), k.end(),
                             [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }))
                return Error::invalid("{}:{}: {}: let '{}': a name of letters, digits and '_', not 'i'", path, v.line,
                                      where, k);
            LOOM_TRY(Expr e, expr_of(v, path, fmt::format("{}: let '{}'", where, k), arch));
            g.lets.emplace_back(k, std::move(e));
        }
    }
    return g;
}

// [hf] byte_fallback_bpe = { model = "...", pre = "...", merges = bool, user_defined = [...], add_space_prefix = bool,
// add_bos_token = bool }.
Result<HfByteFallbackBpe> byte_fallback_bpe_of(const Node& n, const std::string& path) {
    const std::string what = "[hf] byte_fallback_bpe";
    if (n.kind != Node::Kind::table)
        return Error::invalid("{}:{}: {} must be a table {{ model = \"...\", ... }}", path, n.line, what);
    LOOM_RETURN_IF_ERROR(
        unknown(path, what + ": ", n, {"model", "pre", "merges", "user_defined", "add_space_prefix", "add_bos_token"}));
    auto field = [&](const char* key, Node::Kind kind) -> Result<const Node*> {
        auto it = n.fields.find(key);
        if (it == n.fields.end()) return nullptr;
        if (it->second.kind != kind)
            return Error::invalid("{}:{}: {}: {} must be a {}", path, it->second.line, what, key,
                                  kind == Node::Kind::string ? "string" : "boolean");
        return &it->second;
    };
    HfByteFallbackBpe b;
    LOOM_TRY(const Node* model, field("model", Node::Kind::string));
    if (!model || model->str.empty())
        return Error::invalid("{}:{}: {} needs model = \"...\" (tokenizer.ggml.model)", path, n.line, what);
    b.model = model->str;
    LOOM_TRY(const Node* pre, field("pre", Node::Kind::string));
    if (pre) b.pre = pre->str;
    LOOM_TRY(const Node* merges, field("merges", Node::Kind::boolean));
    b.merges = merges && merges->num != 0;
    for (auto [key, dst] :
         {std::pair{"add_space_prefix", &b.add_space_prefix}, std::pair{"add_bos_token", &b.add_bos_token}}) {
        LOOM_TRY(const Node* v, field(key, Node::Kind::boolean));
        if (v) *dst = v->num != 0;
    }
    if (auto it = n.fields.find("user_defined"); it != n.fields.end()) {
        LOOM_TRY(b.user_defined, strings(it->second, path, what + " user_defined"));
    }
    return b;
}

}  // namespace

// [hf] special_tokens: [{ if = "<expression>", ids = { <type> = <id>, ... } }].
Result<std::vector<HfSpecialTokens>> special_tokens_of(const Node& n, const std::string& path) {
    static const std::vector<std::string> kTypes = {"bos",  "eos", "unk", "sep",    "pad",    "cls",
                                                    "mask", "eot", "eom", "prefix", "suffix", "middle"};
    const std::string what = "[hf] special_tokens";
    if (n.kind != Node::Kind::array)
        return Error::invalid("{}:{}: {} must be an array of {{ if, ids }} tables", path, n.line, what);
    std::vector<HfSpecialTokens> out;
    for (const Node& x : n.items) {
        if (x.kind != Node::Kind::table)
            return Error::invalid("{}:{}: {}: each entry is {{ if = \"...\", ids = {{ ... }} }}", path, x.line, what);
        LOOM_RETURN_IF_ERROR(unknown(path, what + ": ", x, {"if", "ids"}));
        const auto when = x.fields.find("if"), ids = x.fields.find("ids");
        if (when == x.fields.end() || ids == x.fields.end() || ids->second.kind != Node::Kind::table)
            return Error::invalid("{}:{}: {}: needs if (an expression) and ids (a table of token type = id)", path,
                                  x.line, what);
        HfSpecialTokens t;
        t.line = x.line;
        LOOM_TRY(t.when, expr_of(when->second, path, what + ": if", ""));
        for (const auto& [typ, id] : ids->second.fields) {
            if (std::find(kTypes.begin(), kTypes.end(), typ) == kTypes.end())
                return Error::invalid("{}:{}: {}: unknown token type '{}' (known: {})", path, id.line, what, typ,
                                      fmt::join(kTypes, ", "));
            if (id.kind != Node::Kind::number || id.num < 0 || id.num != double(int64_t(id.num)))
                return Error::invalid("{}:{}: {}: {} must be a token id (a whole number >= 0)", path, id.line, what,
                                      typ);
            t.ids.emplace_back(typ, int64_t(id.num));
        }
        out.push_back(std::move(t));
    }
    return out;
}

namespace {

// [hf] tokenizer_flags: [{ if = "<expression>", add_bos_token = bool, ... }].
Result<std::vector<HfTokenizerFlags>> tokenizer_flags_of(const Node& n, const std::string& path) {
    static const std::vector<std::string> kFlags = {"add_bos_token", "add_eos_token", "add_space_prefix"};
    const std::string what = "[hf] tokenizer_flags";
    if (n.kind != Node::Kind::array)
        return Error::invalid("{}:{}: {} must be an array of {{ if = \"...\", <flag> = true|false }} tables", path,
                              n.line, what);
    std::vector<HfTokenizerFlags> out;
    for (const Node& x : n.items) {
        if (x.kind != Node::Kind::table || !x.fields.count("if") || x.fields.size() < 2)
            return Error::invalid("{}:{}: {}: each entry is {{ if = \"...\", <flag> = true|false }}", path, x.line,
                                  what);
        HfTokenizerFlags f;
        f.line = x.line;
        for (const auto& [key, v] : x.fields) {
            if (key == "if") {
                LOOM_TRY(f.when, expr_of(v, path, what + ": if", ""));
            } else if (std::find(kFlags.begin(), kFlags.end(), key) == kFlags.end()) {
                return Error::invalid("{}:{}: {}: unknown flag '{}' (known: if, {})", path, v.line, what, key,
                                      fmt::join(kFlags, ", "));
            } else if (v.kind != Node::Kind::boolean) {
                return Error::invalid("{}:{}: {}: {} must be true or false", path, v.line, what, key);
            } else {
                f.flags.emplace_back(key, v.num != 0);
            }
        }
        out.push_back(std::move(f));
    }
    return out;
}

}  // namespace

Result<HfMap> HfMap::parse(const Node& s, const std::string& path, const std::string& arch) {
    if (s.kind != Node::Kind::table) return Error::invalid("{}:{}: [hf] must be a table", path, s.line);
    LOOM_RETURN_IF_ERROR(unknown(path, "[hf]: ", s,
                                 {"architectures", "ignore", "prefixes", "refuse", "sentencepiece", "byte_fallback_bpe",
                                  "special_tokens", "tokenizer_flags", "tokenizer_config_prefix_space", "config",
                                  "tensors", "generated"}));
    HfMap m;
    const auto* archs = s.fields.count("architectures") ? &s.fields.at("architectures") : nullptr;
    if (!archs) return Error::invalid("{}:{}: [hf] needs architectures = [...] (config.json's values)", path, s.line);
    LOOM_TRY(m.architectures, strings(*archs, path, "[hf] architectures"));
    if (auto it = s.fields.find("ignore"); it != s.fields.end()) {
        LOOM_TRY(m.ignore, ignore_of(it->second, path));
    }
    if (auto it = s.fields.find("prefixes"); it != s.fields.end()) {
        if (it->second.kind != Node::Kind::table)
            return Error::invalid("{}:{}: [hf] prefixes must be a table {{ \"prefix\" = \"replacement\" }}", path,
                                  it->second.line);
        for (const auto& [from, to] : it->second.fields) {
            if (to.kind != Node::Kind::string || from.empty())
                return Error::invalid("{}:{}: [hf] prefixes: '{}' must map to a string", path, to.line, from);
            m.prefixes.emplace_back(from, to.str);
        }
    }
    if (auto it = s.fields.find("refuse"); it != s.fields.end()) {
        if (it->second.kind != Node::Kind::array)
            return Error::invalid("{}:{}: [hf] refuse must be an array of {{ key, values, why }}", path,
                                  it->second.line);
        for (const Node& r : it->second.items) {
            if (r.kind != Node::Kind::table)
                return Error::invalid("{}:{}: [hf] refuse: each entry is {{ key, values, why }}", path, r.line);
            LOOM_RETURN_IF_ERROR(unknown(path, "[hf] refuse: ", r, {"key", "values", "why"}));
            HfRefusal x;
            x.line = r.line;
            auto key = r.fields.find("key"), values = r.fields.find("values"), why = r.fields.find("why");
            if (key == r.fields.end() || key->second.kind != Node::Kind::string || values == r.fields.end() ||
                why == r.fields.end() || why->second.kind != Node::Kind::string)
                return Error::invalid("{}:{}: [hf] refuse: needs key (a string), values and why (a string)", path,
                                      r.line);
            x.key = key->second.str;
            LOOM_TRY(x.values, strings(values->second, path, "[hf] refuse values"));
            x.why = why->second.str;
            m.refuse.push_back(std::move(x));
        }
    }
    if (auto it = s.fields.find("sentencepiece"); it != s.fields.end()) {
        const Node& n = it->second;
        const auto* asp = n.kind == Node::Kind::table && n.fields.count("add_space_prefix")
                              ? &n.fields.at("add_space_prefix")
                              : nullptr;
        if (n.kind != Node::Kind::table || (asp && asp->kind != Node::Kind::boolean))
            return Error::invalid(
                "{}:{}: [hf] sentencepiece must be a table {{ add_space_prefix = true|false }} (or {{}})", path,
                n.line);
        LOOM_RETURN_IF_ERROR(unknown(path, "[hf] sentencepiece: ", n, {"add_space_prefix"}));
        m.sentencepiece = HfSentencePiece{};
        if (asp) m.sentencepiece->add_space_prefix = asp->num != 0;
    }
    if (auto it = s.fields.find("byte_fallback_bpe"); it != s.fields.end()) {
        LOOM_TRY(m.byte_fallback_bpe, byte_fallback_bpe_of(it->second, path));
    }
    if (auto it = s.fields.find("special_tokens"); it != s.fields.end()) {
        LOOM_TRY(m.special_tokens, special_tokens_of(it->second, path));
    }
    if (auto it = s.fields.find("tokenizer_flags"); it != s.fields.end()) {
        LOOM_TRY(m.tokenizer_flags, tokenizer_flags_of(it->second, path));
    }
    if (auto it = s.fields.find("tokenizer_config_prefix_space"); it != s.fields.end()) {
        if (it->second.kind != Node::Kind::boolean)
            return Error::invalid("{}:{}: [hf] tokenizer_config_prefix_space must be true or false", path,
                                  it->second.line);
        m.tokenizer_config_prefix_space = it->second.num != 0;
    }
    if (auto it = s.fields.find("config"); it != s.fields.end()) {
        if (it->second.kind != Node::Kind::table)
            return Error::invalid("{}:{}: [hf.config] must be a table", path, it->second.line);
        for (const auto& [key, n] : it->second.fields) {
            LOOM_TRY(HfConfigKey c, config_key_of(key, n, path, arch));
            m.config.push_back(std::move(c));
        }
    }
    auto it = s.fields.find("tensors");
    if (it == s.fields.end() || it->second.kind != Node::Kind::table)
        return Error::invalid("{}:{}: [hf] needs a [hf.tensors] table (checkpoint name = GGUF name)", path, s.line);
    for (const auto& [from, value] : it->second.fields) {
        // An array of tables: one checkpoint tensor made into several GGUF tensors, each with its own transforms.
        std::vector<const Node*> outputs;
        if (value.kind == Node::Kind::array) {
            for (const Node& x : value.items) outputs.push_back(&x);
            if (outputs.empty())
                return Error::invalid("{}:{}: [hf.tensors] '{}': an empty array of outputs", path, value.line, from);
        } else {
            outputs.push_back(&value);
        }
        for (const Node* out : outputs) {
            LOOM_TRY(HfTensorRule r, tensor_rule_of(from, *out, path, arch));
            m.tensors.push_back(std::move(r));
        }
    }
    if (auto g = s.fields.find("generated"); g != s.fields.end()) {
        if (g->second.kind != Node::Kind::table)
            return Error::invalid("{}:{}: [hf.generated] must be a table", path, g->second.line);
        for (const auto& [name, n] : g->second.fields) {
            LOOM_TRY(HfGenerated x, generated_of(name, n, path, arch));
            m.generated.push_back(std::move(x));
        }
    }
    return m;
}

bool match_hf_pattern(const std::string& pattern, const std::string& name, int64_t& layer, int64_t& expert) {
    layer = expert = -1;
    size_t p = 0, n = 0;
    while (p < pattern.size()) {
        int64_t* slot = nullptr;
        if (pattern.compare(p, 7, "{layer}") == 0) slot = &layer, p += 7;
        else if (pattern.compare(p, 8, "{expert}") == 0) slot = &expert, p += 8;
        if (slot) {
            size_t start = n;
            int64_t v = 0;
            while (n < name.size() && std::isdigit(static_cast<unsigned char>(name[n])) && n - start < 9)
                v = v * 10 + (name[n++] - '0');
            if (n == start) return false;
            *slot = v;
            continue;
        }
        if (n >= name.size() || pattern[p] != name[n]) return false;
        ++p, ++n;
    }
    return n == name.size();
}

bool match_hf_ignore(const std::string& pattern, const std::string& name) {
    if (!pattern.empty() && pattern.back() == '*')
        return name.compare(0, pattern.size() - 1, pattern, 0, pattern.size() - 1) == 0;
    int64_t layer = 0, expert = 0;
    return match_hf_pattern(pattern, name, layer, expert);
}

std::string fill_layer(const std::string& pattern, int64_t layer) {
    std::string s = pattern;
    const std::string l = std::to_string(layer);
    for (size_t at = s.find("{layer}"); at != std::string::npos; at = s.find("{layer}", at + l.size()))
        s.replace(at, 7, l);
    return s;
}

}  // namespace loom::arch
