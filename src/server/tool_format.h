// How a chat template's model writes tool calls, found from the template's text: a small table of call syntaxes,
// each keyed by a marker the template writes (e.g. "[ARGS]", "<tool_call>"), so no family is named in code. A
// format says where a call opens and closes and how its name and arguments are spelled; ToolCallParser
// (tool_parser.h) reads calls back out of generated text with it, and call_grammar() turns it and the request's
// tools into a grammar that forces a call (tool_choice "required" or a named function).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "grammar/grammar.h"

namespace loom::server {

// How the text between a call's opening and closing markers is laid out.
enum class CallLayout {
    none,         // a syntax this server does not read (XML parameters, ...), listed so that it is not mistaken
                  // for one it does
    json_object,  // call_open {"name": ..., "arguments"|"parameters": {...}} call_close
    json_list,    // call_open [{"name": ..., "arguments": {...}}, ...]
    name_args,    // call_open NAME name_sep ARGS args_close call_close (ARGS a JSON object)
    name_kv,      // as name_args, with ARGS as key:value pairs whose strings are quoted by string_quote
};

struct ToolFormat {
    const char* name = "";  // a short label for logs and tests, describing the syntax
    // The template text must contain all of these (empty entries are skipped) for the format to apply.
    const char* detect[2] = {"", ""};
    CallLayout layout = CallLayout::none;
    const char* args_key = "";       // json_object/json_list: the key that holds the arguments ("arguments", ...)
    const char* section_open = "";   // before the first call of a group; "" when calls stand alone
    const char* section_close = "";  // after the last call of a group
    const char* call_open = "";      // opens each call ("" with bare_at_start: the output itself starts with it)
    const char* name_sep = "";       // name_args/name_kv: between the name and the arguments
    const char* args_close = "";     // name_args/name_kv: right after the arguments
    const char* call_close = "";     // closes each call
    const char* call_sep = "";       // between two calls of a group (the parser also skips whitespace there)
    const char* alt_open = "";       // a second marker that also opens a call (json_object)
    bool bare_at_start = false;      // a call may also start at the beginning of the output, with no marker
    const char* string_quote = "";   // name_kv: the token that quotes strings
    int id_length = 0;       // > 0: ids of this many letters and digits (templates that check ids), else call_...
    bool can_force = false;  // call_grammar() can build a grammar for it
};

// The format the template's text calls for, or null when no table entry matches (tools are still shown to
// the model, but its output is never read as calls).
const ToolFormat* detect_tool_format(const std::string& template_source);

// The table, for tests and documentation.
const std::vector<ToolFormat>& tool_formats();

// One function a request offers.
struct ToolDef {
    std::string name;
    nlohmann::ordered_json parameters = nlohmann::ordered_json::object();  // a JSON Schema
};

// A grammar that matches one call (or, with `parallel`, one or more calls) of `tools` in `format`, each call's
// arguments valid against its tool's parameters, after `prefix` (text the reply must open with, e.g. the end of
// a thinking block the prompt opened). Errors name the tool and the schema problem.
Result<std::shared_ptr<const grammar::Grammar>> call_grammar(const ToolFormat& format,
                                                             const std::vector<ToolDef>& tools, bool parallel,
                                                             std::string_view prefix = "");

// Every rule name of GBNF text prefixed with `prefix` (string literals, classes, counts and comments untouched):
// lets several compiled schemas live in one grammar.
std::string prefix_gbnf_rules(const std::string& gbnf, const std::string& prefix);

}  // namespace loom::server
