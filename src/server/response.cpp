// OpenAI response JSON.
#include "server/response.h"

#include <fmt/format.h>

#include <cmath>
#include <random>

#include "server/api_error.h"
#include "tokenizer/vocab.h"

namespace loom::server {
namespace {

// JSON has no infinities; OpenAI reports -9999.0 for a token the model gives no chance at all.
double json_logprob(double v) { return std::isfinite(v) ? v : -9999.0; }

Json bytes_of(const std::string& s) {
    Json b = Json::array();
    for (unsigned char c : s) b.push_back(int(c));
    return b;
}

Json finish_json(Finish f) { return f == Finish::none ? Json(nullptr) : Json(finish_reason(f)); }

// The fields every response object starts with.
Json object_head(const ResponseMeta& meta, const char* object) {
    return {{"id", meta.id},
            {"object", object},
            {"created", meta.created},
            {"model", meta.model},
            {"system_fingerprint", meta.fingerprint},
            {"choices", Json::array()}};
}

}  // namespace

const std::string& token_text(const tokenizer::Vocab& vocab, int32_t id) {
    static const std::string none;
    return vocab.valid(id) ? vocab.piece(id, /*special=*/true) : none;
}

Json usage_json(const Usage& u) {
    return {{"prompt_tokens", u.prompt},
            {"completion_tokens", u.completion},
            {"total_tokens", u.prompt + u.completion},
            {"prompt_tokens_details", {{"cached_tokens", u.cached}}}};
}

Json chat_logprobs(const std::vector<TokenInfo>& tokens, const tokenizer::Vocab& vocab) {
    Json content = Json::array();
    for (const TokenInfo& t : tokens) {
        Json top = Json::array();
        for (const auto& alt : t.top)
            top.push_back({{"token", token_text(vocab, alt.id)},
                           {"logprob", json_logprob(alt.logprob)},
                           {"bytes", bytes_of(token_text(vocab, alt.id))}});
        content.push_back({{"token", token_text(vocab, t.id)},
                           {"logprob", json_logprob(t.logprob)},
                           {"bytes", bytes_of(token_text(vocab, t.id))},
                           {"top_logprobs", std::move(top)}});
    }
    return {{"content", std::move(content)}};
}

Json legacy_logprobs(const std::vector<TokenInfo>& tokens, const tokenizer::Vocab& vocab, size_t offset0) {
    Json toks = Json::array(), lps = Json::array(), tops = Json::array(), offsets = Json::array();
    size_t offset = offset0;
    for (const TokenInfo& t : tokens) {
        const std::string& p = token_text(vocab, t.id);
        toks.push_back(p);
        offsets.push_back(offset);
        offset += p.size();
        if (std::isnan(t.logprob)) {  // the first prompt token: nothing predicted it
            lps.push_back(nullptr);
            tops.push_back(nullptr);
            continue;
        }
        lps.push_back(json_logprob(t.logprob));
        Json top = Json::object();
        for (const auto& alt : t.top) top[token_text(vocab, alt.id)] = json_logprob(alt.logprob);
        tops.push_back(std::move(top));
    }
    return {{"tokens", std::move(toks)},
            {"token_logprobs", std::move(lps)},
            {"top_logprobs", std::move(tops)},
            {"text_offset", std::move(offsets)}};
}

Json chat_completion(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices, const Usage& usage,
                     const tokenizer::Vocab& vocab, bool logprobs) {
    Json out = object_head(meta, "chat.completion");
    for (size_t i = 0; i < choices.size(); ++i) {
        const ChoiceResult& c = choices[i];
        Json msg = {{"role", "assistant"}, {"content", c.text}};
        if (!c.reasoning.empty()) msg["reasoning_content"] = c.reasoning;
        if (!c.calls.empty()) {
            bool blank = true;  // OpenAI sends null content beside calls when there is no text
            for (char ch : c.text) blank = blank && (ch == ' ' || ch == '\n' || ch == '\r' || ch == '\t');
            if (blank) msg["content"] = nullptr;
            msg["tool_calls"] = tool_calls_json(c.calls);
        }
        out["choices"].push_back({{"index", i},
                                  {"message", std::move(msg)},
                                  {"logprobs", logprobs ? chat_logprobs(c.tokens, vocab) : Json(nullptr)},
                                  {"finish_reason", chat_finish(c.finish, !c.calls.empty())}});
    }
    out["usage"] = usage_json(usage);
    return out;
}

Json tool_calls_json(const std::vector<ToolCall>& calls) {
    Json out = Json::array();
    for (const ToolCall& c : calls)
        out.push_back(
            {{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    return out;
}

std::vector<Json> tool_call_deltas(const ToolCall& call, int index) {
    Json head = {{"index", index},
                 {"id", call.id},
                 {"type", "function"},
                 {"function", {{"name", call.name}, {"arguments", ""}}}};
    Json args = {{"index", index}, {"function", {{"arguments", call.arguments}}}};
    return {Json{{"tool_calls", Json::array({std::move(head)})}}, Json{{"tool_calls", Json::array({std::move(args)})}}};
}

Json chat_finish(Finish f, bool made_calls) {
    return made_calls && f == Finish::stop ? Json("tool_calls") : finish_json(f);
}

Json text_completion(const ResponseMeta& meta, const std::vector<ChoiceResult>& choices, const Usage& usage,
                     const tokenizer::Vocab& vocab, bool logprobs) {
    Json out = object_head(meta, "text_completion");
    for (size_t i = 0; i < choices.size(); ++i) {
        const ChoiceResult& c = choices[i];
        Json lp = nullptr;
        if (logprobs) {
            std::vector<TokenInfo> all = c.prompt;  // echo: the prompt's tokens come first
            all.insert(all.end(), c.tokens.begin(), c.tokens.end());
            lp = legacy_logprobs(all, vocab, 0);
        }
        out["choices"].push_back({{"index", i},
                                  {"text", c.prompt_text + c.text},
                                  {"logprobs", std::move(lp)},
                                  {"finish_reason", finish_json(c.finish)}});
    }
    out["usage"] = usage_json(usage);
    return out;
}

Json chat_chunk(const ResponseMeta& meta, int index, Json delta, const Json& finish, Json logprobs) {
    Json out = object_head(meta, "chat.completion.chunk");
    out["choices"].push_back(
        {{"index", index}, {"delta", std::move(delta)}, {"logprobs", std::move(logprobs)}, {"finish_reason", finish}});
    return out;
}

Json completion_chunk(const ResponseMeta& meta, int index, const std::string& text, const Json& finish, Json logprobs) {
    Json out = object_head(meta, "text_completion");
    out["choices"].push_back(
        {{"index", index}, {"text", text}, {"logprobs", std::move(logprobs)}, {"finish_reason", finish}});
    return out;
}

Json usage_chunk(const ResponseMeta& meta, const char* object, const Usage& usage) {
    Json out = object_head(meta, object);
    out["usage"] = usage_json(usage);
    return out;
}

std::string sse_event(const Json& j) { return "data: " + dump_json(j) + "\n\n"; }

std::string make_id(const char* prefix) {
    thread_local std::mt19937_64 rng{std::random_device{}()};
    return fmt::format("{}-{:012x}{:012x}", prefix, rng() & 0xffffffffffffULL, rng() & 0xffffffffffffULL);
}

}  // namespace loom::server
