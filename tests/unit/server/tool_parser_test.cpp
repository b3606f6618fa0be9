// Tool calls read out of replies in every syntax of the format table: whole, split at every byte, fed one byte at a
// time; malformed calls stay content; text before a call stays content.
#include "server/tool_parser.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace loom::server {
namespace {

const ToolFormat& format(std::string_view name) {
    for (const ToolFormat& f : tool_formats())
        if (f.name == name) return f;
    ADD_FAILURE() << "no format " << name;
    return tool_formats().front();
}

// A reply's reading without the random ids: content, then name(arguments) per call.
std::string summary(const ToolCallParser::Out& o) {
    std::string s = "content=" + o.content;
    for (const ToolCall& c : o.calls) s += " | " + c.name + nlohmann::json::parse(c.arguments).dump();
    return s;
}

ToolCallParser::Out merged(std::vector<ToolCallParser::Out> parts) {
    ToolCallParser::Out all;
    for (auto& p : parts) {
        all.content += p.content;
        for (auto& c : p.calls) all.calls.push_back(std::move(c));
    }
    return all;
}

// Whole, split in two at every byte, and byte by byte: the same reading each time.
std::string read_every_way(const ToolFormat& f, std::string_view text) {
    std::string whole = summary(parse_tool_calls(f, text));
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        ToolCallParser p(f);
        auto a = p.feed(text.substr(0, cut));
        auto b = p.feed(text.substr(cut));
        EXPECT_EQ(summary(merged({a, b, p.flush()})), whole) << f.name << " cut at " << cut << ": " << text;
    }
    ToolCallParser p(f);
    std::vector<ToolCallParser::Out> parts;
    for (char c : text) parts.push_back(p.feed(std::string_view(&c, 1)));
    parts.push_back(p.flush());
    EXPECT_EQ(summary(merged(parts)), whole) << f.name << " byte by byte: " << text;
    return whole;
}

struct Case {
    const char* format;
    const char* reply;
    const char* want;
};

TEST(ToolCallParser, ReadsEverySyntax) {
    const Case cases[] = {
        {"<tool_call> json",
         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Zürich\"}}\n</tool_call>",
         "content= | get_weather{\"city\":\"Zürich\"}"},
        {"<tool_call> json",
         "Let me check.\n<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 3, \"b\": 4}}\n</tool_call>\n"
         "<tool_call>\n{\"name\": \"add\", \"arguments\": \"{\\\"a\\\": 1}\"}\n</tool_call>",
         "content=Let me check.\n | add{\"a\":3,\"b\":4} | add{\"a\":1}"},
        {"bare json with parameters", "{\"name\": \"add\", \"parameters\": {\"a\": 3, \"b\": 4}}",
         "content= | add{\"a\":3,\"b\":4}"},
        {"bare json with parameters", "<|python_tag|>{\"name\": \"add\", \"parameters\": {\"a\": 1}}",
         "content= | add{\"a\":1}"},
        {"bare json with parameters", "  {\"name\": \"f\", \"parameters\": {}}; {\"name\": \"g\", \"parameters\": {}}",
         "content=   | f{} | g{}"},
        {"bare json with parameters", "The answer is {\"name\": 1}.", "content=The answer is {\"name\": 1}."},
        {"[TOOL_CALLS] json list",
         "[TOOL_CALLS][{\"name\": \"add\", \"arguments\": {\"a\": 3}, \"id\": \"abcdefghi\"}, {\"name\": \"f\", "
         "\"arguments\": {}}]",
         "content= | add{\"a\":3} | f{}"},
        {"name [ARGS] json", "[TOOL_CALLS]add[ARGS]{\"a\": 3, \"b\": 4}[TOOL_CALLS]f[ARGS]{}",
         "content= | add{\"a\":3,\"b\":4} | f{}"},
        {"json in tool▁call markers",
         "Sure.<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>add<｜tool▁sep｜>{\"a\": 3}<｜tool▁call▁end｜>"
         "<｜tool▁call▁begin｜>f<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
         "content=Sure. | add{\"a\":3} | f{}"},
        {"fenced json in tool▁call markers",
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>add\n```json\n{\"a\": 3}\n```"
         "<｜tool▁call▁end｜>\n<｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{}\n```<｜tool▁call▁end｜>"
         "<｜tool▁calls▁end｜>",
         "content= | add{\"a\":3} | f{}"},
        {"call:name{key:value}",
         "<|tool_call>call:get_weather{city:<|\"|>Paris, \"FR\"<|\"|>,days:3,opts:{metric:true,tags:[<|\"|>a<|\"|>,2]}}"
         "<tool_call|>",
         "content= | get_weather{\"city\":\"Paris, "
         "\\\"FR\\\"\",\"days\":3,\"opts\":{\"metric\":true,\"tags\":[\"a\",2]}}"},
    };
    for (const Case& c : cases) EXPECT_EQ(read_every_way(format(c.format), c.reply), c.want) << c.reply;
}

TEST(ToolCallParser, MalformedCallsStayContent) {
    const Case cases[] = {
        {"<tool_call> json", "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": }\n</tool_call>", nullptr},
        {"<tool_call> json", "<tool_call>\n{\"arguments\": {}}\n</tool_call>", nullptr},
        {"<tool_call> json", "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1}} oops", nullptr},
        {"<tool_call> json", "<tool_call>not json at all", nullptr},
        {"<tool_call> json", "<tool_call>\n{\"name\": \"add\", \"arguments\": {\"a\": 1", nullptr},  // cut short
        {"<tool_call> json", "a <tool_ca", nullptr},
        {"bare json with parameters", "{\"name\": \"add\", \"parameters\": [1]}", nullptr},
        {"[TOOL_CALLS] json list", "[TOOL_CALLS][{\"name\": 3}]", nullptr},
        {"name [ARGS] json", "[TOOL_CALLS]add[ARGS]nope", nullptr},
        {"name [ARGS] json", "[TOOL_CALLS]a very long\nname", nullptr},
        {"json in tool▁call markers", "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>add<｜tool▁sep｜>{\"a\"", nullptr},
        {"call:name{key:value}", "<|tool_call>call:f{a:<|\"|>x}<tool_call|>", nullptr},
        {"call:name{key:value}", "<|tool_call>call:f{a:nope}<tool_call|>", nullptr},
    };
    for (const Case& c : cases) EXPECT_EQ(read_every_way(format(c.format), c.reply), std::string("content=") + c.reply);
}

TEST(ToolCallParser, AGoodCallAfterABadOneIsRead) {
    const std::string reply =
        "<tool_call>{bad}</tool_call> then <tool_call>{\"name\": \"f\", \"arguments\": {}}</tool_call> done";
    EXPECT_EQ(read_every_way(format("<tool_call> json"), reply),
              "content=<tool_call>{bad}</tool_call> then done | f{}");
}

TEST(ToolCallParser, IdsFollowTheFormat) {
    auto hermes = parse_tool_calls(format("<tool_call> json"), "<tool_call>{\"name\": \"f\"}</tool_call>");
    ASSERT_EQ(hermes.calls.size(), 1u);
    EXPECT_EQ(hermes.calls[0].id.rfind("call_", 0), 0u);
    EXPECT_EQ(hermes.calls[0].id.size(), 29u);
    EXPECT_EQ(hermes.calls[0].arguments, "{}");  // no arguments: an empty object
    auto list =
        parse_tool_calls(format("[TOOL_CALLS] json list"), "[TOOL_CALLS][{\"name\": \"f\", \"arguments\": {}}]");
    ASSERT_EQ(list.calls.size(), 1u);
    EXPECT_EQ(list.calls[0].id.size(), 9u);  // the template checks for 9 letters and digits
    auto other = parse_tool_calls(format("<tool_call> json"),
                                  "<tool_call>{\"name\": \"f\"}</tool_call><tool_call>{\"name\": \"f\"}</tool_call>");
    ASSERT_EQ(other.calls.size(), 2u);
    EXPECT_NE(other.calls[0].id, other.calls[1].id);
}

TEST(ToolCallParser, ContentStreamsBeforeTheCallIsDecided) {
    ToolCallParser p(format("<tool_call> json"));
    EXPECT_EQ(p.feed("Hello <tool").content, "Hello ");  // the marker's start is held
    EXPECT_EQ(p.feed("box> world").content, "<toolbox> world");
    auto a = p.feed("<tool_call>{\"name\": \"f\", \"arguments\": {\"x\": 1}}");
    EXPECT_EQ(a.content, "");
    EXPECT_TRUE(a.calls.empty());  // no closing marker yet
    auto b = p.feed("</tool_call>");
    ASSERT_EQ(b.calls.size(), 1u);
    EXPECT_EQ(b.calls[0].arguments, "{\"x\":1}");
    EXPECT_EQ(p.flush().content, "");
}

}  // namespace
}  // namespace loom::server
