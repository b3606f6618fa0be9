// Tool definitions, tool_choice and the tool calls of history messages, validated field by field.
#include "server/tool_request.h"

#include <fmt/format.h>

#include "grammar/json_schema.h"

namespace loom::server {
namespace {

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;

constexpr size_t kMaxTools = 128;

// OpenAI's rule for function names: letters, digits, '_' and '-', at most 64.
bool valid_name(const std::string& s) {
    if (s.empty() || s.size() > 64) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    return true;
}

const Json* member(const Json& obj, const char* key) {
    auto it = obj.find(key);
    return it == obj.end() || it->is_null() ? nullptr : &*it;
}

// The compilers' messages start with "json_schema: "; the field name replaces it.
std::string schema_problem(const std::string& message) {
    constexpr std::string_view kPrefix = "json_schema: ";
    return message.rfind(kPrefix, 0) == 0 ? message.substr(kPrefix.size()) : message;
}

MaybeError parse_tool(const Json& t, const OJson& ordered, size_t i, ToolRequest& out) {
    const std::string p = fmt::format("tools[{}]", i);
    if (!t.is_object()) return ApiError::field(p, "invalid_type", "expected a tool object");
    const Json* type = member(t, "type");
    if (!type || *type != "function")
        return ApiError::field(p + ".type", "invalid_value", "must be \"function\" (the only tool type served)");
    const Json* fn = member(t, "function");
    if (!fn || !fn->is_object())
        return ApiError::field(p + ".function", "missing_required_parameter", "is required (an object)");
    const Json* name = member(*fn, "name");
    if (!name || !name->is_string() || !valid_name(name->get<std::string>()))
        return ApiError::field(p + ".function.name", "invalid_value",
                               "must be a string of 1 to 64 letters, digits, '_' or '-'");
    ToolDef def;
    def.name = name->get<std::string>();
    for (const ToolDef& d : out.defs)
        if (d.name == def.name)
            return ApiError::field(p + ".function.name", "invalid_value", "'{}' is defined twice", def.name);
    if (const Json* d = member(*fn, "description"); d && !d->is_string())
        return ApiError::field(p + ".function.description", "invalid_type", "expected a string");
    if (const Json* s = member(*fn, "strict"); s && !s->is_boolean())
        return ApiError::field(p + ".function.strict", "invalid_type", "expected a boolean");
    if (const Json* params = member(*fn, "parameters")) {
        if (!params->is_object())
            return ApiError::field(p + ".function.parameters", "invalid_type", "expected a JSON Schema object");
        def.parameters = ordered.at("function").at("parameters");
        // Compiled here so that a schema the grammar engine cannot enforce is refused before anything runs.
        auto g = grammar::json_schema_to_gbnf(def.parameters);
        if (!g.ok())
            return ApiError::field(p + ".function.parameters", "invalid_value", "{}",
                                   schema_problem(g.error().message()));
    } else {
        def.parameters = {{"type", "object"}, {"properties", OJson::object()}};
    }
    out.defs.push_back(std::move(def));
    return std::nullopt;
}

MaybeError parse_tool_choice(const Json& v, ToolRequest& out) {
    if (v.is_string()) {
        const std::string s = v.get<std::string>();
        if (s == "none") out.choice = ToolChoice::none;
        else if (s == "auto") out.choice = ToolChoice::auto_;
        else if (s == "required") out.choice = ToolChoice::required;
        else
            return ApiError::field("tool_choice", "invalid_value",
                                   "unknown value '{}' (expected none, auto, required or a function object)", s);
    } else if (v.is_object()) {
        const Json* type = member(v, "type");
        if (!type || *type != "function")
            return ApiError::field("tool_choice.type", "invalid_value", "must be \"function\"");
        const Json* fn = member(v, "function");
        const Json* name = fn && fn->is_object() ? member(*fn, "name") : nullptr;
        if (!name || !name->is_string())
            return ApiError::field("tool_choice.function.name", "missing_required_parameter", "is required (a string)");
        out.choice = ToolChoice::named;
        out.forced = name->get<std::string>();
    } else {
        return ApiError::field("tool_choice", "invalid_type", "expected a string or an object");
    }
    if (out.choice != ToolChoice::none && !out.given())
        return ApiError::field("tool_choice", "invalid_value", "is only allowed when tools are given");
    if (out.choice == ToolChoice::named) {
        bool found = false;
        for (const ToolDef& d : out.defs) found = found || d.name == out.forced;
        if (!found)
            return ApiError::field("tool_choice.function.name", "invalid_value", "no tool is named '{}'", out.forced);
    }
    return std::nullopt;
}

}  // namespace

MaybeError parse_tool_request(const Json& body, const OJson& ordered, ToolRequest& out) {
    if (const Json* tools = member(body, "tools")) {
        if (!tools->is_array()) return ApiError::field("tools", "invalid_type", "expected an array of tools");
        if (tools->size() > kMaxTools)
            return ApiError::field("tools", "invalid_value", "has {} tools, at most {}", tools->size(), kMaxTools);
        const OJson& otools = ordered.at("tools");
        for (size_t i = 0; i < tools->size(); ++i) {
            if (auto e = parse_tool((*tools)[i], (*tools)[i].is_object() ? otools.at(i) : OJson(), i, out)) return e;
        }
        if (!out.defs.empty()) out.tools = otools;
    }
    if (const Json* choice = member(body, "tool_choice")) {
        if (auto e = parse_tool_choice(*choice, out)) return e;
    }
    if (const Json* par = member(body, "parallel_tool_calls")) {
        if (!par->is_boolean()) return ApiError::field("parallel_tool_calls", "invalid_type", "expected a boolean");
        out.parallel = par->get<bool>();
    }
    return std::nullopt;
}

MaybeError parse_message_tool_calls(const Json& calls, const std::string& param, OJson& out) {
    if (!calls.is_array()) return ApiError::field(param, "invalid_type", "expected an array of tool calls");
    out = OJson::array();
    for (size_t j = 0; j < calls.size(); ++j) {
        const std::string p = fmt::format("{}[{}]", param, j);
        const Json& c = calls[j];
        if (!c.is_object()) return ApiError::field(p, "invalid_type", "expected a tool call object");
        const Json* type = member(c, "type");
        if (type && *type != "function") return ApiError::field(p + ".type", "invalid_value", "must be \"function\"");
        const Json* id = member(c, "id");
        if (id && !id->is_string()) return ApiError::field(p + ".id", "invalid_type", "expected a string");
        const Json* fn = member(c, "function");
        if (!fn || !fn->is_object())
            return ApiError::field(p + ".function", "missing_required_parameter", "is required (an object)");
        const Json* name = member(*fn, "name");
        if (!name || !name->is_string() || name->get<std::string>().empty())
            return ApiError::field(p + ".function.name", "missing_required_parameter", "is required (a string)");
        const Json* args = member(*fn, "arguments");
        OJson parsed = OJson::object();
        if (args && args->is_string()) {
            parsed = OJson::parse(args->get<std::string>(), nullptr, /*allow_exceptions=*/false);
            if (parsed.is_discarded() || !parsed.is_object())
                return ApiError::field(p + ".function.arguments", "invalid_value", "is not a JSON object");
        } else if (args && args->is_object()) {
            parsed = OJson::parse(args->dump());
        } else if (args) {
            return ApiError::field(p + ".function.arguments", "invalid_type",
                                   "expected a string holding a JSON object");
        }
        OJson call = {{"type", "function"},
                      {"function", {{"name", name->get<std::string>()}, {"arguments", std::move(parsed)}}}};
        if (id) call["id"] = id->get<std::string>();
        out.push_back(std::move(call));
    }
    return std::nullopt;
}

}  // namespace loom::server
