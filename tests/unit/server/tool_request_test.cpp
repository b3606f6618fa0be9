// The tool fields of a chat request: tools, tool_choice, parallel_tool_calls, tool calls and tool messages in the
// history, reasoning_effort, continue_final_message and n_predict; every bad one a 400 naming the field.
#include "server/tool_request.h"

#include <gtest/gtest.h>

#include "server/request.h"

namespace loom::server {
namespace {

Limits limits() {
    Limits l;
    l.n_vocab = 1000;
    l.n_ctx = 512;
    return l;
}

Json weather_tool() {
    return Json::parse(R"({"type": "function", "function": {"name": "get_weather", "description": "Weather",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}})");
}

Json body(Json extra = Json::object()) {
    Json b = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"tools", {weather_tool()}}};
    for (auto& [k, v] : extra.items()) b[k] = v;
    return b;
}

MaybeError parse(const Json& b, ChatRequest& r) { return parse_chat_request(b, limits(), r); }

std::string error_param(const Json& b) {
    ChatRequest r;
    auto e = parse(b, r);
    return e ? e->param : "";
}

TEST(ServerToolRequest, FieldsAreRead) {
    ChatRequest r;
    const std::string raw = R"({"messages": [{"role": "user", "content": "hi"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
            "function": {"name": "get_weather", "arguments": "{\"city\": \"Bern\", \"a\": 1}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object",
            "properties": {"zeta": {"type": "string"}, "alpha": {"type": "string"}}}}},
            {"type": "function", "function": {"name": "now"}}],
        "tool_choice": {"type": "function", "function": {"name": "now"}}, "parallel_tool_calls": false,
        "reasoning": {"effort": "low"}})";
    ASSERT_FALSE(parse_chat_request(Json::parse(raw), limits(), r, raw));
    ASSERT_EQ(r.tools.defs.size(), 2u);
    EXPECT_EQ(r.tools.choice, ToolChoice::named);
    EXPECT_EQ(r.tools.forced, "now");
    EXPECT_FALSE(r.tools.parallel);
    EXPECT_TRUE(r.tools.parse_calls());
    // The client's property order survives (the grammar generates properties in it).
    EXPECT_EQ(r.tools.defs[0].parameters["properties"].begin().key(), "zeta");
    EXPECT_EQ(r.tools.tools[0]["function"]["parameters"]["properties"].begin().key(), "zeta");
    // No parameters: a function of no arguments.
    EXPECT_EQ(r.tools.defs[1].parameters["type"], "object");
    ASSERT_EQ(r.messages.size(), 3u);
    const auto& call = r.messages[1].tool_calls.at(0);
    EXPECT_EQ(call["id"], "call_1");
    EXPECT_EQ(call["function"]["arguments"]["city"], "Bern");  // parsed into an object, keys in order
    EXPECT_EQ(call["function"]["arguments"].begin().key(), "city");
    EXPECT_EQ(r.messages[2].role, "tool");
    EXPECT_EQ(r.messages[2].tool_call_id, "call_1");
    EXPECT_EQ(r.reasoning_effort, "low");

    ChatRequest none;
    ASSERT_FALSE(parse(body({{"tool_choice", "none"}}), none));
    EXPECT_TRUE(none.tools.given());
    EXPECT_FALSE(none.tools.parse_calls());  // tools shown to the model, never read back
    ChatRequest plain;
    ASSERT_FALSE(parse(body({{"tools", Json::array()}, {"tool_choice", "none"}}), plain));
    EXPECT_FALSE(plain.tools.given());
    EXPECT_TRUE(plain.tools.tools.is_null());
}

TEST(ServerToolRequest, BadToolFieldsAreNamed) {
    Json two_tools = Json::array({weather_tool(), weather_tool()});
    Json bad_schema = weather_tool();
    bad_schema["function"]["parameters"]["properties"]["city"]["pattern"] = "^(a)\\1$";  // a backreference
    Json bad_name = weather_tool();
    bad_name["function"]["name"] = "get weather";
    const auto msg = [](const Json& m) { return Json::array({{{"role", "user"}, {"content", "hi"}}, m}); };
    const std::vector<std::pair<Json, std::string>> cases = {
        {body({{"tools", "x"}}), "tools"},
        {body({{"tools", {1}}}), "tools[0]"},
        {body({{"tools", {{{"type", "retrieval"}}}}}), "tools[0].type"},
        {body({{"tools", {{{"type", "function"}, {"function", {{"description", "x"}}}}}}}), "tools[0].function.name"},
        {body({{"tools", {bad_name}}}), "tools[0].function.name"},
        {body({{"tools", two_tools}}), "tools[1].function.name"},
        {body({{"tools", {bad_schema}}}), "tools[0].function.parameters"},
        {body({{"tools", {{{"type", "function"}, {"function", {{"name", "f"}, {"parameters", "x"}}}}}}}),
         "tools[0].function.parameters"},
        {body({{"tool_choice", "always"}}), "tool_choice"},
        {body({{"tool_choice", 3}}), "tool_choice"},
        {body({{"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}}),
         "tool_choice.function.name"},
        {body({{"tool_choice", {{"type", "function"}}}}), "tool_choice.function.name"},
        {body({{"tool_choice", {{"type", "other"}, {"function", {{"name", "get_weather"}}}}}}), "tool_choice.type"},
        {body({{"tools", nullptr}, {"tool_choice", "required"}}), "tool_choice"},
        {body({{"parallel_tool_calls", "yes"}}), "parallel_tool_calls"},
        {body({{"messages", msg({{"role", "tool"}, {"content", "7"}})}}), "messages[1].tool_call_id"},
        {body({{"messages", msg({{"role", "tool"}, {"tool_call_id", 5}, {"content", "7"}})}}),
         "messages[1].tool_call_id"},
        {body({{"messages", msg({{"role", "tool"}, {"tool_call_id", "c"}})}}), "messages[1].content"},
        {body({{"messages", msg({{"role", "user"}, {"content", "x"}, {"tool_calls", Json::array()}})}}),
         "messages[1].tool_calls"},
        {body({{"messages", msg({{"role", "assistant"}, {"tool_calls", "x"}})}}), "messages[1].tool_calls"},
        {body({{"messages", msg({{"role", "assistant"}, {"tool_calls", {{{"type", "function"}}}}})}}),
         "messages[1].tool_calls[0].function"},
        {body({{"messages", msg({{"role", "assistant"}, {"tool_calls", {{{"function", {{"arguments", "{}"}}}}}}})}}),
         "messages[1].tool_calls[0].function.name"},
        {body({{"messages", msg({{"role", "assistant"},
                                 {"tool_calls", {{{"function", {{"name", "f"}, {"arguments", "{bad"}}}}}}})}}),
         "messages[1].tool_calls[0].function.arguments"},
        {body({{"messages", msg({{"role", "assistant"},
                                 {"tool_calls", {{{"function", {{"name", "f"}, {"arguments", "[1]"}}}}}}})}}),
         "messages[1].tool_calls[0].function.arguments"},
        {body({{"messages",
                msg({{"role", "assistant"}, {"tool_calls", {{{"type", "code"}, {"function", {{"name", "f"}}}}}}})}}),
         "messages[1].tool_calls[0].type"},
        {body({{"messages", msg({{"role", "function"}, {"content", "x"}})}}), "messages[1].role"},
        {body({{"functions", {{{"name", "f"}}}}}), "functions"},
        {body({{"reasoning_effort", "max"}}), "reasoning_effort"},
        {body({{"reasoning", {{"effort", 3}}}}), "reasoning.effort"},
        {body({{"reasoning", "high"}}), "reasoning"},
        {body({{"reasoning_effort", "low"}, {"reasoning", {{"effort", "high"}}}}), "reasoning.effort"},
        {body({{"continue_final_message", true}, {"add_generation_prompt", true}}), "continue_final_message"},
        {body({{"continue_final_message", "yes"}}), "continue_final_message"},
        {body({{"n_predict", 0}}), "n_predict"},
        {body({{"n_predict", -2}}), "n_predict"},
        {body({{"n_predict", 5}, {"max_tokens", 5}}), "n_predict"},
    };
    for (const auto& [b, param] : cases) EXPECT_EQ(error_param(b), param) << b.dump();
    // The messages say what is wrong.
    ChatRequest r;
    auto e = parse(body({{"tool_choice", {{"type", "function"}, {"function", {{"name", "nope"}}}}}}), r);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->message, "tool_choice.function.name: no tool is named 'nope'");
    ChatRequest r2;
    e = parse(body({{"tools", {bad_schema}}}), r2);
    ASSERT_TRUE(e);
    EXPECT_NE(e->message.find("pattern"), std::string::npos) << e->message;
}

TEST(ServerToolRequest, GenerationSwitches) {
    ChatRequest r;
    ASSERT_FALSE(parse(body({{"continue_final_message", true},
                             {"messages",
                              {{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", "Once"}}}}}),
                       r));
    EXPECT_TRUE(r.continue_final_message);
    EXPECT_FALSE(r.add_generation_prompt);  // continuing the last message opens no new turn
    ChatRequest n;
    ASSERT_FALSE(parse(body({{"n_predict", 7}}), n));
    EXPECT_EQ(n.gen.max_tokens, 7);
    ChatRequest unlimited;
    ASSERT_FALSE(parse(body({{"n_predict", -1}}), unlimited));
    EXPECT_EQ(unlimited.gen.max_tokens, -1);
    CompletionRequest c;
    ASSERT_FALSE(parse_completion_request({{"prompt", "x"}, {"n_predict", 3}}, limits(), c));
    EXPECT_EQ(c.gen.max_tokens, 3);
    CompletionRequest with_tools;
    EXPECT_TRUE(parse_completion_request({{"prompt", "x"}, {"tools", {weather_tool()}}}, limits(), with_tools));
    ChatRequest e;
    ASSERT_FALSE(parse(body({{"reasoning_effort", "minimal"}}), e));
    EXPECT_EQ(e.reasoning_effort, "minimal");
}

}  // namespace
}  // namespace loom::server
