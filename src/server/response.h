// OpenAI response shapes: chat.completion and text_completion objects, their streamed chunks, usage, the two
// logprobs shapes (chat's content list and the legacy completions columns), and Server-Sent Events framing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/scheduler.h"
#include "server/tool_parser.h"

namespace loom::tokenizer {
class Vocab;
}

namespace loom::server {

using Json = nlohmann::json;

// What every object of one response shares.
struct ResponseMeta {
    std::string id;  // "chatcmpl-…" or "cmpl-…"
    std::string model;
    std::string fingerprint;  // system_fingerprint: the build
    int64_t created = 0;      // Unix seconds
};

// One choice, gathered from its events.
struct ChoiceResult {
    std::string text;
    std::string reasoning;          // chat: text the model wrote inside its thinking markers
    std::vector<TokenInfo> tokens;  // with logprobs
    std::vector<TokenInfo> prompt;  // with echo + logprobs
    std::string prompt_text;        // with echo
    std::vector<ToolCall> calls;    // chat: the tool calls read from the reply
    Finish finish = Finish::none;
};

struct Usage {
    int64_t prompt = 0, completion = 0;
    int64_t cached = 0;  // of the prompt tokens, those restored from the prefix cache
};

Json usage_json(const Usage& u);

// A token's text as logprobs show it (control tokens as their text); "" for an id the vocabulary lacks (a
// model's padded output rows).
const std::string& token_text(const tokenizer::Vocab& vocab, int32_t id);

// {"content": [{"token", "logprob", "bytes", "top_logprobs": [...]}]}
Json chat_logprobs(const std::vector<TokenInfo>& tokens, const tokenizer::Vocab& vocab);
// {"tokens", "token_logprobs", "top_logprobs", "text_offset"}; offsets count bytes from `offset0`.
Json legacy_logprobs(const std::vector<TokenInfo>& tokens, const tokenizer::Vocab& vocab, size_t offset0);

Json chat_completion(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices, const Usage& usage,
                     const tokenizer::Vocab& vocab, bool logprobs);
Json text_completion(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices, const Usage& usage,
                     const tokenizer::Vocab& vocab, bool logprobs);

// message.tool_calls: [{"id", "type": "function", "function": {"name", "arguments"}}].
Json tool_calls_json(const std::vector<ToolCall>& calls);
// The deltas that stream one call as OpenAI does: the first names it (index, id, type, function.name and empty
// arguments), the second carries the arguments. `index`: the call's place among the choice's calls.
std::vector<Json> tool_call_deltas(const ToolCall& call, int index);
// A choice's finish_reason: "tool_calls" when it stopped after making calls.
Json chat_finish(Finish f, bool made_calls);

// Streamed chunks. `finish` null until the choice's last chunk.
Json chat_chunk(const ResponseMeta& meta, int index, Json delta, const Json& finish, Json logprobs = nullptr);
Json completion_chunk(const ResponseMeta& meta, int index, const std::string& text, const Json& finish,
                      Json logprobs = nullptr);
// The closing chunk of stream_options.include_usage: no choices, the usage.
Json usage_chunk(const ResponseMeta& meta, const char* object, const Usage& usage);

// "data: <json>\n\n"
std::string sse_event(const Json& j);
inline constexpr const char* kSseDone = "data: [DONE]\n\n";

// An id with a prefix and 24 random hex digits.
std::string make_id(const char* prefix);

}  // namespace loom::server
