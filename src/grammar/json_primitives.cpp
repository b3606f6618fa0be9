// The JSON lexical grammar (RFC 8259) in GBNF, with the bounds json_schema.h documents.
#include "grammar/json_primitives.h"

#include <fmt/format.h>

namespace loom::grammar::json_rules {

namespace {

struct Primitive {
    std::string_view name, body, needs;
};

constexpr Primitive kPrimitives[] = {
    {"ws", R"([ \t\n]{0,16})", ""},
    {"value", "object | array | string | number | boolean | null", "object array string number boolean null"},
    {"object", R"("{" ws ( string ws ":" ws value ws ( "," ws string ws ":" ws value ws )* )? "}")", "ws string value"},
    {"array", R"("[" ws ( value ws ( "," ws value ws )* )? "]")", "ws value"},
    {"char", R"([^"\\\x00-\x1F] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ))", ""},
    {"string", R"("\"" char* "\"")", "char"},
    {"integer", R"("-"? ( "0" | [1-9] [0-9]{0,15} ))", ""},
    {"number", R"(integer ( "." [0-9]{1,16} )? ( [eE] [-+]? [0-9]{1,2} )?)", "integer"},
    {"boolean", R"("true" | "false")", ""},
    {"null", R"("null")", ""},
    {"date", R"([0-9]{4} "-" ( "0" [1-9] | "1" [0-2] ) "-" ( "0" [1-9] | [12] [0-9] | "3" [01] ))", ""},
    {"time",
     R"(( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ":" [0-5] [0-9] ( "." [0-9]{1,6} )? ( "Z" | [+-] ( [01] [0-9] | "2" [0-3] ) ":" [0-5] [0-9] ))",
     ""},
    {"date-time", R"(date "T" time)", "date time"},
    {"uuid", R"([0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{12})", ""},
};

const Primitive* find(std::string_view name) {
    for (const Primitive& p : kPrimitives) {
        if (p.name == name) return &p;
    }
    return nullptr;
}

}  // namespace

std::string_view body(std::string_view name) {
    const Primitive* p = find(name);
    return p ? p->body : std::string_view{};
}

std::string_view needs(std::string_view name) {
    const Primitive* p = find(name);
    return p ? p->needs : std::string_view{};
}

std::string kv_body(std::string_view name, std::string_view quote) {
    if (name == "ws") return R"("")";
    if (name == "kv-key") return "[a-zA-Z_] [a-zA-Z0-9_]{0,63}";
    if (name == "object") return R"("{" ( kv-key ":" value ( "," kv-key ":" value )* )? "}")";
    if (name == "array") return R"("[" ( value ( "," value )* )? "]")";
    if (name == "char") return quote.empty() ? R"([^\x00])" : fmt::format(R"([^\x{:02X}\x00])", uint8_t(quote[0]));
    if (name == "string") return fmt::format("{0} char* {0}", literal(quote));
    return std::string(body(name));
}

std::string_view kv_needs(std::string_view name) {
    if (name == "object") return "kv-key value";
    if (name == "array") return "value";
    if (name == "char" || name == "kv-key" || name == "ws") return "";
    return needs(name);
}

std::string literal(std::string_view text) {
    // GBNF's escapes are few: a backslash before '"' and '\\', and \xHH for control characters.
    std::string out = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') out += {'\\', c};
        else if (uint8_t(c) < 0x20) out += fmt::format("\\x{:02X}", uint8_t(c));
        else out += c;
    }
    return out + "\"";
}

}  // namespace loom::grammar::json_rules
