// The tool fields of a chat request: `tools` (function definitions), `tool_choice`, `parallel_tool_calls`, and
// the tool parts of history messages (an assistant's `tool_calls`, a `tool` message's `tool_call_id`). Every
// error is a 400 naming the field, e.g. `tool_choice.function.name: no tool is named 'x'`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server/tool_format.h"

namespace loom::server {

enum class ToolChoice { none, auto_, required, named };

struct ToolRequest {
    nlohmann::ordered_json tools;  // as the chat template gets them (null when the request has none)
    std::vector<ToolDef> defs;     // name and parameter schema of each
    ToolChoice choice = ToolChoice::auto_;
    std::string forced;    // ToolChoice::named: the function
    bool parallel = true;  // parallel_tool_calls
    bool given() const { return !defs.empty(); }
    // Whether the reply is read for calls: tools given and tool_choice is not none.
    bool parse_calls() const { return given() && choice != ToolChoice::none; }
    // tool_choice required or named: the reply must be a call.
    bool forces_call() const { return given() && (choice == ToolChoice::required || choice == ToolChoice::named); }
    // The tools a forced call may name: every one (required) or the named one.
    std::vector<ToolDef> callable() const {
        std::vector<ToolDef> out;
        for (const ToolDef& d : defs)
            if (choice == ToolChoice::required || d.name == forced) out.push_back(d);
        return out;
    }
};

// `ordered`: the body read with its key order kept (parameter schemas generate properties in that order).
MaybeError parse_tool_request(const nlohmann::json& body, const nlohmann::ordered_json& ordered, ToolRequest& out);

// An assistant message's tool_calls → the list the chat template gets: {"id", "type": "function", "function":
// {"name", "arguments"}} with arguments parsed into an object, as Hugging Face's templates expect.
MaybeError parse_message_tool_calls(const nlohmann::json& calls, const std::string& param, nlohmann::ordered_json& out);

}  // namespace loom::server
