// The model side of `loom chat`: a conversation (system prompt and turns) rendered with the model's chat template,
// and a Session whose KV cache holds it, so that each turn prefills only what is new.
//
// Thread-safety: one thread drives a Conversation; stop() alone may be called from anywhere (a signal handler too).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/output_format_options.h"
#include "core/error.h"
#include "runtime/generate.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "server/tool_parser.h"
#include "server/tool_request.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace loom::cli {

struct ChatMessage {
    std::string role;  // system, user, assistant or tool
    std::string content;
    std::string reasoning;  // assistant: what it wrote inside its thinking markers (kept for /save, not rendered)
    // assistant: the calls it made, as chat templates get them ({"id", "type", "function": {"name", "arguments"}},
    // arguments an object); null when none.
    nlohmann::ordered_json tool_calls;
    std::string tool_call_id;  // tool: the call this message answers
    std::string name;          // tool: the function that answered
};

// What a tool answered to one call.
struct ToolResult {
    std::string call_id, name, content;
};

// The speed figures of one turn, or of every turn so far.
struct TurnStats {
    int64_t n_prompt = 0;     // the rendered conversation's tokens
    int64_t n_kept = 0;       // of those, already in the KV cache
    int64_t n_prefilled = 0;  // run through the model (n_prompt - n_kept)
    int64_t n_generated = 0;
    double prefill_seconds = 0, decode_seconds = 0;  // decode: after the first generated token
    int64_t n_resets = 0;  // the memory could not go back to the common prefix, so all was prefilled again
    runtime::GenerateStats::Stop stop = runtime::GenerateStats::Stop::eog;

    void add(const TurnStats& t);
};

class Conversation {
public:
    struct Options {
        runtime::SessionOptions session;
        runtime::GenerateOptions gen;  // n_keep, seq and eog are the conversation's business
        std::vector<std::string> stop;
        std::string template_source;  // empty: the model's tokenizer.chat_template (an error when it has none)
        nlohmann::ordered_json template_kwargs = nlohmann::ordered_json::object();  // e.g. enable_thinking
        OutputFormatOptions output;  // each reply must match this grammar or schema (--grammar-file, --json-schema)
        server::ToolRequest tools;   // functions the model may call (--tools, --tool-choice)
    };
    // A piece of streamed reply: its thinking and its answer (either may be empty). Return false to stop.
    using PieceFn = std::function<bool(const std::string& reasoning, const std::string& content)>;

    // PRECONDITION: `model` outlives the Conversation. `model_path` names the model in errors.
    static Result<std::unique_ptr<Conversation>> create(const runtime::Model& model, const std::string& model_path,
                                                        Options opt);

    // Adds the user's turn and streams the reply to `on_piece`, keeping it in the history. A turn that does not
    // fit the context, or that the template refuses, is not kept and is an error naming the counts.
    Result<TurnStats> say(const std::string& user, const PieceFn& on_piece);
    // Answers the calls of the last reply (pending_calls()) with `results`, one per call in their order, and
    // streams the model's next reply. Kept in the history as `tool` messages.
    Result<TurnStats> answer_calls(const std::vector<ToolResult>& results, const PieceFn& on_piece);
    // The calls the last reply made, not answered yet (empty when it made none).
    const std::vector<server::ToolCall>& pending_calls() const { return pending_; }
    // Whether replies are read for tool calls: tools were given, tool_choice is not none and the template's call
    // syntax is one loom reads.
    bool reads_calls() const { return tool_format_ != nullptr; }
    // Tools were given but the template's call syntax is not one loom reads: what to tell the user.
    const std::string& tool_warning() const { return tool_warning_; }
    // Stops the reply being generated, if any, at its next token (async-signal-safe).
    void stop() { stop_requested_.store(true, std::memory_order_relaxed); }

    void clear();                                // forgets the turns, keeps the system prompt
    void set_system(const std::string& text);    // empty: no system message
    Status save(const std::string& path) const;  // {"messages": [...]}, as a chat completions request has them
    Status load(const std::string& path);        // the same, or a bare array; replaces the conversation

    const std::vector<ChatMessage>& messages() const { return messages_; }
    const TurnStats& last() const { return last_; }
    const TurnStats& total() const { return total_; }
    int64_t n_turns() const { return n_turns_; }
    int64_t n_ctx() const { return session_->options().n_ctx; }
    int64_t n_ctx_used() const { return int64_t(held_.size()); }
    bool thinks() const { return think_markers_; }  // the template writes <think>…</think>

private:
    Conversation() = default;
    Result<std::vector<int32_t>> render(std::string* text) const;
    // Renders the history (ending with the `n_added` messages just pushed, taken back on failure) and streams the
    // assistant's reply.
    Result<TurnStats> reply(size_t n_added, const PieceFn& on_piece);

    const runtime::Model* model_ = nullptr;
    Options opt_;
    std::unique_ptr<tokenizer::Vocab> vocab_;
    std::unique_ptr<tokenizer::Tokenizer> tokenizer_;
    std::optional<tokenizer::ChatTemplate> template_;
    bool think_markers_ = false;
    const server::ToolFormat* tool_format_ = nullptr;  // set when replies are read for calls
    std::string tool_warning_;
    std::shared_ptr<const grammar::Grammar> forced_call_;  // tool_choice required / named
    std::vector<server::ToolCall> pending_;
    std::unique_ptr<runtime::Session> session_;
    std::vector<int32_t> held_;  // the tokens at the sequence's positions 0, 1, ... (what the KV cache holds)
    std::vector<ChatMessage> messages_;
    TurnStats last_, total_;
    int64_t n_turns_ = 0;
    std::atomic<bool> stop_requested_ = false;
};

}  // namespace loom::cli
