// loom chat: the conversation keeps its KV across turns (a turn prefills only what is new, and the reply is the
// one a fresh prefill gives), /save and /load, piped mode end to end through the binary, clear errors for bad
// input, and the interactive mode driven through a pseudo-terminal.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <poll.h>
#include <pty.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <string>

#include "cli/conversation.h"
#include "core/default_model.h"
#include "runtime/model.h"
#include "server/tool_request.h"
#include "unit/test_env.h"

namespace loom::cli {
namespace {

// A template for the synthetic vocabularies (SentencePiece-style, </s> ends a turn).
constexpr const char* kTemplate =
    "{% for m in messages %}<s>{{ m.role }}: {{ m.content }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant:{% endif %}";

std::string write_file(const std::string& name, const std::string& text) {
    std::string path = test::scratch_path("loom-chat-" + name);
    std::ofstream(path, std::ios::binary) << text;
    return path;
}

std::string synth(const std::string& family = "llama") { return test::synth_model(family, "f32"); }

struct Fixture {
    std::unique_ptr<runtime::Model> model;
    std::unique_ptr<Conversation> conv;
};

Fixture make_conversation(const std::string& family = "llama", const std::string& tmpl = kTemplate) {
    Fixture f;
    auto m = runtime::Model::load(synth(family));
    EXPECT_TRUE(m.ok()) << m.error().message();
    f.model = std::move(m).value();
    Conversation::Options o;
    o.session.n_threads = 2;
    o.session.n_ctx = 512;
    o.gen.sampling.temperature = 0;
    o.gen.n_predict = 6;
    o.template_source = tmpl;
    auto c = Conversation::create(*f.model, "synth.gguf", o);
    EXPECT_TRUE(c.ok()) << c.error().message();
    f.conv = std::move(c).value();
    return f;
}

std::string say(Conversation& c, const std::string& user, TurnStats* stats = nullptr) {
    std::string reply;
    auto t = c.say(user, [&](const std::string&, const std::string& content) {
        reply += content;
        return true;
    });
    EXPECT_TRUE(t.ok()) << t.error().message();
    if (stats != nullptr && t.ok()) *stats = *t;
    return reply;
}

TEST(Chat, SecondTurnPrefillsOnlyTheNewTokens) {
    Fixture f = make_conversation();
    TurnStats t1, t2;
    say(*f.conv, "hello there", &t1);
    EXPECT_EQ(t1.n_kept, 0);
    EXPECT_EQ(t1.n_prefilled, t1.n_prompt);
    EXPECT_EQ(t1.n_generated, 6);
    say(*f.conv, "and again", &t2);
    // The second prompt starts with the first prompt (and most of the reply), all of it still in the cache.
    EXPECT_GE(t2.n_kept, t1.n_prompt);
    EXPECT_EQ(t2.n_prefilled, t2.n_prompt - t2.n_kept);
    EXPECT_EQ(t2.n_resets, 0);
    EXPECT_EQ(f.conv->total().n_prefilled, t1.n_prefilled + t2.n_prefilled);
    EXPECT_EQ(f.conv->n_turns(), 2);
    EXPECT_GT(f.conv->n_ctx_used(), t2.n_prompt);
    ASSERT_EQ(f.conv->messages().size(), 4u);
    EXPECT_EQ(f.conv->messages()[3].role, "assistant");
}

TEST(Chat, KeptCacheGivesTheReplyOfAFreshPrefill) {
    Fixture a = make_conversation();
    say(*a.conv, "hello there");
    const std::string saved = write_file("turn1.json", "");
    ASSERT_TRUE(a.conv->save(saved).ok());
    const std::string kept = say(*a.conv, "and again");

    Fixture b = make_conversation();
    ASSERT_TRUE(b.conv->load(saved).ok());
    ASSERT_EQ(b.conv->messages().size(), 2u);
    TurnStats t;
    const std::string fresh = say(*b.conv, "and again", &t);
    EXPECT_EQ(t.n_kept, 0);
    EXPECT_EQ(fresh, kept);
}

// A recurrent state cannot go back to the common prefix: the memory starts over, /stats counts it, and the reply
// is still the one a fresh prefill gives.
TEST(Chat, RecurrentStateStartsOverAndCountsIt) {
    Fixture a = make_conversation("qwen35");
    say(*a.conv, "hello there");
    const int64_t held = a.conv->n_ctx_used();
    const std::string saved = write_file("recurrent.json", "");
    ASSERT_TRUE(a.conv->save(saved).ok());
    TurnStats t;
    const std::string kept = say(*a.conv, "and again", &t);
    if (t.n_resets == 1) {
        EXPECT_EQ(t.n_kept, 0);
        EXPECT_EQ(t.n_prefilled, t.n_prompt);
    } else {
        EXPECT_EQ(t.n_kept, held);  // only the very end can be kept
    }
    EXPECT_EQ(a.conv->total().n_resets, t.n_resets);

    Fixture b = make_conversation("qwen35");
    ASSERT_TRUE(b.conv->load(saved).ok());
    EXPECT_EQ(say(*b.conv, "and again"), kept);
}

// A template that opens a thinking block: the reply, which never closes it, is all reasoning, kept apart from the
// answer (which piped mode prints alone).
TEST(Chat, ThinkingIsKeptApartFromTheAnswer) {
    Fixture f = make_conversation("llama",
                                  "{% for m in messages %}<s>{{ m.role }}: {{ m.content }}</s>\n{% endfor %}"
                                  "{% if add_generation_prompt %}<s>assistant:<think>\n{% endif %}{# </think> #}");
    ASSERT_TRUE(f.conv->thinks());
    std::string reasoning, content;
    auto t = f.conv->say("why?", [&](const std::string& r, const std::string& c) {
        reasoning += r;
        content += c;
        return true;
    });
    ASSERT_TRUE(t.ok()) << t.error().message();
    EXPECT_FALSE(reasoning.empty());
    EXPECT_EQ(content, "");
    EXPECT_EQ(f.conv->messages().back().reasoning, reasoning);
    EXPECT_EQ(f.conv->messages().back().content, "");
}

TEST(Chat, ClearAndSystemPrompt) {
    Fixture f = make_conversation();
    f.conv->set_system("be brief");
    say(*f.conv, "hi");
    f.conv->clear();
    ASSERT_EQ(f.conv->messages().size(), 1u);
    EXPECT_EQ(f.conv->messages()[0].role, "system");
    f.conv->set_system("");
    EXPECT_TRUE(f.conv->messages().empty());
    TurnStats t;
    say(*f.conv, "hi", &t);  // a new conversation: the cache keeps at most what it shares with the old one
    EXPECT_EQ(t.n_prefilled, t.n_prompt - t.n_kept);
}

TEST(Chat, BadConversationFilesSayWhatAndWhere) {
    Fixture f = make_conversation();
    auto msg = [&](const std::string& path) {
        Status st = f.conv->load(path);
        return st.ok() ? std::string("ok") : st.error().message();
    };
    EXPECT_NE(msg("/nonexistent/c.json").find("/nonexistent/c.json: cannot open the conversation"), std::string::npos);
    const std::string not_json = write_file("bad1.json", "{\"messages\": [");
    EXPECT_NE(msg(not_json).find(not_json + ": not JSON"), std::string::npos);
    const std::string bad_role = write_file("bad2.json", R"({"messages": [{"role": "user", "content": "a"},
        {"role": "developer", "content": "b"}]})");
    EXPECT_NE(msg(bad_role).find(bad_role +
                                 ": messages[1]: role 'developer' (expected system, user, assistant or tool)"),
              std::string::npos)
        << msg(bad_role);
    const std::string no_id = write_file("bad4.json", R"([{"role": "tool", "content": "b"}])");
    EXPECT_NE(msg(no_id).find("messages[0]: a tool message needs tool_call_id (a string)"), std::string::npos);
    const std::string bad_calls =
        write_file("bad5.json", R"([{"role": "assistant", "content": null, "tool_calls": [{"id": "x"}]}])");
    EXPECT_NE(msg(bad_calls).find("messages[0]: tool_calls[0]"), std::string::npos) << msg(bad_calls);
    const std::string no_content = write_file("bad3.json", R"([{"role": "user"}])");
    EXPECT_NE(msg(no_content).find("messages[0]: content must be a string"), std::string::npos);
    EXPECT_TRUE(f.conv->messages().empty());  // a failed load changes nothing
}

TEST(Chat, ModelWithoutTemplateIsAClearError) {
    auto m = runtime::Model::load(synth());
    ASSERT_TRUE(m.ok()) << m.error().message();
    auto c = Conversation::create(**m, "synth.gguf", {});
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message().find("synth.gguf: the model has no chat template"), std::string::npos);
    EXPECT_NE(c.error().message().find("--chat-template-file"), std::string::npos);
}

TEST(Chat, ConversationLongerThanTheContextIsRefusedAndNotKept) {
    Fixture f = make_conversation();
    auto t = f.conv->say(std::string(3000, 'x'), [](const std::string&, const std::string&) { return true; });
    ASSERT_FALSE(t.ok());
    EXPECT_NE(t.error().message().find("the context holds 512"), std::string::npos) << t.error().message();
    EXPECT_TRUE(f.conv->messages().empty());
}

// A template for the synthetic vocabularies that shows tools and writes calls as <tool_call>{json}</tool_call>.
constexpr const char* kToolTemplate =
    "{% if tools %}<s>tools: {{ tools | tojson }}</s>\n{% endif %}"
    "{% for m in messages %}<s>{{ m.role }}: {{ m.content }}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>{\"name\": \"{{ c.function.name }}\", "
    "\"arguments\": {{ c.function.arguments | tojson }}}</tool_call>{% endfor %}{% endif %}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant:{% endif %}";

constexpr const char* kWeatherTool = R"([{"type": "function", "function": {"name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 6},
    "days": {"type": "integer", "minimum": 1, "maximum": 7}}, "required": ["city", "days"]}}}])";

server::ToolRequest weather_tools(const std::string& choice) {
    server::ToolRequest r;
    // One call per reply: a second could run past the token budget and stay content.
    const nlohmann::ordered_json body = {{"tools", nlohmann::ordered_json::parse(kWeatherTool)},
                                         {"tool_choice", choice},
                                         {"parallel_tool_calls", false}};
    EXPECT_FALSE(server::parse_tool_request(nlohmann::json::parse(body.dump()), body, r).has_value());
    return r;
}

Result<std::unique_ptr<Conversation>> tool_conversation(const runtime::Model& model, const std::string& choice,
                                                        const std::string& tmpl = kToolTemplate) {
    Conversation::Options o;
    o.session.n_threads = 2;
    o.session.n_ctx = 1024;
    o.gen.sampling.temperature = 0;
    o.gen.n_predict = 120;
    o.template_source = tmpl;
    o.tools = weather_tools(choice);
    return Conversation::create(model, "synth.gguf", o);
}

// tool_choice required: the reply to the message is a call whose arguments fit the tool's schema; its result goes
// back as a tool message, the model's next reply is free, and /save then /load keeps calls and results.
TEST(Chat, ToolCallsAreReadAnsweredAndSaved) {
    auto m = runtime::Model::load(synth());
    ASSERT_TRUE(m.ok()) << m.error().message();
    auto c = tool_conversation(**m, "required");
    ASSERT_TRUE(c.ok()) << c.error().message();
    Conversation& conv = **c;
    ASSERT_TRUE(conv.reads_calls());
    std::string shown = say(conv, "weather in Paris?");
    EXPECT_EQ(shown.find("<tool_call>"), std::string::npos) << "a call is not content: " << shown;
    ASSERT_FALSE(conv.pending_calls().empty()) << shown;
    std::vector<ToolResult> results;
    for (const server::ToolCall& call : conv.pending_calls()) {
        EXPECT_EQ(call.name, "get_weather");
        const auto args = nlohmann::json::parse(call.arguments);
        ASSERT_TRUE(args.contains("city") && args.contains("days")) << call.arguments;
        EXPECT_LE(args["city"].get<std::string>().size(), 6u) << call.arguments;
        EXPECT_GE(args["days"].get<int>(), 1);
        EXPECT_LE(args["days"].get<int>(), 7);
        results.push_back({call.id, call.name, "{\"temp\": 12}"});
    }
    const size_t n_calls = results.size();
    EXPECT_FALSE(conv.answer_calls({}, [](const std::string&, const std::string&) { return true; }).ok());
    auto t = conv.answer_calls(results, [](const std::string&, const std::string&) { return true; });
    ASSERT_TRUE(t.ok()) << t.error().message();
    const auto& msgs = conv.messages();
    ASSERT_EQ(msgs.size(), 3 + n_calls);
    EXPECT_EQ(msgs[1].role, "assistant");
    EXPECT_EQ(msgs[1].tool_calls.size(), n_calls);
    EXPECT_EQ(msgs[2].role, "tool");
    EXPECT_EQ(msgs[2].tool_call_id, msgs[1].tool_calls[0]["id"]);
    EXPECT_EQ(msgs[2].content, "{\"temp\": 12}");

    const std::string file = test::scratch_path("loom-chat-tools.json");
    ASSERT_TRUE(conv.save(file).ok());
    auto again = tool_conversation(**m, "auto");
    ASSERT_TRUE(again.ok());
    ASSERT_TRUE((*again)->load(file).ok());
    ASSERT_EQ((*again)->messages().size(), msgs.size());
    EXPECT_EQ(nlohmann::json::parse((*again)->messages()[1].tool_calls.dump()),
              nlohmann::json::parse(msgs[1].tool_calls.dump()));
    EXPECT_EQ((*again)->messages()[2].tool_call_id, msgs[2].tool_call_id);
}

TEST(Chat, ForcedToolCallsNeedASyntaxLoomEnforces) {
    auto m = runtime::Model::load(synth());
    ASSERT_TRUE(m.ok()) << m.error().message();
    auto c = tool_conversation(**m, "required", kTemplate);
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.error().message(),
              "--tool-choice required: the chat template has no tool-call syntax loom can enforce");
    auto free = tool_conversation(**m, "auto", kTemplate);
    ASSERT_TRUE(free.ok()) << free.error().message();
    EXPECT_FALSE((*free)->reads_calls());
    EXPECT_NE((*free)->tool_warning().find("calls will appear as text"), std::string::npos);
}

// `loom chat` through the binary, stdin piped; stdout and stderr.
test::ShellResult piped(const std::string& input, const std::string& args) {
    const std::string in = write_file("input.txt", input);
    const std::string tmpl = write_file("template.jinja", kTemplate);
    return test::shell(fmt::format("'{}' chat -m '{}' -t 2 -c 512 --temp 0 --chat-template-file '{}' {} < '{}' 2>&1",
                                   LOOM_BINARY, synth(), tmpl, args, in));
}

TEST(ChatPiped, OneReplyPerLineThenStats) {
    const test::ShellResult r = piped("hello\nand again\n/stats\n", "-n 4");
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("context: "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("of 512 tokens"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(", 2 turns"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("0 full prefills"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("\x1b["), std::string::npos) << "no colours when piped";
    EXPECT_EQ(r.out.find("> "), std::string::npos) << "no prompts when piped";
}

TEST(ChatPiped, SaveThenLoadInAnotherRun) {
    const std::string file = test::scratch_path("loom-chat-saved.json");
    const test::ShellResult a = piped("hello\n/save " + file + "\n", "-n 3 --system 'be brief'");
    ASSERT_EQ(a.status, 0) << a.out;
    std::ifstream in(file);
    const std::string json((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_NE(json.find("\"role\": \"system\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"content\": \"hello\""), std::string::npos) << json;
    const test::ShellResult b = piped("/load " + file + "\n/stats\nmore\n/stats\n", "-n 3");
    ASSERT_EQ(b.status, 0) << b.out;
    EXPECT_NE(b.out.find(", 1 turns"), std::string::npos) << b.out;
}

TEST(ChatPiped, BadInputEndsWithAClearError) {
    const test::ShellResult cmd = piped("/frobnicate\n", "-n 2");
    EXPECT_EQ(cmd.status, 1) << cmd.out;
    EXPECT_NE(cmd.out.find("loom: unknown command /frobnicate"), std::string::npos) << cmd.out;
    const test::ShellResult load = piped("/load /nonexistent/x.json\n", "-n 2");
    EXPECT_EQ(load.status, 1) << load.out;
    EXPECT_NE(load.out.find("loom: /nonexistent/x.json: cannot open the conversation"), std::string::npos) << load.out;
    const test::ShellResult sys = piped("hi\n", "--system-file /nonexistent/sys.txt");
    EXPECT_EQ(sys.status, 1) << sys.out;
    EXPECT_NE(sys.out.find("loom: /nonexistent/sys.txt: cannot read the system prompt (--system-file)"),
              std::string::npos)
        << sys.out;
}

TEST(ChatPiped, ToolCallsThenTheirResults) {
    const std::string tools = write_file("tools.json", kWeatherTool);
    const std::string tmpl = write_file("tool-template.jinja", kToolTemplate);
    const std::string in = write_file("tool-input.txt", "weather in Paris?\n{\"temp\": 12}\n/save " +
                                                            test::scratch_path("loom-chat-tool-run.json") + "\n");
    const test::ShellResult r =
        test::shell(fmt::format("'{}' chat -m '{}' -t 2 -c 1024 --temp 0 -n 120 --chat-template-file '{}' --tools '{}' "
                                "--tool-choice get_weather --no-parallel-tool-calls < '{}' 2>&1",
                                LOOM_BINARY, synth(), tmpl, tools, in));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("tool call: get_weather {\"city\":"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("<tool_call>{\"name\": \"get_weather\""), std::string::npos) << r.out;
    std::ifstream saved(test::scratch_path("loom-chat-tool-run.json"));
    const std::string json((std::istreambuf_iterator<char>(saved)), std::istreambuf_iterator<char>());
    EXPECT_NE(json.find("\"role\": \"tool\""), std::string::npos) << json;
    EXPECT_NE(json.find("\"content\": \"{\\\"temp\\\": 12}\""), std::string::npos) << json;
}

// A conversation saved while its last reply's call waited: after /load, the next line is that call's result.
TEST(ChatPiped, LoadedCallsAskForTheirResults) {
    const std::string tools = write_file("tools.json", kWeatherTool);
    const std::string tmpl = write_file("tool-template.jinja", kToolTemplate);
    const std::string saved = write_file("pending.json", R"({"messages": [{"role": "user", "content": "weather?"},
        {"role": "assistant", "content": null, "tool_calls": [{"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Bern\", \"days\": 2}"}}]}]})");
    const std::string in = write_file("load-input.txt", "/load " + saved + "\n{\"temp\": 3}\n/stats\n");
    const test::ShellResult r = test::shell(
        fmt::format("'{}' chat -m '{}' -t 2 -c 1024 --temp 0 -n 8 --chat-template-file '{}' --tools '{}' < '{}' 2>&1",
                    LOOM_BINARY, synth(), tmpl, tools, in));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("tool call: get_weather {\"city\":\"Bern\",\"days\":2}"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(", 1 turns"), std::string::npos)
        << "the result was answered, not sent as a message: " << r.out;
}

TEST(ChatPiped, BadToolFlagsSayWhatAndWhere) {
    const std::string good = write_file("tools-good.json", kWeatherTool);
    const std::string bad_json = write_file("tools-bad.json", "[{");
    const std::string bad_name =
        write_file("tools-name.json", R"([{"type": "function", "function": {"name": "no spaces"}}])");
    const auto run = [&](const std::string& args) { return piped("hi\n", "-n 2 " + args); };
    const test::ShellResult a = run("--tools '" + bad_json + "'");
    EXPECT_EQ(a.status, 1) << a.out;
    EXPECT_NE(a.out.find("loom: --tools " + bad_json + ": not JSON"), std::string::npos) << a.out;
    const test::ShellResult b = run("--tools '" + bad_name + "'");
    EXPECT_EQ(b.status, 1) << b.out;
    EXPECT_NE(b.out.find("loom: --tools " + bad_name + ": tools[0].function.name: must be a string"), std::string::npos)
        << b.out;
    const test::ShellResult c = run("--tools '" + good + "' --tool-choice nope");
    EXPECT_EQ(c.status, 1) << c.out;
    EXPECT_NE(c.out.find("loom: --tool-choice nope: tool_choice.function.name: no tool is named 'nope'"),
              std::string::npos)
        << c.out;
    const test::ShellResult d = run("--tool-choice required");
    EXPECT_EQ(d.status, 1) << d.out;
    EXPECT_NE(d.out.find("loom: --tool-choice required: give the tools with --tools"), std::string::npos) << d.out;
    const test::ShellResult e = run("--tools /nonexistent/tools.json");
    EXPECT_EQ(e.status, 1) << e.out;
    EXPECT_NE(e.out.find("/nonexistent/tools.json: cannot read the tool definitions (--tools)"), std::string::npos)
        << e.out;
}

TEST(ChatPiped, NoTemplateNamesTheModel) {
    const std::string in = write_file("hi.txt", "hi\n");
    const test::ShellResult r =
        test::shell(fmt::format("'{}' chat -m '{}' -t 2 < '{}' 2>&1", LOOM_BINARY, synth(), in));
    EXPECT_EQ(r.status, 1) << r.out;
    EXPECT_NE(r.out.find(synth() + ": the model has no chat template"), std::string::npos) << r.out;
}

TEST(ChatPiped, DefaultModelAnswers) {
    if (!default_model_path().ok()) GTEST_SKIP() << "default model absent: run scripts/setup.sh";
    const std::string in = write_file("q.txt", "What is the capital of France?\nAnd of Italy?\n/stats\n");
    const test::ShellResult r =
        test::shell(fmt::format("'{}' chat -t 2 --temp 0 -n 12 --chat-template-file '{}/chat_templates/templates/"
                                "google-gemma-3-it.jinja' < '{}' 2>&1",
                                LOOM_BINARY, test::data_dir(), in));
    ASSERT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find(", 2 turns"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("0 full prefills"), std::string::npos) << r.out;
}

// The interactive mode through a pseudo-terminal: a prompt, a streamed reply, /stats, Ctrl-C at the prompt
// twice, and the exit status.
class Pty {
public:
    explicit Pty(const std::vector<std::string>& args) {
        const std::string history = test::scratch_path("loom-chat-history");  // the parent's, removed at its exit
        pid_ = forkpty(&fd_, nullptr, nullptr, nullptr);
        if (pid_ == 0) {
            setenv("LOOM_CHAT_HISTORY", history.c_str(), 1);
            std::vector<char*> argv;
            argv.reserve(args.size() + 1);
            for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
            argv.push_back(nullptr);
            execv(argv[0], argv.data());
            _exit(127);
        }
    }
    ~Pty() {
        if (pid_ > 0 && !exited_) {
            kill(pid_, SIGKILL);
            waitpid(pid_, nullptr, 0);
        }
        if (fd_ >= 0) close(fd_);
    }
    Pty(const Pty&) = delete;
    Pty& operator=(const Pty&) = delete;

    bool ok() const { return pid_ > 0; }
    // Types `s` after a pause: libedit flushes what was typed before it took the terminal, as a terminal user
    // never notices but a test writing at once would.
    void send(const std::string& s) {
        usleep(200 * 1000);
        EXPECT_EQ(write(fd_, s.data(), s.size()), ssize_t(s.size()));
    }
    // Reads until `what` appears after the text read so far (from `from`), or 60 s pass; true when it did.
    bool expect(const std::string& what) {
        const size_t from = seen_;
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (out_.find(what, from) == std::string::npos) {
            if (std::chrono::steady_clock::now() > end) return false;
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 200) <= 0) continue;
            char buf[4096];
            const ssize_t n = read(fd_, buf, sizeof buf);
            if (n <= 0) return out_.find(what, from) != std::string::npos;
            out_.append(buf, size_t(n));
        }
        seen_ = out_.find(what, from) + what.size();
        return true;
    }
    // The exit status (-1: killed, or still running after 60 s), draining the output so the child never blocks.
    int wait_exit() {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        int status = 0;
        while (std::chrono::steady_clock::now() < end) {
            if (waitpid(pid_, &status, WNOHANG) == pid_) {
                exited_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
            }
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 100) <= 0) continue;
            char buf[4096];
            const ssize_t n = read(fd_, buf, sizeof buf);
            if (n > 0) out_.append(buf, size_t(n));
        }
        return -1;
    }
    const std::string& out() const { return out_; }

private:
    pid_t pid_ = -1;
    int fd_ = -1;
    bool exited_ = false;
    std::string out_;
    size_t seen_ = 0;
};

TEST(ChatTerminal, PromptReplyStatsAndBye) {
    const std::string tmpl = write_file("template.jinja", kTemplate);
    Pty t({LOOM_BINARY, "chat", "-m", synth(), "-t", "2", "-c", "512", "--temp", "0", "-n", "5", "--chat-template-file",
           tmpl});
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t.expect("/help for commands")) << t.out();
    ASSERT_TRUE(t.expect("> ")) << t.out();
    t.send("hello\\\r");  // a trailing backslash goes on to the next line
    ASSERT_TRUE(t.expect(". ")) << t.out();
    t.send("there\r");
    ASSERT_TRUE(t.expect("> ")) << t.out();  // the reply streamed, then the next prompt
    t.send("/nope\r");
    ASSERT_TRUE(t.expect("unknown command /nope")) << t.out();
    t.send("/stats\r");
    ASSERT_TRUE(t.expect(", 1 turns")) << t.out();
    ASSERT_TRUE(t.expect("> ")) << t.out();
    t.send("\x03");  // Ctrl-C at the prompt: a hint, not an exit
    ASSERT_TRUE(t.expect("Ctrl-C again")) << t.out();
    ASSERT_TRUE(t.expect("> ")) << t.out();
    t.send("/bye\r");
    EXPECT_EQ(t.wait_exit(), 0) << t.out();
}

TEST(ChatTerminal, ToolCallAsksForItsResult) {
    const std::string tmpl = write_file("tool-template.jinja", kToolTemplate);
    const std::string tools = write_file("tools.json", kWeatherTool);
    Pty t({LOOM_BINARY, "chat", "-m", synth(), "-t", "2", "-c", "1024", "--temp", "0", "-n", "120",
           "--chat-template-file", tmpl, "--tools", tools, "--tool-choice", "required", "--no-parallel-tool-calls"});
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t.expect("> ")) << t.out();
    t.send("weather in Paris?\r");
    ASSERT_TRUE(t.expect("tool call: get_weather {")) << t.out();
    ASSERT_TRUE(t.expect("result of get_weather> ")) << t.out();
    t.send("{\"temp\": 12}\r");
    ASSERT_TRUE(t.expect("> ")) << t.out();  // the model's answer to the result, then the next prompt
    t.send("/bye\r");
    EXPECT_EQ(t.wait_exit(), 0) << t.out();
}

TEST(ChatTerminal, CtrlDExits) {
    const std::string tmpl = write_file("template.jinja", kTemplate);
    Pty t({LOOM_BINARY, "chat", "-m", synth(), "-t", "2", "-c", "512", "--chat-template-file", tmpl});
    ASSERT_TRUE(t.ok());
    ASSERT_TRUE(t.expect("> ")) << t.out();
    t.send("\x04");
    EXPECT_EQ(t.wait_exit(), 0) << t.out();
}

}  // namespace
}  // namespace loom::cli
