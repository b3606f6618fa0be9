// OpenAI request bodies → plain structs, every field validated. Parsing knows only JSON and the limits of the
// model being served (vocabulary size, context, parallel slots); tokenizing and the chat template come later
// (prompt.h). Every error is an ApiError naming the field, e.g. `top_logprobs: must be at most 20 (got 25)`.
//
// Unknown fields are ignored, as OpenAI clients send fields this server may not know; fields that would change
// the answer's meaning and are not implemented (functions, audio, ...) are refused. response_format, grammar and
// json_schema become a grammar the output must match (output_format.h); tools and tool_choice are read by
// tool_request.h.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "grammar/grammar.h"
#include "runtime/sampler.h"
#include "server/api_error.h"
#include "server/tool_request.h"

namespace loom::server {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

// What parsing checks values against.
struct Limits {
    int32_t n_vocab = 0;
    int64_t n_ctx = 0;     // positions per sequence
    int max_n = 1;         // choices per prompt (the server's parallel slots)
    int max_prompts = 16;  // prompts in one /v1/completions request
    int max_stop = 16;     // stop entries
    size_t max_stop_bytes = 1024;
    int max_top_logprobs = 20;
};

// The fields /v1/chat/completions and /v1/completions share.
struct GenerationParams {
    runtime::SamplingParams sampling;  // OpenAI defaults: temperature 1, no top-k / top-p / min-p truncation
    bool seed_given = false;           // else each choice draws a random seed
    int64_t max_tokens = -1;           // -1: until end of generation or of the context
    std::vector<std::string> stop;     // stop strings (not part of the text)
    std::vector<int32_t> stop_ids;     // token ids that end generation (integers in `stop`)
    int n = 1;                         // choices per prompt
    bool stream = false;
    bool include_usage = false;  // stream_options.include_usage
    int logprobs = -1;           // -1: none; k >= 0: the sampled token's logprob and k alternatives
    std::string user;
    std::shared_ptr<const grammar::Grammar> grammar;  // the output must match it (response_format, ...); null: free
};

// A chat message after normalization: content parts joined into one text.
struct ChatMessage {
    std::string role;  // system, user, assistant or tool ("developer" is read as system)
    std::string content;
    std::string name;                   // optional
    nlohmann::ordered_json tool_calls;  // assistant: the calls it made (tool_request.h), or null
    std::string tool_call_id;           // tool: the call this message answers
};

struct ChatRequest {
    std::string model;
    GenerationParams gen;
    std::vector<ChatMessage> messages;
    OrderedJson template_kwargs = OrderedJson::object();  // chat_template_kwargs, e.g. {"enable_thinking": false}
    bool add_generation_prompt = true;
    // The prompt ends inside the last message (no end of turn), so that the model continues it.
    bool continue_final_message = false;
    ToolRequest tools;
    // reasoning_effort or reasoning.effort: none, minimal, low, medium or high; empty when not given. Passed to
    // the template as `reasoning_effort`, and as `enable_thinking` (false for none and minimal) unless
    // chat_template_kwargs sets that.
    std::string reasoning_effort;
};

// One prompt of /v1/completions: text, or token ids used as given.
struct PromptInput {
    std::string text;
    std::vector<int32_t> tokens;
    bool is_tokens = false;
};

struct CompletionRequest {
    std::string model;
    GenerationParams gen;
    std::vector<PromptInput> prompts;  // at least one
    bool echo = false;                 // the prompt precedes the generated text (with its logprobs)
};

struct TokenizeRequest {
    std::string content;
    bool add_special = false;
    bool with_pieces = false;
};

struct DetokenizeRequest {
    std::vector<int32_t> tokens;
};

// The body as a JSON object: syntax errors and non-objects are 400s.
MaybeError parse_body(std::string_view body, Json& out);

// `raw`: the body's text, when there is one, so that JSON schemas keep their property order (output_format.h).
MaybeError parse_chat_request(const Json& body, const Limits& lim, ChatRequest& out, std::string_view raw = {});
MaybeError parse_completion_request(const Json& body, const Limits& lim, CompletionRequest& out,
                                    std::string_view raw = {});
MaybeError parse_tokenize_request(const Json& body, TokenizeRequest& out);
MaybeError parse_detokenize_request(const Json& body, const Limits& lim, DetokenizeRequest& out);

}  // namespace loom::server
