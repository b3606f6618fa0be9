// The chat subcommand: reads turns (libedit's line editing and history on a terminal when built with it, else
// plain lines), runs slash commands, and prints streamed replies, a reasoning model's thinking dimmed apart from
// its answer. Ctrl-C stops a reply; at the prompt, a second Ctrl-C (or Ctrl-D) exits.
#include "cli/chat.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include "cli/conversation.h"
#include "cli/model_options.h"
#include "core/default_model.h"

#ifdef LOOM_HAVE_LIBEDIT
#include <editline/readline.h>
#endif

namespace loom::cli {
namespace {

constexpr const char* kDim = "\x1b[2m";
constexpr const char* kCyan = "\x1b[36m";
constexpr const char* kReset = "\x1b[0m";

struct ChatOptions {
    ModelOptions model;
    runtime::GenerateOptions gen;  // n_predict -1: a reply ends at end of generation (or the context's end)
    std::vector<std::string> stop;
    OutputFormatOptions output;
    std::string system, system_file, chat_template_file;
    bool think = true;
    std::string tools_file, tool_choice = "auto";
    bool parallel_tool_calls = true;
};

// Set by SIGINT (interactive mode only); the conversation is told to stop its reply.
volatile std::sig_atomic_t g_interrupted = 0;
Conversation* g_conversation = nullptr;

void on_sigint(int /*sig*/) {
    g_interrupted = 1;
    if (Conversation* c = g_conversation) c->stop();
}

// Installed without SA_RESTART, so that a read at the prompt returns EINTR and the prompt sees the Ctrl-C.
void install_sigint() {
    struct sigaction sa {};
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0;
    sigaction(SIGINT, &sa, nullptr);
}

Result<std::string> read_text_file(const std::string& path, const std::string& what) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::io("{}: cannot read the {}: {}", path, what, std::strerror(errno));
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// One line of input without its newline; nullopt at end of input or on Ctrl-C (g_interrupted says which).
class LineReader {
public:
    explicit LineReader(bool interactive) : interactive_(interactive) {
#ifdef LOOM_HAVE_LIBEDIT
        if (interactive_) {
            rl_readline_name = "loom";
            rl_catch_signals = 0;  // our SIGINT handler, not libedit's
            rl_getc_function = interruptible_getc;
            if (const char* path = std::getenv("LOOM_CHAT_HISTORY")) history_ = path;  // "": none
            else if (const char* home = std::getenv("HOME")) history_ = std::string(home) + "/.cache/loom/chat_history";
            stifle_history(1000);
            if (!history_.empty()) read_history(history_.c_str());
        }
#endif
    }
    ~LineReader() {
#ifdef LOOM_HAVE_LIBEDIT
        if (interactive_ && !history_.empty()) write_history(history_.c_str());
#endif
        std::free(buf_);
    }
    LineReader(const LineReader&) = delete;
    LineReader& operator=(const LineReader&) = delete;

    std::optional<std::string> read(const char* prompt) {
#ifdef LOOM_HAVE_LIBEDIT
        if (interactive_) {
            char* line = readline(prompt);
            if (line == nullptr || g_interrupted) {
                std::free(line);
                return std::nullopt;
            }
            std::string s(line);
            std::free(line);
            return s;
        }
#endif
        if (interactive_) {
            fmt::print("{}", prompt);
            std::fflush(stdout);
        }
        const ssize_t n = ::getline(&buf_, &cap_, stdin);
        if (n < 0) {
            std::clearerr(stdin);
            return std::nullopt;
        }
        std::string s(buf_, size_t(n));
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        return s;
    }

    void remember(const std::string& entry) {
#ifdef LOOM_HAVE_LIBEDIT
        if (interactive_ && !entry.empty()) add_history(entry.c_str());
#else
        (void)entry;
#endif
    }

private:
#ifdef LOOM_HAVE_LIBEDIT
    // libedit's reads retry after a signal; this one gives up on Ctrl-C, so readline() returns. It waits in short
    // polls, so that a Ctrl-C that came just before the read is seen too.
    static int interruptible_getc(FILE* /*in*/) {
        for (;;) {
            if (g_interrupted) return EOF;
            pollfd p{STDIN_FILENO, POLLIN, 0};
            const int ready = ::poll(&p, 1, 100);
            if (ready < 0 && errno != EINTR) return EOF;
            if (ready <= 0) continue;
            unsigned char c = 0;
            const ssize_t n = ::read(STDIN_FILENO, &c, 1);
            if (n == 1) return c;
            if (n < 0 && errno == EINTR) continue;
            return EOF;
        }
    }
    std::string history_;
#endif
    bool interactive_;
    char* buf_ = nullptr;
    size_t cap_ = 0;
};

constexpr const char* kHelp =
    "Commands:\n"
    "  /clear         forget the conversation (the system prompt stays)\n"
    "  /system TEXT   set the system prompt (no TEXT: show it)\n"
    "  /save FILE     write the conversation as JSON messages\n"
    "  /load FILE     read a conversation written by /save (or {\"messages\": [...]}, or [...])\n"
    "  /stats         tokens, speeds and context used\n"
    "  /help          this list\n"
    "  /bye           exit (also Ctrl-D, or Ctrl-C twice at the prompt)\n"
    "Input: end a line with \\ to go on with the next; a line \"\"\" starts and ends a block of lines.\n"
    "A message that starts with / is written with two: //etc/hosts is sent as /etc/hosts.\n"
    "Empty lines are skipped. Ctrl-C stops a reply.\n"
    "With --tools, the model's tool calls are shown as `tool call: NAME {arguments}` and each call's result is\n"
    "read as the next message (on a terminal, after a `result of NAME>` prompt); then the model goes on.\n"
    "Input history: ~/.cache/loom/chat_history, or the file $LOOM_CHAT_HISTORY names (empty: none).\n";

double per_second(double n, double seconds) { return seconds > 0 ? n / seconds : 0.0; }

std::string stats_text(const Conversation& c) {
    const TurnStats& l = c.last();
    const TurnStats& t = c.total();
    std::string s = fmt::format("context: {} of {} tokens ({:.0f}%), {} turns\n", c.n_ctx_used(), c.n_ctx(),
                                100.0 * double(c.n_ctx_used()) / double(c.n_ctx()), c.n_turns());
    if (c.n_turns() == 0) return s;
    s += fmt::format(
        "last turn: prompt {} tokens, {} kept, {} prefilled in {:.3f} s ({:.1f} tok/s); {} generated ({:.1f} tok/s)\n",
        l.n_prompt, l.n_kept, l.n_prefilled, l.prefill_seconds, per_second(double(l.n_prefilled), l.prefill_seconds),
        l.n_generated, per_second(double(std::max<int64_t>(l.n_generated - 1, 0)), l.decode_seconds));
    s += fmt::format(
        "all turns: {} tokens prefilled ({:.1f} tok/s), {} kept, {} generated ({:.1f} tok/s); {} full prefills "
        "after the memory could not go back\n",
        t.n_prefilled, per_second(double(t.n_prefilled), t.prefill_seconds), t.n_kept, t.n_generated,
        per_second(double(std::max<int64_t>(t.n_generated - c.n_turns(), 0)), t.decode_seconds), t.n_resets);
    return s;
}

class ChatLoop {
public:
    ChatLoop(Conversation& c, bool interactive, bool color) : c_(c), interactive_(interactive), color_(color) {}

    // Runs until /bye or the end of input; an error in piped mode ends it with that error.
    Status run() {
        LineReader reader(interactive_);
        bool ctrl_c_at_prompt = false;
        for (;;) {
            g_interrupted = 0;
            std::optional<std::string> line = read_input(reader);
            if (!line) {
                if (!g_interrupted || ctrl_c_at_prompt) break;
                ctrl_c_at_prompt = true;
                fmt::print(stderr, "\n(Ctrl-C again, Ctrl-D or /bye to exit)\n");
                continue;
            }
            ctrl_c_at_prompt = false;
            if (line->empty()) continue;
            reader.remember(*line);
            if (line->starts_with("/") && !line->starts_with("//")) {
                Status st = command(*line);
                if (quit_) break;
                // A conversation loaded while its last reply's calls waited for results asks for them now.
                if (st.ok() && line->starts_with("/load") && !c_.pending_calls().empty()) st = answer_calls(reader);
                if (!st.ok()) {
                    if (!interactive_) return st;
                    fmt::print(stderr, "loom: {}\n", st.error().message());
                }
                continue;
            }
            if (line->starts_with("//")) line->erase(0, 1);
            if (Status st = turn(*line, reader); !st.ok()) {
                if (!interactive_) return st;
                fmt::print(stderr, "loom: {}\n", st.error().message());
            }
        }
        if (interactive_) fmt::print("\n");
        return Ok();
    }

private:
    // A whole message: a line, lines joined by a trailing backslash, or a """ block.
    std::optional<std::string> read_input(LineReader& reader, const std::string& prompt = "> ") {
        std::optional<std::string> line = reader.read(interactive_ ? prompt.c_str() : "");
        if (!line) return line;
        if (*line == "\"\"\"") {
            std::string text;
            for (;;) {
                std::optional<std::string> more = reader.read(interactive_ ? ". " : "");
                if (!more) return g_interrupted ? std::nullopt : std::optional(text);
                if (*more == "\"\"\"") return text;
                text += text.empty() ? *more : "\n" + *more;
            }
        }
        std::string text = *line;
        while (!text.empty() && text.back() == '\\') {
            text.back() = '\n';
            std::optional<std::string> more = reader.read(interactive_ ? ". " : "");
            if (!more) return g_interrupted ? std::nullopt : std::optional(text);
            text += *more;
        }
        return text;
    }

    Status command(const std::string& line) {
        const size_t space = line.find(' ');
        const std::string name = line.substr(0, space);
        std::string arg = space == std::string::npos ? "" : line.substr(space + 1);
        while (!arg.empty() && arg.front() == ' ') arg.erase(0, 1);
        while (!arg.empty() && arg.back() == ' ') arg.pop_back();
        if (name == "/bye" || name == "/exit" || name == "/quit") {
            quit_ = true;
        } else if (name == "/help" || name == "/?") {
            fmt::print("{}", kHelp);
        } else if (name == "/clear") {
            c_.clear();
            note("(conversation cleared)");
        } else if (name == "/system") {
            if (arg.empty()) {
                const auto& m = c_.messages();
                fmt::print("{}\n", !m.empty() && m[0].role == "system" ? m[0].content : "(no system prompt)");
            } else {
                c_.set_system(arg);
                note("(system prompt set)");
            }
        } else if (name == "/save" || name == "/load") {
            if (arg.empty()) return Error::invalid("{}: give a file name ({} FILE)", name, name);
            LOOM_RETURN_IF_ERROR(name == "/save" ? c_.save(arg) : c_.load(arg));
            note(fmt::format("({} {} messages {} {})", name == "/save" ? "wrote" : "read", c_.messages().size(),
                             name == "/save" ? "to" : "from", arg));
        } else if (name == "/stats") {
            fmt::print("{}", stats_text(c_));
        } else {
            return Error::invalid("unknown command {} (/help lists them; start a message with // to send a /)", name);
        }
        std::fflush(stdout);
        return Ok();
    }

    void note(const std::string& text) const {
        if (interactive_) fmt::print(stderr, "{}\n", text);
    }

    // One piece of a streamed reply: thinking dimmed (on a terminal), a blank line before the answer.
    bool print_piece(const std::string& reasoning, const std::string& content) {
        if (!reasoning.empty() && interactive_) {
            fmt::print("{}{}{}", color_ ? kDim : "", reasoning, color_ ? kReset : "");
            in_thinking_ = true;
        }
        if (!content.empty()) {
            if (in_thinking_) fmt::print("\n\n");
            in_thinking_ = false;
            fmt::print("{}", content);
        }
        std::fflush(stdout);
        return true;
    }

    Conversation::PieceFn printer() {
        in_thinking_ = false;
        return [this](const std::string& reasoning, const std::string& content) {
            return print_piece(reasoning, content);
        };
    }

    Status turn(const std::string& user, LineReader& reader) {
        LOOM_TRY(TurnStats t, c_.say(user, printer()));
        end_reply(t);
        if (t.stop == runtime::GenerateStats::Stop::caller && g_interrupted) return Ok();
        return answer_calls(reader);
    }

    // The calls of the last reply: each result is the next message; then the model goes on, and may call again.
    Status answer_calls(LineReader& reader) {
        while (!c_.pending_calls().empty()) {
            std::vector<ToolResult> results;
            for (const server::ToolCall& call : c_.pending_calls()) {
                fmt::print("{}tool call: {} {}{}\n", color_ ? kCyan : "", call.name, call.arguments,
                           color_ ? kReset : "");
                std::fflush(stdout);
            }
            for (const server::ToolCall& call : c_.pending_calls()) {
                std::optional<std::string> result =
                    read_input(reader, interactive_ ? fmt::format("result of {}> ", call.name) : "");
                if (!result) {
                    note("(the tool calls stay unanswered)");
                    return Ok();
                }
                reader.remember(*result);
                results.push_back({call.id, call.name, *result});
            }
            LOOM_TRY(TurnStats t, c_.answer_calls(results, printer()));
            end_reply(t);
            if (t.stop == runtime::GenerateStats::Stop::caller && g_interrupted) break;
        }
        return Ok();
    }

    void end_reply(const TurnStats& t) const {
        fmt::print("\n");
        std::fflush(stdout);
        using Stop = runtime::GenerateStats::Stop;
        if (t.stop == Stop::caller && g_interrupted) note("(stopped)");
        if (t.stop == Stop::context)
            fmt::print(stderr, "loom: the reply filled the context ({} tokens): /clear, or start with a larger -c\n",
                       c_.n_ctx());
    }

    Conversation& c_;
    bool interactive_, color_;
    bool quit_ = false;
    bool in_thinking_ = false;  // the reply being printed is inside its thinking
};

// --tools FILE (a JSON array of tool definitions as a chat request's `tools` has them, or {"tools": [...]}),
// --tool-choice and --no-parallel-tool-calls, checked as the server checks the same request fields.
Status read_tools(const ChatOptions& o, server::ToolRequest& out) {
    if (o.tools_file.empty()) {
        if (o.tool_choice != "auto")
            return Error::invalid("--tool-choice {}: give the tools with --tools", o.tool_choice);
        return Ok();
    }
    LOOM_TRY(std::string text, read_text_file(o.tools_file, "tool definitions (--tools)"));
    nlohmann::ordered_json doc = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded()) return Error::invalid("--tools {}: not JSON", o.tools_file);
    if (doc.is_object() && doc.contains("tools")) doc = doc["tools"];
    if (!doc.is_array())
        return Error::invalid("--tools {}: expected an array of tool definitions (or {{\"tools\": [...]}})",
                              o.tools_file);
    nlohmann::ordered_json body = {{"tools", std::move(doc)}, {"parallel_tool_calls", o.parallel_tool_calls}};
    if (o.tool_choice == "auto" || o.tool_choice == "none" || o.tool_choice == "required")
        body["tool_choice"] = o.tool_choice;
    else body["tool_choice"] = {{"type", "function"}, {"function", {{"name", o.tool_choice}}}};
    const nlohmann::json plain = nlohmann::json::parse(body.dump());
    if (server::MaybeError e = server::parse_tool_request(plain, body, out)) {
        // The request's field names read as the flags here.
        std::string message = e->message;
        if (message.starts_with("tool_choice")) return Error::invalid("--tool-choice {}: {}", o.tool_choice, message);
        return Error::invalid("--tools {}: {}", o.tools_file, message);
    }
    return Ok();
}

Status chat(ChatOptions& o) {
    Conversation::Options co;
    co.gen = o.gen;
    co.stop = o.stop;
    co.output = o.output;
    if (!o.think) co.template_kwargs["enable_thinking"] = false;
    std::string system = o.system;
    if (!o.system_file.empty()) {
        if (!o.system.empty()) return Error::invalid("--system and --system-file: give one of them");
        LOOM_TRY(system, read_text_file(o.system_file, "system prompt (--system-file)"));
    }
    if (!o.chat_template_file.empty()) {
        LOOM_TRY(co.template_source, read_text_file(o.chat_template_file, "chat template (--chat-template-file)"));
    }
    LOOM_RETURN_IF_ERROR(read_tools(o, co.tools));
    LOOM_TRY(auto model, o.model.load_model());
    LOOM_TRY(co.session, o.model.session_options(*model));
    std::string path = o.model.model;
    if (path.empty()) {
        LOOM_TRY(path, default_model_path());
    }
    LOOM_TRY(auto conv, Conversation::create(*model, path, co));
    conv->set_system(system);

    const bool interactive = isatty(STDIN_FILENO) != 0;
    const bool color = interactive && isatty(STDOUT_FILENO) != 0 && std::getenv("NO_COLOR") == nullptr;
    if (interactive) {
        g_conversation = conv.get();
        install_sigint();
        fmt::print(stderr,
                   "loom chat: {} tokens of context{}. /help for commands; end a line with \\ to go on; Ctrl-C stops "
                   "a reply; Ctrl-D or /bye exits.\n",
                   conv->n_ctx(), conv->thinks() ? "; thinking is shown dimmed" : "");
    }
    if (!conv->tool_warning().empty()) fmt::print(stderr, "loom: {}\n", conv->tool_warning());
    ChatLoop loop(*conv, interactive, color);
    Status st = loop.run();
    g_conversation = nullptr;
    return st;
}

}  // namespace

void add_chat_command(CLI::App& app) {
    auto o = std::make_shared<ChatOptions>();
    CLI::App* cmd = app.add_subcommand(
        "chat",
        "Talk with a model through its chat template (interactive on a terminal; piped: one turn per line, one "
        "reply per turn)");
    o->model.add_to(*cmd);
    add_generation_options(*cmd, o->gen, o->stop);
    o->output.add_to(*cmd);
    cmd->add_option("--system", o->system, "System prompt (also -sys, as llama-cli spells it)");
    cmd->add_option("--system-file", o->system_file, "Read the system prompt from a file");
    cmd->add_option("--chat-template-file", o->chat_template_file, "Jinja chat template to use instead of the model's");
    cmd->add_flag("!--no-think", o->think, "Ask a reasoning model's template not to think (enable_thinking=false)");
    cmd->add_option("--tools", o->tools_file,
                    "Functions the model may call: a JSON file holding an array of tool definitions as a chat "
                    "request's `tools` has them; each call is shown and its result read from the input");
    cmd->add_option("--tool-choice", o->tool_choice,
                    "auto (the model decides), none (tools shown, calls never read), required (each reply to a "
                    "message is a call), or a function's name (that function is called)")
        ->capture_default_str();
    cmd->add_flag("!--no-parallel-tool-calls", o->parallel_tool_calls, "At most one call per reply");
    cmd->callback([o] {
        if (auto st = chat(*o); !st.ok()) {
            fmt::print(stderr, "loom: {}\n", st.error().message());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace loom::cli
