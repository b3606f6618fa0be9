// The table of tool-call syntaxes and the grammars that force a call in one of them.
#include "server/tool_format.h"

#include <fmt/format.h>

#include "grammar/gbnf_parser.h"
#include "grammar/json_schema.h"

namespace loom::server {
namespace {

// First match wins, so a syntax whose marker is also in another's template comes first (templates that wrap
// XML parameters in <tool_call> tags must not be read as JSON inside those tags).
const std::vector<ToolFormat> kFormats = {
    // [TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}
    {.name = "name [ARGS] json",
     .detect = {"[TOOL_CALLS]", "[ARGS]"},
     .layout = CallLayout::name_args,
     .call_open = "[TOOL_CALLS]",
     .name_sep = "[ARGS]",
     .id_length = 9,
     .can_force = true},
    // [TOOL_CALLS][{"name": "get_weather", "arguments": {...}, "id": "a1b2c3d4e"}]
    {.name = "[TOOL_CALLS] json list",
     .detect = {"[TOOL_CALLS]", ""},
     .layout = CallLayout::json_list,
     .args_key = "arguments",
     .call_open = "[TOOL_CALLS]",
     .id_length = 9,
     .can_force = true},
    // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME\n```json\n{...}\n```<｜tool▁call▁end｜>…
    {.name = "fenced json in tool▁call markers",
     .detect = {"<｜tool▁calls▁begin｜>", "```json"},
     .layout = CallLayout::name_args,
     .section_open = "<｜tool▁calls▁begin｜>",
     .section_close = "<｜tool▁calls▁end｜>",
     .call_open = "<｜tool▁call▁begin｜>function<｜tool▁sep｜>",
     .name_sep = "\n```json\n",
     .args_close = "\n```",
     .call_close = "<｜tool▁call▁end｜>",
     .call_sep = "\n",
     .can_force = true},
    // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>NAME<｜tool▁sep｜>{...}<｜tool▁call▁end｜><｜tool▁calls▁end｜>
    {.name = "json in tool▁call markers",
     .detect = {"<｜tool▁calls▁begin｜>", ""},
     .layout = CallLayout::name_args,
     .section_open = "<｜tool▁calls▁begin｜>",
     .section_close = "<｜tool▁calls▁end｜>",
     .call_open = "<｜tool▁call▁begin｜>",
     .name_sep = "<｜tool▁sep｜>",
     .call_close = "<｜tool▁call▁end｜>",
     .can_force = true},
    // <|tool_call>call:get_weather{city:<|"|>Paris<|"|>,days:3}<tool_call|>
    {.name = "call:name{key:value}",
     .detect = {"<|tool_call>call:", ""},
     .layout = CallLayout::name_kv,
     .call_open = "<|tool_call>call:",
     .name_sep = "{",
     .call_close = "<tool_call|>",
     .string_quote = "<|\"|>",
     .can_force = true},
    // Syntaxes not read: XML parameters or invocations, sections with indexed names, <tool_calls> lists, and
    // fenced actions.
    {.name = "xml parameters", .detect = {"<function=", ""}},
    {.name = "xml key/value", .detect = {"<arg_key>", ""}},
    {.name = "xml invoke", .detect = {"<invoke name=", ""}},
    {.name = "namespaced xml invoke", .detect = {":invoke name=", ""}},
    {.name = "indexed sections", .detect = {"<|tool_calls_section_begin|>", ""}},
    {.name = "<tool_calls> lists", .detect = {"<tool_calls>", ""}},
    {.name = "fenced actions", .detect = {"```json", ""}},
    // <tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>
    {.name = "<tool_call> json",
     .detect = {"<tool_call>", ""},
     .layout = CallLayout::json_object,
     .args_key = "arguments",
     .call_open = "<tool_call>",
     .call_close = "</tool_call>",
     .call_sep = "\n",
     .can_force = true},
    // {"name": "get_weather", "parameters": {"city": "Paris"}} as the whole reply, or after <|python_tag|>
    {.name = "bare json with parameters",
     .detect = {"\"parameters\": ", ""},
     .layout = CallLayout::json_object,
     .args_key = "parameters",
     .call_sep = ";",
     .alt_open = "<|python_tag|>",
     .bare_at_start = true,
     .can_force = true},
};

// A GBNF string literal for `text`.
std::string literal(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '\r') {
            out += "\\r";
        } else if (c == '\t') {
            out += "\\t";
        } else {
            out += c;
        }
    }
    return out + "\"";
}

// A name as a JSON string inside a GBNF literal.
std::string json_name(const std::string& name) { return nlohmann::json(name).dump(); }

bool is_word(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

const std::vector<ToolFormat>& tool_formats() { return kFormats; }

const ToolFormat* detect_tool_format(const std::string& source) {
    for (const ToolFormat& f : kFormats) {
        bool all = true;
        for (const char* marker : f.detect)
            if (*marker && source.find(marker) == std::string::npos) all = false;
        if (all) return f.layout == CallLayout::none ? nullptr : &f;
    }
    return nullptr;
}

std::string prefix_gbnf_rules(const std::string& gbnf, const std::string& prefix) {
    std::string out;
    out.reserve(gbnf.size() + 64);
    for (size_t i = 0; i < gbnf.size();) {
        const char c = gbnf[i];
        if (c == '"' || c == '[') {  // a literal or a class: copied through, escapes included
            const char close = c == '"' ? '"' : ']';
            size_t j = i + 1;
            while (j < gbnf.size() && gbnf[j] != close) j += gbnf[j] == '\\' ? 2 : 1;
            j = std::min(gbnf.size(), j + 1);
            out.append(gbnf, i, j - i);
            i = j;
        } else if (c == '{' || c == '#') {  // a repetition count or a comment
            const size_t j = std::min(gbnf.size(), gbnf.find(c == '{' ? '}' : '\n', i));
            out.append(gbnf, i, j - i);
            i = j;
        } else if (is_word(c)) {
            size_t j = i;
            while (j < gbnf.size() && is_word(gbnf[j])) ++j;
            out += prefix;
            out.append(gbnf, i, j - i);
            i = j;
        } else {
            out += c;
            ++i;
        }
    }
    return out;
}

Result<std::shared_ptr<const grammar::Grammar>> call_grammar(const ToolFormat& f, const std::vector<ToolDef>& tools,
                                                             bool parallel, std::string_view prefix) {
    if (!f.can_force || tools.empty())
        return Error::unsupported("the model's tool-call syntax ({}) cannot be enforced with a grammar", f.name);
    std::string rules;
    std::vector<std::string> calls;  // one alternative per tool
    for (size_t i = 0; i < tools.size(); ++i) {
        const ToolDef& t = tools[i];
        auto schema = grammar::json_schema_to_gbnf(t.parameters, f.string_quote);
        if (!schema.ok()) return Error::invalid("tool '{}': {}", t.name, schema.error().message());
        const std::string prefix = fmt::format("tool{}-", i);
        rules += prefix_gbnf_rules(*schema, prefix);
        const std::string args = prefix + "root";
        switch (f.layout) {
            case CallLayout::json_object:
            case CallLayout::json_list:
                calls.push_back(fmt::format("{} {} {} {}",
                                            literal(fmt::format("{{\"name\": {}, \"", json_name(t.name))),
                                            literal(f.args_key), literal("\": "), args) +
                                " \"}\"");
                break;
            case CallLayout::name_args:
                calls.push_back(fmt::format("{} {} {} {}", literal(f.call_open + t.name), literal(f.name_sep), args,
                                            literal(std::string(f.args_close) + f.call_close)));
                break;
            case CallLayout::name_kv:  // the name separator is the arguments' own '{'
                calls.push_back(fmt::format("{} {} {}", literal(f.call_open + t.name), args,
                                            literal(std::string(f.args_close) + f.call_close)));
                break;
            default: break;
        }
    }
    std::string call = "call ::= ";
    for (size_t i = 0; i < calls.size(); ++i) call += (i ? " | " : "") + calls[i];
    // Further calls, when the request allows several: `sep one`, repeated.
    auto repeat = [&](const std::string& sep, const std::string& one) {
        return parallel ? fmt::format(" ({} {})*", sep, one) : std::string();
    };
    std::string root;
    if (f.layout == CallLayout::json_list) {
        root = fmt::format("root ::= {} \"[\" call{} \"]\"", literal(f.call_open), repeat("\", \"", "call"));
    } else if (f.layout == CallLayout::json_object && f.bare_at_start) {
        root = "root ::= call";  // the whole reply is the call
    } else if (f.layout == CallLayout::json_object) {
        const std::string one = fmt::format("{} call {}", literal(std::string(f.call_open) + "\n"),
                                            literal(std::string("\n") + f.call_close));
        root = fmt::format("root ::= {}{}", one, repeat(literal(f.call_sep), one));
    } else {
        root = fmt::format("root ::= {} call{} {}", literal(f.section_open), repeat(literal(f.call_sep), "call"),
                           literal(f.section_close));
    }
    if (!prefix.empty()) root.insert(std::string_view("root ::= ").size(), literal(prefix) + " ");
    auto g = grammar::parse_gbnf(root + "\n" + call + "\n" + rules);
    if (!g.ok()) return Error::invalid("tool-call grammar: {}", g.error().message());
    return std::make_shared<const grammar::Grammar>(std::move(g).value());
}

}  // namespace loom::server
