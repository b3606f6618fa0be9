// A small JSON Schema validator for the keywords json_schema.h supports, written from the specification
// (draft 2020-12) independently of the compiler, so that the tests check the compiler's grammars against it.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <regex>
#include <string>

namespace loom::grammar::testing {

using OJson = nlohmann::ordered_json;

// "" when `v` validates against `s` (inside the document `root`), else the first problem found.
inline std::string validate(const OJson& v, const OJson& s, const OJson& root, const std::string& at = "/");

inline size_t code_points(const std::string& s) {
    size_t n = 0;
    for (const char c : s) n += (uint8_t(c) & 0xC0) != 0x80;
    return n;
}

inline bool has_type(const OJson& v, const std::string& t) {
    if (t == "object") return v.is_object();
    if (t == "array") return v.is_array();
    if (t == "string") return v.is_string();
    if (t == "boolean") return v.is_boolean();
    if (t == "null") return v.is_null();
    if (t == "number") return v.is_number();
    if (t == "integer")
        return v.is_number_integer() || (v.is_number_float() && std::floor(v.get<double>()) == v.get<double>());
    return false;
}

inline bool format_ok(const std::string& f, const std::string& s) {
    static const std::regex date(R"([0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01]))");
    static const std::regex time(
        R"(([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))");
    static const std::regex uuid(R"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})");
    if (f == "date") return std::regex_match(s, date);
    if (f == "time") return std::regex_match(s, time);
    if (f == "uuid") return std::regex_match(s, uuid);
    if (f == "date-time") {
        const size_t t = s.find('T');
        return t != std::string::npos && std::regex_match(s.substr(0, t), date) &&
               std::regex_match(s.substr(t + 1), time);
    }
    return false;
}

inline std::string validate(const OJson& v, const OJson& s, const OJson& root, const std::string& at) {
    if (s.is_boolean()) return s.get<bool>() ? "" : at + ": schema false";
    if (s.contains("$ref")) {
        const std::string ref = s["$ref"].get<std::string>().substr(1);
        const OJson& target = ref.empty() ? root : root.at(nlohmann::json_pointer<std::string>(ref));
        return validate(v, target, root, at);
    }
    for (const char* combo : {"anyOf", "oneOf"}) {
        if (!s.contains(combo)) continue;
        int n_ok = 0;
        for (const OJson& alt : s[combo]) n_ok += validate(v, alt, root, at).empty();
        if (n_ok == 0) return at + ": no alternative of " + combo + " matches";
        if (std::string(combo) == "oneOf" && n_ok > 1) return at + ": several alternatives of oneOf match";
    }
    if (s.contains("const") && v != s["const"]) return at + ": not the const";
    if (s.contains("enum")) {
        bool found = false;
        for (const OJson& e : s["enum"]) found = found || e == v;
        if (!found) return at + ": not in the enum";
    }
    if (s.contains("type")) {
        const OJson types = s["type"].is_array() ? s["type"] : OJson::array({s["type"]});
        bool any = false;
        for (const OJson& t : types) any = any || has_type(v, t.get<std::string>());
        if (!any) return at + ": wrong type, not " + s["type"].dump();
    }
    if (v.is_object()) {
        if (s.contains("required")) {
            for (const OJson& r : s["required"])
                if (!v.contains(r.get<std::string>())) return at + ": missing " + r.dump();
        }
        for (const auto& [k, val] : v.items()) {
            if (s.contains("properties") && s["properties"].contains(k)) {
                if (auto e = validate(val, s["properties"][k], root, at + k + "/"); !e.empty()) return e;
            } else if (s.contains("additionalProperties")) {
                if (auto e = validate(val, s["additionalProperties"], root, at + k + "/"); !e.empty()) return e;
            }
        }
    }
    if (v.is_array()) {
        if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return at + ": too few items";
        if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return at + ": too many items";
        if (s.contains("items")) {
            for (size_t i = 0; i < v.size(); ++i)
                if (auto e = validate(v[i], s["items"], root, at + std::to_string(i) + "/"); !e.empty()) return e;
        }
    }
    if (v.is_string()) {
        const std::string str = v.get<std::string>();
        if (s.contains("minLength") && code_points(str) < s["minLength"].get<size_t>()) return at + ": too short";
        if (s.contains("maxLength") && code_points(str) > s["maxLength"].get<size_t>()) return at + ": too long";
        if (s.contains("format") && !format_ok(s["format"].get<std::string>(), str)) return at + ": bad format";
        if (s.contains("pattern") && !std::regex_search(str, std::regex(s["pattern"].get<std::string>())))
            return at + ": does not match the pattern";
    }
    if (v.is_number()) {
        const double d = v.get<double>();
        // Draft 4 makes `minimum` exclusive with `"exclusiveMinimum": true`; later drafts give a number.
        const auto flag = [&](const char* k) { return s.contains(k) && s[k].is_boolean() && s[k].get<bool>(); };
        const auto number = [&](const char* k) { return s.contains(k) && s[k].is_number(); };
        if (s.contains("minimum") &&
            (flag("exclusiveMinimum") ? d <= s["minimum"].get<double>() : d < s["minimum"].get<double>()))
            return at + ": below minimum";
        if (s.contains("maximum") &&
            (flag("exclusiveMaximum") ? d >= s["maximum"].get<double>() : d > s["maximum"].get<double>()))
            return at + ": above maximum";
        if (number("exclusiveMinimum") && d <= s["exclusiveMinimum"].get<double>())
            return at + ": below exclusiveMinimum";
        if (number("exclusiveMaximum") && d >= s["exclusiveMaximum"].get<double>())
            return at + ": above exclusiveMaximum";
    }
    return "";
}

}  // namespace loom::grammar::testing
