// Tools through the chat endpoint on a random-weight model: the prompt gets the tools and the history's calls as
// apply_chat_template passes them (checked against the templates rendered directly), and tool_choice "required"
// or a named function always yields a call that parses, names an offered tool and has arguments valid against
// its schema, over several seeds and call syntaxes.
#include <httplib.h>
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <sstream>

#include "runtime/model.h"
#include "runtime/session.h"
#include "server/metrics.h"
#include "server/routes.h"
#include "server/scheduler.h"
#include "server/served_model.h"
#include "unit/grammar/schema_validator.h"
#include "unit/test_env.h"

namespace loom::server {
namespace {

using OJson = nlohmann::ordered_json;

std::string read_template(const std::string& file) {
    std::ifstream in(test::data_dir() + "/chat_templates/templates/" + file, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The synthetic model's context. Its vocabulary has 1000 tokens, so templates with long tool instructions make
// prompts of up to ~3000 tokens: the rendering test checks the text only, with a context that lets them be.
constexpr int64_t kContext = 2048;

ServedModel served(const std::string& template_file, int64_t n_ctx = kContext) {
    auto m = runtime::Model::load(test::synth_model("llama", "q8_0"));
    EXPECT_TRUE(m.ok()) << m.error().message();
    auto s = ServedModel::create(std::move(m).value(), "m", n_ctx, read_template(template_file));
    EXPECT_TRUE(s.ok()) << s.error().message();
    return std::move(s).value();
}

const OJson& conversations() {
    static const OJson c = [] {
        std::ifstream in(test::data_dir() + "/chat_templates/conversations.json");
        return OJson::parse(in);
    }();
    return c;
}

// The recorded "tool_call" conversation as an OpenAI client sends it (arguments as JSON text), as body text.
std::string openai_request(const OJson& conv) {
    OJson messages = conv["messages"];
    for (OJson& m : messages)
        if (m.contains("tool_calls"))
            for (OJson& c : m["tool_calls"]) c["function"]["arguments"] = c["function"]["arguments"].dump();
    return OJson{{"messages", messages}, {"tools", conv["tools"]}}.dump();
}

TEST(ServerTools, PromptsGetToolsAsApplyChatTemplatePassesThem) {
    for (const char* file :
         {"Qwen-Qwen2.5-7B-Instruct.jinja", "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
          "meta-llama-Llama-3.1-8B-Instruct.jinja", "Mistral-Small-3.2-24B-Instruct-2506.jinja",
          "deepseek-ai-DeepSeek-V3.1.jinja", "google-gemma-4-31B-it.jinja", "Qwen-Qwen3-0.6B.jinja"}) {
        ServedModel m = served(file, 1 << 16);
        // The recorded conversation with a call id of 9 letters and digits, which Mistral's templates demand.
        const OJson conv =
            OJson::parse(std::regex_replace(conversations()["tool_call"].dump(), std::regex("call_1"), "abc123xyz"));
        ChatRequest r;
        const std::string raw = openai_request(conv);  // the server reads the raw text for the tools' key order
        auto e = parse_chat_request(Json::parse(raw), m.limits(1), r, raw);
        ASSERT_FALSE(e) << e->message;
        std::string text;
        std::vector<int32_t> ids;
        auto pe = m.chat_prompt(r, text, ids);
        ASSERT_FALSE(pe) << file << ": " << pe->message;
        auto want = m.chat_template->render(
            tokenizer::chat_context(*m.vocab, conv["messages"], true, conv["tools"], OJson::object()));
        ASSERT_TRUE(want.ok()) << file << ": " << want.error().message();
        EXPECT_EQ(text, *want) << file;
    }
}

TEST(ServerTools, ReasoningEffortAndContinuationReachTheTemplate) {
    ServedModel m = served("Qwen-Qwen3-0.6B.jinja");
    auto prompt = [&](Json extra) {
        Json b = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}};
        for (auto& [k, v] : extra.items()) b[k] = v;
        ChatRequest r;
        auto e = parse_chat_request(b, m.limits(1), r);
        EXPECT_FALSE(e) << e->message;
        std::string text;
        std::vector<int32_t> ids;
        auto pe = m.chat_prompt(r, text, ids);
        EXPECT_FALSE(pe) << pe->message;
        return text;
    };
    const std::string off = "<think>\n\n</think>";  // Qwen 3's enable_thinking=false writes an empty block
    EXPECT_EQ(prompt({}).find(off), std::string::npos);
    EXPECT_NE(prompt({{"reasoning_effort", "none"}}).find(off), std::string::npos);
    EXPECT_NE(prompt({{"reasoning", {{"effort", "minimal"}}}}).find(off), std::string::npos);
    EXPECT_EQ(prompt({{"reasoning_effort", "high"}}).find(off), std::string::npos);
    // chat_template_kwargs win over the effort.
    EXPECT_EQ(prompt({{"reasoning_effort", "none"}, {"chat_template_kwargs", {{"enable_thinking", true}}}}).find(off),
              std::string::npos);
    const std::string cont = prompt(
        {{"messages", {{{"role", "user"}, {"content", "hi"}}, {{"role", "assistant"}, {"content", "Once upon"}}}},
         {"continue_final_message", true}});
    EXPECT_EQ(cont.substr(cont.size() - 9), "Once upon") << cont;
}

struct Harness {
    ServedModel model;
    std::unique_ptr<runtime::Session> session;
    std::unique_ptr<Scheduler> scheduler;
    Metrics metrics;
    std::unique_ptr<Api> api;

    explicit Harness(const std::string& template_file) : model(served(template_file)) {
        runtime::SessionOptions so;
        so.n_threads = 1;
        so.n_ctx = kContext;
        so.n_seq = 2;
        auto s = runtime::Session::create(*model.model, so);
        EXPECT_TRUE(s.ok()) << s.error().message();
        session = std::move(s).value();
        scheduler = std::make_unique<Scheduler>(*session, *model.vocab, SchedulerOptions{2, 16, 512}, &metrics);
        api = std::make_unique<Api>(model, *scheduler, metrics);
    }

    Json chat(const Json& body, int& status) {
        httplib::Request req;
        req.body = body.dump();
        httplib::Response res;
        api->chat_completions(req, res);
        status = res.status == -1 ? 200 : res.status;  // the HTTP layer fills in 200; errors set theirs
        return Json::parse(res.body);
    }
};

const Json& tools() {
    static const Json t = Json::parse(R"([
        {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
         "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 12},
           "unit": {"enum": ["celsius", "fahrenheit"]}}, "required": ["city"], "additionalProperties": false}}},
        {"type": "function", "function": {"name": "add", "description": "Add two integers",
         "parameters": {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
           "required": ["a", "b"], "additionalProperties": false}}}])");
    return t;
}

// Every call of a choice names an offered tool (`only`, when given) with arguments valid against its schema.
void expect_valid_calls(const Json& choice, const std::string& only, const std::string& what) {
    EXPECT_EQ(choice["finish_reason"], "tool_calls") << what << choice.dump();
    const Json& calls = choice["message"]["tool_calls"];
    ASSERT_TRUE(calls.is_array() && !calls.empty()) << what << choice.dump();
    for (const Json& c : calls) {
        EXPECT_EQ(c["type"], "function");
        EXPECT_EQ(c["id"].get<std::string>().rfind("call_", 0) == 0 || c["id"].get<std::string>().size() == 9, true);
        const std::string name = c["function"]["name"];
        if (!only.empty()) EXPECT_EQ(name, only) << what;
        const OJson args = OJson::parse(c["function"]["arguments"].get<std::string>());
        bool found = false;
        for (const Json& t : tools()) {
            if (t["function"]["name"] != name) continue;
            found = true;
            const OJson schema = OJson::parse(t["function"]["parameters"].dump());
            EXPECT_EQ(grammar::testing::validate(args, schema, schema), "") << what << args.dump();
        }
        EXPECT_TRUE(found) << what << name;
    }
}

TEST(ServerTools, RequiredAndNamedChoicesAlwaysCall) {
    for (const char* file : {"Qwen-Qwen2.5-7B-Instruct.jinja", "meta-llama-Llama-3.1-8B-Instruct.jinja",
                             "Mistral-Small-3.2-24B-Instruct-2506.jinja", "mistralai-Mistral-Nemo-Instruct-2407.jinja",
                             "deepseek-ai-DeepSeek-V3.1.jinja", "google-gemma-4-31B-it.jinja"}) {
        Harness h(file);
        // Llama 3.1's template writes the tools as indented JSON: with both, the prompt outgrows the context.
        const Json offered =
            std::string(file).find("Llama-3.1") != std::string::npos ? Json::array({tools()[1]}) : tools();
        for (int seed = 1; seed <= 3; ++seed) {
            // A short system message: some templates' default one is long.
            Json body = {{"messages",
                          {{{"role", "system"}, {"content", "Use the tools."}},
                           {{"role", "user"}, {"content", "What is the weather in Bern?"}}}},
                         {"tools", offered},
                         {"temperature", 1.5},
                         {"seed", seed},
                         {"max_tokens", 400}};
            body["tool_choice"] = "required";
            body["parallel_tool_calls"] = false;  // a random model would go on calling until max_tokens
            int status = 0;
            Json r = h.chat(body, status);
            const std::string what = fmt::format("{} seed {} required: ", file, seed);
            ASSERT_EQ(status, 200) << what << r.dump();
            expect_valid_calls(r["choices"][0], "", what);
            EXPECT_EQ(r["choices"][0]["message"]["tool_calls"].size(), 1u) << what;
            EXPECT_TRUE(r["choices"][0]["message"]["content"].is_null()) << what;
            body["tool_choice"] = {{"type", "function"}, {"function", {{"name", "add"}}}};
            r = h.chat(body, status);
            ASSERT_EQ(status, 200) << what << r.dump();
            expect_valid_calls(r["choices"][0], "add", what + "named: ");
            EXPECT_EQ(r["choices"][0]["message"]["tool_calls"].size(), 1u) << what;
        }
        // Parallel calls: every complete call is read; a call cut by max_tokens stays content (a random model
        // rarely ends its list of calls, so this mostly checks the calls before the cut).
        Json body = {{"messages",
                      {{{"role", "system"}, {"content", "Use the tools."}},
                       {{"role", "user"}, {"content", "Weather?"}}}},
                     {"tools", offered},
                     {"tool_choice", "required"},
                     {"temperature", 1.5},
                     {"seed", 9},
                     {"max_tokens", 120}};
        int status = 0;
        Json r = h.chat(body, status);
        ASSERT_EQ(status, 200) << file << r.dump();
        const Json& choice = r["choices"][0];
        if (choice["finish_reason"] == "length") {  // a list of calls cut short has no complete call
            if (choice["message"].contains("tool_calls")) {
                Json whole = choice;
                whole["finish_reason"] = "tool_calls";
                expect_valid_calls(whole, "", std::string(file) + " parallel: ");
            }
        } else {
            expect_valid_calls(choice, "", std::string(file) + " parallel: ");
        }
    }
}

TEST(ServerTools, ChoicesTheTemplateCannotHonourAre400s) {
    Harness gemma3("google-gemma-3-it.jinja");  // renders no tools and has no call syntax
    Json body = {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"tools", tools()}, {"max_tokens", 4}};
    body["tool_choice"] = "required";
    int status = 0;
    Json r = gemma3.chat(body, status);
    EXPECT_EQ(status, 400);
    EXPECT_EQ(r["error"]["param"], "tool_choice");
    body["tool_choice"] = "auto";  // allowed: the reply is plain content
    r = gemma3.chat(body, status);
    EXPECT_EQ(status, 200) << r.dump();
    EXPECT_FALSE(r["choices"][0]["message"].contains("tool_calls"));

    Harness qwen("Qwen-Qwen2.5-7B-Instruct.jinja");
    body["tool_choice"] = "required";
    body["response_format"] = {{"type", "json_object"}};
    r = qwen.chat(body, status);
    EXPECT_EQ(status, 400);
    EXPECT_EQ(r["error"]["param"], "tool_choice");
}

}  // namespace
}  // namespace loom::server
