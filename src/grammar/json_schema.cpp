// The schema compiler: each schema node becomes a GBNF expression, named rules where a node is shared
// ($ref targets, so recursion works) or long (objects). Every keyword of a node is checked against the
// supported set first, so an unsupported one is an error before any grammar is made from the rest.
#include "grammar/json_schema.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <vector>

#include "grammar/json_primitives.h"
#include "grammar/number_range.h"
#include "grammar/regex_gbnf.h"

namespace loom::grammar {

namespace {

using OJson = nlohmann::ordered_json;

constexpr int kMaxDepth = 64;        // nested schema nodes, counting the first visit through each $ref
constexpr int kMaxDigits = 15;       // in a bounded number: decimals of 15 digits never read as the same double
constexpr int64_t kMaxItems = 1000;  // minItems / maxItems / minLength / maxLength we unroll

const std::set<std::string_view> kAnnotations = {"title", "description", "default",    "examples", "$schema",
                                                 "$id",   "$comment",    "deprecated", "readOnly", "writeOnly"};
const std::set<std::string_view> kSupported = {"type",
                                               "enum",
                                               "const",
                                               "anyOf",
                                               "oneOf",
                                               "$ref",
                                               "$defs",
                                               "definitions",
                                               "properties",
                                               "required",
                                               "additionalProperties",
                                               "items",
                                               "minItems",
                                               "maxItems",
                                               "minLength",
                                               "maxLength",
                                               "format",
                                               "pattern",
                                               "minimum",
                                               "maximum",
                                               "exclusiveMinimum",
                                               "exclusiveMaximum"};

std::string json_type_of(const OJson& v) {
    if (v.is_object()) return "object";
    if (v.is_array()) return "array";
    if (v.is_string()) return "string";
    if (v.is_boolean()) return "boolean";
    if (v.is_null()) return "null";
    if (v.is_number_integer() || v.is_number_unsigned()) return "integer";
    return "number";
}

class Compiler {
public:
    Compiler(const OJson& root, std::string_view kv_quote) : root_(root), kv_quote_(kv_quote) {}

    Result<std::string> run() {
        LOOM_TRY(std::string top, visit(root_, "", 0));
        std::string out = fmt::format("root ::= {}\n", top);
        for (const auto& [name, body] : rules_) out += fmt::format("{} ::= {}\n", name, body);
        // The JSON primitives used, and the ones they use.
        std::vector<std::string> todo(used_.begin(), used_.end());
        std::set<std::string> done;
        while (!todo.empty()) {
            const std::string name = todo.back();
            todo.pop_back();
            if (!done.insert(name).second) continue;
            out += fmt::format("{} ::= {}\n", name,
                               kv() ? json_rules::kv_body(name, kv_quote_) : std::string(json_rules::body(name)));
            std::string_view needs = kv() ? json_rules::kv_needs(name) : json_rules::needs(name);
            while (!needs.empty()) {
                const size_t sp = needs.find(' ');
                todo.emplace_back(needs.substr(0, sp));
                needs = sp == std::string_view::npos ? std::string_view{} : needs.substr(sp + 1);
            }
        }
        return out;
    }

private:
    template <typename... Args>
    static Error bad(const std::string& path, fmt::format_string<Args...> f, Args&&... args) {
        return Error::invalid("json_schema: {} at {}", fmt::format(f, std::forward<Args>(args)...),
                              path.empty() ? "/" : path);
    }

    // "keyword 'k'<detail> at <path> is not supported<why>": the keyword first, where it is, then why.
    static Error unsupported(const std::string& path, std::string_view key, std::string_view detail = "",
                             std::string_view why = "") {
        return Error::invalid("json_schema: keyword '{}'{} at {} is not supported{}", key, detail,
                              path.empty() ? "/" : path, why);
    }

    bool kv() const { return !kv_quote_.empty(); }

    // What opens and closes a string.
    std::string quote() const { return kv() ? json_rules::literal(kv_quote_) : std::string(R"("\"")"); }

    // A property name as written before its value.
    std::string key(const std::string& name) const {
        if (!kv()) return json_rules::literal(OJson(name).dump(-1, ' ', false));
        const bool bare =
            !name.empty() && name.size() <= 64 && (std::isalpha(uint8_t(name[0])) || name[0] == '_') &&
            std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(uint8_t(c)) || c == '_'; });
        return json_rules::literal(bare ? name : std::string(kv_quote_) + name + std::string(kv_quote_));
    }

    std::string prim(const std::string& name) {
        used_.insert(name);
        return name;
    }

    std::string add_rule(const std::string& hint, std::string body) {
        std::string base;
        for (const char c : hint) base += std::isalnum(uint8_t(c)) ? c : '-';
        if (base.empty() || !std::isalpha(uint8_t(base[0]))) base = "s" + base;
        std::string name = base;
        for (int i = 2; taken_.count(name) || !json_rules::body(name).empty() || name == "root" || name == "kv-key";
             ++i)
            name = fmt::format("{}-{}", base, i);
        taken_.insert(name);
        rules_.emplace_back(name, std::move(body));
        return name;
    }

    Result<std::string> visit(const OJson& s, const std::string& path, int depth) {
        if (depth > kMaxDepth) return bad(path, "schemas nested deeper than {}", kMaxDepth);
        if (s.is_boolean()) {
            if (s.get<bool>()) return prim("value");
            return bad(path, "the schema 'false' admits no value");
        }
        if (!s.is_object()) return bad(path, "a schema must be an object or a boolean, got {}", s.type_name());
        for (const auto& [key, _] : s.items()) {
            if (!kSupported.count(key) && !kAnnotations.count(key)) return unsupported(path, key);
        }
        if (s.contains("$ref")) {
            for (const auto& [key, _] : s.items()) {
                if (key != "$ref" && key != "$defs" && key != "definitions" && !kAnnotations.count(key))
                    return unsupported(path, key, " next to '$ref'");
            }
            return ref(s["$ref"], path, depth);
        }
        for (const char* combo : {"anyOf", "oneOf"}) {
            if (!s.contains(combo)) continue;
            const OJson& alts = s[combo];
            if (!alts.is_array() || alts.empty()) return bad(path, "'{}' must be a non-empty array", combo);
            for (const auto& [key, _] : s.items()) {
                if (key != combo && key != "$defs" && key != "definitions" && !kAnnotations.count(key))
                    return unsupported(path, key, fmt::format(" next to '{}'", combo));
            }
            std::string body;
            for (size_t i = 0; i < alts.size(); ++i) {
                LOOM_TRY(std::string alt, visit(alts[i], fmt::format("{}/{}/{}", path, combo, i), depth + 1));
                body += (i ? " | " : "") + alt;
            }
            return "( " + body + " )";
        }
        if (s.contains("const")) return enumeration(OJson::array({s["const"]}), s, path);
        if (s.contains("enum")) {
            if (!s["enum"].is_array() || s["enum"].empty()) return bad(path, "'enum' must be a non-empty array");
            return enumeration(s["enum"], s, path);
        }
        LOOM_TRY(std::vector<std::string> types, types_of(s, path));
        std::string body;
        for (const std::string& t : types) {
            LOOM_TRY(std::string one, typed(s, t, path, depth));
            body += (body.empty() ? "" : " | ") + one;
        }
        return types.size() == 1 ? body : "( " + body + " )";
    }

    // The types a node admits: its `type`, else what its keywords imply, else any value.
    Result<std::vector<std::string>> types_of(const OJson& s, const std::string& path) {
        static const std::set<std::string> kTypes = {"object",  "array",   "string", "number",
                                                     "integer", "boolean", "null"};
        std::vector<std::string> types;
        if (s.contains("type")) {
            const OJson& t = s["type"];
            const OJson list = t.is_array() ? t : OJson::array({t});
            if (list.empty()) return bad(path, "'type' is an empty array");
            for (const OJson& one : list) {
                if (!one.is_string() || !kTypes.count(one.get<std::string>()))
                    return bad(path, "unknown type {}", one.dump());
                types.push_back(one.get<std::string>());
            }
            return types;
        }
        if (s.contains("properties") || s.contains("required") || s.contains("additionalProperties"))
            return std::vector<std::string>{"object"};
        if (s.contains("items") || s.contains("minItems") || s.contains("maxItems"))
            return std::vector<std::string>{"array"};
        if (s.contains("minLength") || s.contains("maxLength") || s.contains("format") || s.contains("pattern"))
            return std::vector<std::string>{"string"};
        if (s.contains("minimum") || s.contains("maximum") || s.contains("exclusiveMinimum") ||
            s.contains("exclusiveMaximum"))
            return std::vector<std::string>{"number"};
        return std::vector<std::string>{"any"};
    }

    Result<std::string> typed(const OJson& s, const std::string& t, const std::string& path, int depth) {
        if (t == "any") return prim("value");
        if (t == "object") return object(s, path, depth);
        if (t == "array") return array(s, path, depth);
        if (t == "string") return string(s, path);
        if (t == "integer") return number(s, path, true);
        if (t == "number") return number(s, path, false);
        if (t == "boolean") return prim("boolean");
        return prim("null");
    }

    Result<std::string> enumeration(const OJson& values, const OJson& s, const std::string& path) {
        std::vector<std::string> types;
        if (s.contains("type")) {
            LOOM_TRY(types, types_of(s, path));
        }
        std::string body;
        for (const OJson& v : values) {
            const std::string vt = json_type_of(v);
            const bool fits = types.empty() || std::find(types.begin(), types.end(), vt) != types.end() ||
                              (vt == "integer" && std::find(types.begin(), types.end(), "number") != types.end());
            if (!fits) continue;  // a value of another type than `type` allows can never validate
            std::string text = v.dump(-1, ' ', false);
            if (kv() && v.is_string()) text = std::string(kv_quote_) + v.get<std::string>() + std::string(kv_quote_);
            if (kv() && (v.is_object() || v.is_array()))
                return bad(path, "an object or array in 'enum' / 'const' is not supported in key:value calls");
            body += (body.empty() ? "" : " | ") + json_rules::literal(text);
        }
        if (body.empty()) return bad(path, "no value of 'enum' / 'const' has the schema's type");
        return "( " + body + " )";
    }

    Result<std::string> ref(const OJson& r, const std::string& path, int depth) {
        if (!r.is_string()) return bad(path, "'$ref' must be a string");
        const std::string target = r.get<std::string>();
        if (auto it = refs_.find(target); it != refs_.end()) return it->second;
        if (target.empty() || target[0] != '#')
            return bad(path, "'$ref' {} is not supported (only local references starting with '#')", r.dump());
        const std::string pointer = target.substr(1);
        const OJson* node = &root_;
        if (!pointer.empty()) {
            nlohmann::json_pointer<std::string> jp;
            try {  // nlohmann reports a malformed pointer by exception; it stops here
                jp = nlohmann::json_pointer<std::string>(pointer);
            } catch (const nlohmann::json::exception&) {
                return bad(path, "'$ref' {} is not a valid JSON pointer", r.dump());
            }
            if (!root_.contains(jp)) return bad(path, "'$ref' {} points at nothing", r.dump());
            node = &root_.at(jp);
        }
        // Named before it is compiled, so that a reference inside it to itself finds the rule.
        const std::string name = add_rule("ref" + pointer, "");
        const size_t index = rules_.size() - 1;
        refs_[target] = name;
        // Depth goes on through references, so that a long chain of them cannot exhaust the stack.
        LOOM_TRY(std::string body, visit(*node, pointer, depth + 1));
        rules_[index].second = std::move(body);
        return name;
    }

    Result<int64_t> count(const OJson& s, const char* key, const std::string& path, int64_t fallback) {
        if (!s.contains(key)) return fallback;
        const OJson& v = s[key];
        if (!v.is_number_integer() || v.get<int64_t>() < 0)
            return bad(path, "'{}' must be a non-negative integer", key);
        if (v.get<int64_t>() > kMaxItems) return bad(path, "'{}' above {} is not supported", key, kMaxItems);
        return v.get<int64_t>();
    }

    Result<std::string> object(const OJson& s, const std::string& path, int depth);
    Result<std::string> array(const OJson& s, const std::string& path, int depth);
    Result<std::string> string(const OJson& s, const std::string& path);
    Result<std::string> number(const OJson& s, const std::string& path, bool integer);

    const OJson& root_;
    std::string_view kv_quote_;  // empty: JSON; else key:value text with strings between two of these
    std::vector<std::pair<std::string, std::string>> rules_;  // in order of creation
    std::set<std::string> taken_;
    std::set<std::string> used_;  // JSON primitives referred to
    std::map<std::string, std::string> refs_;
};

Result<std::string> Compiler::object(const OJson& s, const std::string& path, int depth) {
    const OJson empty = OJson::object();
    const OJson& props = s.contains("properties") ? s["properties"] : empty;
    if (!props.is_object()) return bad(path, "'properties' must be an object");
    std::set<std::string> required;
    if (s.contains("required")) {
        if (!s["required"].is_array()) return bad(path, "'required' must be an array of names");
        for (const OJson& n : s["required"]) {
            if (!n.is_string()) return bad(path, "'required' must be an array of names");
            if (!props.contains(n.get<std::string>()))
                return bad(path, "required property {} is not in 'properties' (extra properties are not supported)",
                           n.dump());
            required.insert(n.get<std::string>());
        }
    }
    std::string extra;  // the value schema of additional properties, empty when none are allowed
    if (s.contains("additionalProperties")) {
        const OJson& ap = s["additionalProperties"];
        if (!(ap.is_boolean() && !ap.get<bool>())) {
            if (!props.empty())
                return bad(path, "'additionalProperties' other than false next to 'properties' is not supported");
            LOOM_TRY(extra, visit(ap, path + "/additionalProperties", depth + 1));
        }
    } else if (props.empty()) {
        extra = prim("value");  // {"type": "object"}: any object
    }
    prim("ws");
    if (props.empty()) {
        if (extra.empty()) return std::string(R"(( "{" ws "}" ))");
        const std::string member = fmt::format(R"({} ws ":" ws {} ws)", prim("string"), extra);
        return add_rule(path + "-map", fmt::format(R"("{{" ws ( {0} ( "," ws {0} )* )? "}}")", member));
    }
    // after[i]: members from i on once one was written (each starts with a comma); first[i]: none written yet.
    const size_t n = props.size();
    std::vector<std::string> kv;
    std::vector<bool> req;
    for (const auto& [name, sub] : props.items()) {
        LOOM_TRY(std::string value, visit(sub, path + "/properties/" + name, depth + 1));
        kv.push_back(fmt::format(R"({} ws ":" ws {} ws)", key(name), value));
        req.push_back(required.count(name) > 0);
    }
    // after: the members from i on once one was written (each starts with a comma); first: none written yet.
    // Built from the last member back; `""` is the empty text.
    std::string after = "\"\"", first = "\"\"";
    for (size_t i = n; i-- > 0;) {
        const std::string with = fmt::format(R"("," ws {} {})", kv[i], after);
        const std::string start = fmt::format("{} {}", kv[i], after);
        const std::string next_after = req[i] ? with : fmt::format("{} | {}", with, after);
        first = add_rule(path + "-first", req[i] ? start : fmt::format("{} | {}", start, first));
        after = add_rule(path + "-after", next_after);
    }
    return add_rule(path.empty() ? "object" : path, fmt::format(R"("{{" ws {} "}}")", first));
}

Result<std::string> Compiler::array(const OJson& s, const std::string& path, int depth) {
    std::string item = prim("value");
    if (s.contains("items")) {
        if (s["items"].is_array()) return bad(path, "'items' as an array (tuple validation) is not supported");
        LOOM_TRY(item, visit(s["items"], path + "/items", depth + 1));
    }
    LOOM_TRY(int64_t lo, count(s, "minItems", path, 0));
    LOOM_TRY(int64_t hi, count(s, "maxItems", path, -1));
    if (hi >= 0 && hi < lo) return bad(path, "'maxItems' {} is below 'minItems' {}", hi, lo);
    prim("ws");
    if (hi == 0) return std::string(R"(( "[" ws "]" ))");
    const std::string more = hi < 0 ? fmt::format("{{{},}}", std::max<int64_t>(lo - 1, 0))
                                    : fmt::format("{{{},{}}}", std::max<int64_t>(lo - 1, 0), hi - 1);
    const std::string items = fmt::format(R"({0} ws ( "," ws {0} ws ){1})", item, more);
    return add_rule(path + "-array", fmt::format(R"("[" ws {} "]")", lo == 0 ? "( " + items + " )?" : items));
}

Result<std::string> Compiler::string(const OJson& s, const std::string& path) {
    if (s.contains("pattern")) {
        for (const char* k : {"format", "minLength", "maxLength"}) {
            if (s.contains(k)) return unsupported(path, k, " next to 'pattern'");
        }
        if (!s["pattern"].is_string()) return bad(path, "'pattern' must be a string");
        if (kv()) return unsupported(path, "pattern", "", " in key:value calls (their strings are not JSON's)");
        auto body = pattern_to_gbnf(s["pattern"].get<std::string>());
        if (!body.ok()) return bad(path, "{}", body.error().message());
        prim("char");
        return fmt::format(R"(( {0} {1} {0} ))", quote(), body.value());
    }
    if (s.contains("format")) {
        const OJson& f = s["format"];
        static const std::set<std::string> kFormats = {"date", "time", "date-time", "uuid"};
        if (!f.is_string() || !kFormats.count(f.get<std::string>()))
            return bad(path, "format {} is not supported (supported: date, time, date-time, uuid)", f.dump());
        if (s.contains("minLength") || s.contains("maxLength"))
            return bad(path, "'minLength' / 'maxLength' together with 'format' is not supported");
        return fmt::format(R"(( {0} {1} {0} ))", quote(), prim(f.get<std::string>()));
    }
    LOOM_TRY(int64_t lo, count(s, "minLength", path, 0));
    LOOM_TRY(int64_t hi, count(s, "maxLength", path, -1));
    if (hi >= 0 && hi < lo) return bad(path, "'maxLength' {} is below 'minLength' {}", hi, lo);
    if (lo == 0 && hi < 0) return prim("string");
    prim("char");
    const std::string reps = hi < 0 ? fmt::format("{{{},}}", lo) : fmt::format("{{{},{}}}", lo, hi);
    return fmt::format(R"(( {0} char{1} {0} ))", quote(), reps);
}

Result<std::string> Compiler::number(const OJson& s, const std::string& path, bool integer) {
    struct BoundKey {
        const char* name;
        bool lower, exclusive;
        const char* draft4_flag;  // draft 4 writes an exclusive bound as this flag set to true beside it
    };
    static constexpr BoundKey kKeys[] = {{"minimum", true, false, "exclusiveMinimum"},
                                         {"exclusiveMinimum", true, true, nullptr},
                                         {"maximum", false, false, "exclusiveMaximum"},
                                         {"exclusiveMaximum", false, true, nullptr}};
    NumberBounds b;
    for (const BoundKey& k : kKeys) {
        if (!s.contains(k.name)) continue;
        const OJson& v = s[k.name];
        if (k.exclusive && v.is_boolean()) {
            const char* plain = k.lower ? "minimum" : "maximum";
            if (!s.contains(plain)) return bad(path, "'{}': {} needs '{}' beside it", k.name, v.dump(), plain);
            continue;
        }
        if (!v.is_number()) return bad(path, "'{}' must be a number", k.name);
        auto parsed = parse_decimal(v.dump(), kMaxDigits + 1);
        if (!parsed.ok()) return bad(path, "'{}' {}", k.name, parsed.error().message());
        const bool exclusive =
            k.exclusive || (k.draft4_flag && s.contains(k.draft4_flag) && s[k.draft4_flag] == OJson(true));
        std::optional<Decimal>& bound = k.lower ? b.lo : b.hi;
        bool& bound_exclusive = k.lower ? b.lo_exclusive : b.hi_exclusive;
        const int tighter = bound ? compare_decimals(parsed.value(), *bound) * (k.lower ? 1 : -1) : 1;
        if (tighter > 0 || (tighter == 0 && exclusive)) {
            bound = parsed.value();
            bound_exclusive = exclusive;
        }
    }
    if (!b.lo && !b.hi) return prim(integer ? "integer" : "number");
    const int digits = integer ? kMaxDigits + 1 : kMaxDigits;
    std::optional<std::string> body = number_range_gbnf(b, integer, digits);
    if (!body)
        return bad(path, "no {} of at most {} digits lies in {}", integer ? "integer" : "number", digits, describe(b));
    return *body;
}

}  // namespace

Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema, std::string_view kv_quote) {
    return Compiler(schema, kv_quote).run();
}

std::string json_object_gbnf() {
    return fmt::format("root ::= object\n{}", [] {
        std::string out;
        for (const char* r :
             {"object", "value", "array", "string", "char", "number", "integer", "boolean", "null", "ws"})
            out += fmt::format("{} ::= {}\n", r, json_rules::body(r));
        return out;
    }());
}

}  // namespace loom::grammar
