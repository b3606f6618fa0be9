// Reads tool calls out of a chat reply as it streams in, in the syntax a ToolFormat describes. Text outside
// calls is content; text that may still become a call marker is held back until it is decided, and a call
// whose inside does not parse (bad JSON, no name) stays content, marker and all. Calls come out whole: name
// and arguments together, once the call's last byte has arrived.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/tool_format.h"

namespace loom::server {

struct ToolCall {
    std::string id;         // call_<24 letters and digits>, or as the format's id_length says
    std::string name;       // the function
    std::string arguments;  // a JSON object, as text (OpenAI sends it as a string)
};

class ToolCallParser {
public:
    struct Out {
        std::string content;
        std::vector<ToolCall> calls;
    };

    // PRECONDITION: `format` outlives the parser (the table's entries live for the program).
    explicit ToolCallParser(const ToolFormat& format) : f_(format) {}

    Out feed(std::string_view text);
    Out flush();  // the end of the reply: an unfinished call is content

private:
    enum class State { content, between, in_section };
    enum class Step { done, more, bad };

    Out run(bool final);
    Step parse_call(std::string_view s, size_t& used, std::vector<ToolCall>& calls);
    ToolCall make_call(std::string name, std::string arguments);

    const ToolFormat& f_;
    std::string held_;  // text not decided yet
    State state_ = State::content;
    std::string section_text_;  // a section opener no call has followed yet
    bool at_start_ = true;      // only whitespace so far (a bare call may open here)
};

// A whole reply at once: its content and calls.
ToolCallParser::Out parse_tool_calls(const ToolFormat& format, std::string_view text);

}  // namespace loom::server
