// The tool-call format table against the real templates: which syntax each template gets, that the parser reads
// the calls the templates themselves write (the recorded renderings of a tool-call conversation), and that the
// grammars forcing a call accept exactly the calls of the allowed tools with valid arguments.
#include "server/tool_format.h"

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>

#include "server/tool_parser.h"
#include "unit/grammar/grammar_testing.h"
#include "unit/test_env.h"
#include "unit/tokenizer/gz_lines.h"

namespace loom::server {
namespace {

using OJson = nlohmann::ordered_json;

std::string templates_dir() { return test::data_dir() + "/chat_templates"; }

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string detected(const std::string& template_file) {
    const ToolFormat* f = detect_tool_format(read_file(templates_dir() + "/templates/" + template_file));
    return f ? f->name : "";
}

TEST(ToolFormat, DetectedFromTheTemplateText) {
    const std::map<std::string, std::string> want = {
        {"Qwen-Qwen2.5-7B-Instruct.jinja", "<tool_call> json"},
        {"Qwen-Qwen3-0.6B.jinja", "<tool_call> json"},
        {"NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja", "<tool_call> json"},
        {"NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja", "<tool_call> json"},
        {"meta-llama-Llama-3.1-8B-Instruct.jinja", "bare json with parameters"},
        {"meta-llama-Llama-3.2-3B-Instruct.jinja", "bare json with parameters"},
        {"meta-llama-Llama-3.3-70B-Instruct.jinja", "bare json with parameters"},
        {"mistralai-Mistral-Nemo-Instruct-2407.jinja", "[TOOL_CALLS] json list"},
        {"Mistral-Small-3.2-24B-Instruct-2506.jinja", "name [ARGS] json"},
        {"unsloth-mistral-Devstral-Small-2507.jinja", "name [ARGS] json"},
        {"deepseek-ai-DeepSeek-V3.1.jinja", "json in tool▁call markers"},
        {"deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", "fenced json in tool▁call markers"},
        {"google-gemma-4-31B-it.jinja", "call:name{key:value}"},
        {"ggml-vocab-gemma-4.jinja", "call:name{key:value}"},
        // Syntaxes not read, and templates without tools.
        {"Qwen3-Coder.jinja", ""},
        {"Qwen3.5-4B.jinja", ""},
        {"GLM-4.6.jinja", ""},
        {"moonshotai-Kimi-K2.jinja", ""},
        {"CohereForAI-c4ai-command-r-plus-tool_use.jinja", ""},
        {"google-gemma-3-it.jinja", ""},
        {"MiniMax-M3.jinja", ""},
        {"muse-glimmer.jinja", ""},
        {"microsoft-Phi-3.5-mini-instruct.jinja", ""},
    };
    for (const auto& [file, name] : want) EXPECT_EQ(detected(file), name) << file;
}

// The marker a call of format f starts with in a rendered conversation.
std::string call_marker(const ToolFormat& f) {
    if (*f.section_open) return f.section_open;
    if (*f.call_open) return f.call_open;
    return "{\"name\"";
}

TEST(ToolFormat, ReadsTheCallsTheTemplatesWrite) {
    // The "tool_call" conversation has the assistant call add(a=3, b=4); every template with a syntax that renders
    // it must render something the parser reads back as that call. The marker may appear earlier in the
    // template's instructions (an example of the syntax), so each occurrence is tried.
    int n_read = 0;
    for (const std::string& line : tokenizer::read_gz_lines(templates_dir() + "/cases.jsonl.gz")) {
        const OJson c = OJson::parse(line);
        if (c["conversation"] != "tool_call" || c.contains("error")) continue;
        const std::string file = c["template"];
        const ToolFormat* f = detect_tool_format(read_file(templates_dir() + "/templates/" + file));
        // This template writes nothing for an assistant turn whose content is empty, calls or not.
        if (!f || file == "deepseek-ai-DeepSeek-R1-Distill-Llama-8B.jinja") continue;
        const std::string text = c["expected"];
        const std::string marker = call_marker(*f);
        bool found = false;
        for (size_t at = text.find(marker); at != std::string::npos && !found; at = text.find(marker, at + 1)) {
            ToolCallParser::Out o = parse_tool_calls(*f, std::string_view(text).substr(at));
            found = !o.calls.empty() && o.calls[0].name == "add" &&
                    nlohmann::json::parse(o.calls[0].arguments) == nlohmann::json::parse(R"({"a": 3, "b": 4})");
        }
        EXPECT_TRUE(found) << file << " (" << f->name << "): no readable call in " << text;
        n_read += found;
    }
    EXPECT_GE(n_read, 10);  // most tool templates render this conversation
}

std::vector<ToolDef> test_tools() {
    return {{"get_weather", OJson::parse(R"({"type": "object", "properties": {"city": {"type": "string"},
              "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city"], "additionalProperties": false})")},
            {"add", OJson::parse(R"({"type": "object", "properties": {"a": {"type": "integer"},
              "b": {"type": "integer"}}, "required": ["a", "b"], "additionalProperties": false})")}};
}

const ToolFormat& by_name(std::string_view name) {
    for (const ToolFormat& f : tool_formats())
        if (f.name == name) return f;
    ADD_FAILURE() << name;
    return tool_formats().front();
}

bool accepts(const grammar::Grammar& g, std::string_view text) {
    grammar::Automaton a(g);
    return grammar::testing::full_match(a, text);
}

TEST(ToolFormat, GrammarsForceValidCalls) {
    struct Case {
        const char* format;
        const char* one;       // a valid call of get_weather
        const char* two;       // two valid calls
        const char* bad_args;  // get_weather without its required city
        const char* bad_name;  // a tool not offered
    };
    const Case cases[] = {
        {"<tool_call> json",
         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>",
         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>\n<tool_call>\n"
         "{\"name\": \"add\", \"arguments\": {\"a\": 1, \"b\": 2}}\n</tool_call>",
         "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"unit\": \"celsius\"}}\n</tool_call>",
         "<tool_call>\n{\"name\": \"rm\", \"arguments\": {}}\n</tool_call>"},
        {"bare json with parameters", "{\"name\": \"get_weather\", \"parameters\": {\"city\": \"Paris\"}}", nullptr,
         "{\"name\": \"get_weather\", \"parameters\": {}}", "{\"name\": \"rm\", \"parameters\": {}}"},
        {"[TOOL_CALLS] json list", "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}]",
         "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {\"city\": \"P\"}}, {\"name\": \"add\", "
         "\"arguments\": {\"a\": 1, \"b\": 2}}]",
         "[TOOL_CALLS][{\"name\": \"get_weather\", \"arguments\": {}}]",
         "[TOOL_CALLS][{\"name\": \"rm\", \"arguments\": {}}]"},
        {"name [ARGS] json", "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}",
         "[TOOL_CALLS]get_weather[ARGS]{\"city\": \"Paris\"}[TOOL_CALLS]add[ARGS]{\"a\": 1, \"b\": 2}",
         "[TOOL_CALLS]get_weather[ARGS]{}", "[TOOL_CALLS]rm[ARGS]{}"},
        {"json in tool▁call markers",
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{\"city\": \"Paris\"}<｜tool▁call▁end｜>"
         "<｜tool▁calls▁end｜>",
         nullptr,
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>get_weather<｜tool▁sep｜>{}<｜tool▁call▁end｜><"
         "｜tool▁calls▁end｜>",
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>rm<｜tool▁sep｜>{}<｜tool▁call▁end｜><｜tool▁calls▁end｜>"},
        {"fenced json in tool▁call markers",
         "<｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>get_weather\n```json\n{\"city\": \"P\"}\n```"
         "<｜tool▁call▁end｜><｜tool▁calls▁end｜>",
         nullptr, nullptr, nullptr},
        {"call:name{key:value}", "<|tool_call>call:get_weather{city:<|\"|>Paris<|\"|>}<tool_call|>",
         "<|tool_call>call:get_weather{city:<|\"|>P<|\"|>,unit:<|\"|>celsius<|\"|>}<tool_call|>"
         "<|tool_call>call:add{a:1,b:-2}<tool_call|>",
         "<|tool_call>call:get_weather{unit:<|\"|>celsius<|\"|>}<tool_call|>", "<|tool_call>call:rm{}<tool_call|>"},
    };
    for (const Case& c : cases) {
        const ToolFormat& f = by_name(c.format);
        auto single = call_grammar(f, test_tools(), /*parallel=*/false);
        auto parallel = call_grammar(f, test_tools(), /*parallel=*/true);
        ASSERT_TRUE(single.ok() && parallel.ok()) << c.format;
        EXPECT_TRUE(accepts(**single, c.one)) << c.format;
        EXPECT_TRUE(accepts(**parallel, c.one)) << c.format;
        // What the grammar admits, the parser reads.
        ToolCallParser::Out o = parse_tool_calls(f, c.one);
        ASSERT_EQ(o.calls.size(), 1u) << c.format;
        EXPECT_EQ(o.calls[0].name, "get_weather");
        EXPECT_EQ(o.content, "");
        if (c.two) {
            EXPECT_TRUE(accepts(**parallel, c.two)) << c.format;
            EXPECT_FALSE(accepts(**single, c.two)) << c.format;
            EXPECT_EQ(parse_tool_calls(f, c.two).calls.size(), 2u) << c.format;
        }
        if (c.bad_args) EXPECT_FALSE(accepts(**parallel, c.bad_args)) << c.format;
        if (c.bad_name) EXPECT_FALSE(accepts(**parallel, c.bad_name)) << c.format;
        // A named choice: only that tool.
        auto named = call_grammar(f, {test_tools()[1]}, false);
        ASSERT_TRUE(named.ok());
        EXPECT_FALSE(accepts(**named, c.one)) << c.format;
    }
    // A prefix (the close of a thinking block the prompt opened) comes first.
    auto after = call_grammar(by_name("<tool_call> json"), test_tools(), false, "</think>\n\n");
    ASSERT_TRUE(after.ok());
    EXPECT_TRUE(accepts(**after, std::string("</think>\n\n") + cases[0].one));
    EXPECT_FALSE(accepts(**after, cases[0].one));
}

// Key:value calls: strings between quote tokens, bare keys, no whitespace; what JSON would write is refused.
TEST(ToolFormat, KeyValueCallsAreForcedInTheirOwnSyntax) {
    const ToolFormat& f = by_name("call:name{key:value}");
    auto g = call_grammar(f, test_tools(), false);
    ASSERT_TRUE(g.ok()) << g.error().message();
    EXPECT_FALSE(accepts(**g, "<|tool_call>call:get_weather{\"city\":\"Paris\"}<tool_call|>"));
    EXPECT_FALSE(accepts(**g, "<|tool_call>call:get_weather{city: <|\"|>Paris<|\"|>}<tool_call|>"));
    EXPECT_FALSE(accepts(**g,
                         "<|tool_call>call:get_weather{city:<|\"|>kelvin<|\"|>,unit:<|\"|>kelvin<|\"|>}"
                         "<tool_call|>"));
    const std::vector<ToolDef> nested = {{"plan", OJson::parse(R"({"type": "object", "properties": {
        "steps": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "number",
        "minimum": 0}, "note text": {"type": "string"}}, "required": ["n"]}, "maxItems": 3},
        "when": {"type": "string", "format": "date"}}, "required": ["steps"]})")}};
    auto n = call_grammar(f, nested, false);
    ASSERT_TRUE(n.ok()) << n.error().message();
    const std::string call =
        "<|tool_call>call:plan{steps:[{n:1.5,<|\"|>note text<|\"|>:<|\"|>a, b: {c}<|\"|>},{n:0}],"
        "when:<|\"|>2026-12-07<|\"|>}<tool_call|>";
    EXPECT_TRUE(accepts(**n, call));
    ToolCallParser::Out o = parse_tool_calls(f, call);
    ASSERT_EQ(o.calls.size(), 1u);
    EXPECT_EQ(OJson::parse(o.calls[0].arguments),
              OJson::parse(R"({"steps": [{"n": 1.5, "note text": "a, b: {c}"}, {"n": 0}], "when": "2026-12-07"})"));
    auto pattern = call_grammar(
        f, {{"p", OJson::parse(R"({"type": "object", "properties": {"x": {"type": "string", "pattern": "a"}}})")}},
        false);
    ASSERT_FALSE(pattern.ok());
    EXPECT_NE(pattern.error().message().find("keyword 'pattern' at /properties/x is not supported in key:value calls"),
              std::string::npos)
        << pattern.error().message();
}

TEST(ToolFormat, PrefixedRulesLeaveLiteralsAlone) {
    EXPECT_EQ(prefix_gbnf_rules("root ::= a \"b c\" [d-e] x{2,3} # f g\na ::= \"\\\"q\" | [\\]z]\n", "t-"),
              "t-root ::= t-a \"b c\" [d-e] t-x{2,3} # f g\nt-a ::= \"\\\"q\" | [\\]z]\n");
}

}  // namespace
}  // namespace loom::server
