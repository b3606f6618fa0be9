// Request parsing: a small typed reader over a JSON object that names the field in every error.
#include "server/request.h"

#include "server/output_format.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace loom::server {
namespace {

const char* type_name(const Json& v) {
    switch (v.type()) {
        case Json::value_t::null: return "null";
        case Json::value_t::boolean: return "a boolean";
        case Json::value_t::string: return "a string";
        case Json::value_t::array: return "an array";
        case Json::value_t::object: return "an object";
        case Json::value_t::discarded: return "nothing";
        default: return "a number";
    }
}

ApiError wrong_type(const std::string& param, const char* want, const Json& got) {
    return ApiError::field(param, "invalid_type", "expected {}, got {}", want, type_name(got));
}

// Integers: JSON integers, or floats with an integral value (some clients write 16.0). Anything that does not fit
// int64 (1e300, 2^64) is "too large" rather than silently wrapped.
MaybeError read_int(const Json& v, const std::string& param, int64_t lo, int64_t hi, int64_t& out) {
    if (v.is_number_integer()) {
        if (v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
            return ApiError::field(param, "invalid_value", "must be at most {} (got {})", hi, v.get<uint64_t>());
        out = v.get<int64_t>();
    } else if (v.is_number_float()) {
        const double d = v.get<double>();
        if (!std::isfinite(d) || d != std::floor(d))
            return ApiError::field(param, "invalid_type", "expected an integer, got {}", d);
        if (d < double(lo) || d > double(hi))
            return ApiError::field(param, "invalid_value", "must be between {} and {} (got {})", lo, hi, d);
        out = int64_t(d);
    } else {
        return wrong_type(param, "an integer", v);
    }
    if (out < lo || out > hi)
        return ApiError::field(param, "invalid_value", "must be between {} and {} (got {})", lo, hi, out);
    return std::nullopt;
}

MaybeError read_number(const Json& v, const std::string& param, double lo, double hi, double& out) {
    if (!v.is_number()) return wrong_type(param, "a number", v);
    out = v.get<double>();
    if (!std::isfinite(out)) return ApiError::field(param, "invalid_value", "must be a finite number");
    if (out < lo || out > hi)
        return ApiError::field(param, "invalid_value", "must be between {} and {} (got {})", lo, hi, out);
    return std::nullopt;
}

// Typed access to the optional fields of one object. A field given as null counts as absent, as OpenAI's API
// treats it.
class Fields {
public:
    Fields(const Json& obj, std::string prefix = "") : obj_(obj), prefix_(std::move(prefix)) {}

    const Json* find(const char* name) const {
        auto it = obj_.find(name);
        if (it == obj_.end() || it->is_null()) return nullptr;
        return &*it;
    }
    std::string param(const char* name) const { return prefix_ + name; }

    MaybeError boolean(const char* name, bool& out) const {
        const Json* v = find(name);
        if (!v) return std::nullopt;
        if (!v->is_boolean()) return wrong_type(param(name), "a boolean", *v);
        out = v->get<bool>();
        return std::nullopt;
    }
    MaybeError string(const char* name, std::string& out, size_t max_bytes = 1 << 20) const {
        const Json* v = find(name);
        if (!v) return std::nullopt;
        if (!v->is_string()) return wrong_type(param(name), "a string", *v);
        out = v->get<std::string>();
        if (out.size() > max_bytes)
            return ApiError::field(param(name), "invalid_value", "is {} bytes long, at most {}", out.size(), max_bytes);
        return std::nullopt;
    }
    template <typename T>
    MaybeError integer(const char* name, int64_t lo, int64_t hi, T& out) const {
        const Json* v = find(name);
        if (!v) return std::nullopt;
        int64_t x = 0;
        if (auto e = read_int(*v, param(name), lo, hi, x)) return e;
        out = T(x);
        return std::nullopt;
    }
    MaybeError number(const char* name, double lo, double hi, float& out) const {
        const Json* v = find(name);
        if (!v) return std::nullopt;
        double x = 0;
        if (auto e = read_number(*v, param(name), lo, hi, x)) return e;
        out = float(x);
        return std::nullopt;
    }

private:
    const Json& obj_;
    std::string prefix_;
};

#define LOOM_API_TRY(expr)               \
    do {                                 \
        if (auto e_ = (expr)) return e_; \
    } while (0)

ApiError unsupported(const std::string& param, std::string_view what) {
    return ApiError::field(param, "unsupported_parameter", "{} is not supported by this server", what);
}

// Fields that would change what an answer means: refused rather than ignored.
MaybeError refuse_unsupported(const Fields& f, bool chat) {
    for (const char* name : {"functions", "function_call", "audio", "prediction", "suffix"}) {
        if (const Json* v = f.find(name)) {
            if (v->is_array() && v->empty()) continue;
            return unsupported(name, name);
        }
    }
    if (!chat) {  // tools belong to chat: a completions prompt has no template to show them
        for (const char* name : {"tools", "tool_choice", "reasoning_effort", "reasoning"})
            if (f.find(name)) return unsupported(name, fmt::format("{} on /v1/completions", name));
    }
    if (const Json* v = f.find("modalities")) {
        if (!(*v == Json::array({"text"}))) return unsupported("modalities", "an output other than [\"text\"]");
    }
    if (!chat) {
        if (const Json* v = f.find("best_of")) {
            if (!(v->is_number_integer() && v->get<int64_t>() == 1))
                return unsupported("best_of", "best_of other than 1");
        }
    }
    return std::nullopt;
}

MaybeError parse_token_id(const Json& v, const std::string& param, const Limits& lim, int32_t& out) {
    int64_t id = 0;
    if (!v.is_number_integer() && !v.is_number_float()) return wrong_type(param, "a token id (integer)", v);
    if (auto e = read_int(v, param, 0, std::numeric_limits<int64_t>::max(), id)) {
        if (e->code == "invalid_type") return e;
        return ApiError::field(param, "invalid_value", "token id outside the vocabulary of {} tokens", lim.n_vocab);
    }
    if (id >= lim.n_vocab)
        return ApiError::field(param, "invalid_value", "token id {} is outside the vocabulary of {} tokens", id,
                               lim.n_vocab);
    out = int32_t(id);
    return std::nullopt;
}

MaybeError parse_stop(const Fields& f, const Limits& lim, GenerationParams& g) {
    const Json* v = f.find("stop");
    if (!v) return std::nullopt;
    auto one = [&](const Json& s, const std::string& param) -> MaybeError {
        if (s.is_string()) {
            std::string text = s.get<std::string>();
            if (text.empty()) return ApiError::field(param, "invalid_value", "a stop string must not be empty");
            if (text.size() > lim.max_stop_bytes)
                return ApiError::field(param, "invalid_value", "is {} bytes long, at most {}", text.size(),
                                       lim.max_stop_bytes);
            g.stop.push_back(std::move(text));
            return std::nullopt;
        }
        if (s.is_number()) {  // a token id: an extension, for stopping on a token that has no text of its own
            int32_t id = 0;
            LOOM_API_TRY(parse_token_id(s, param, lim, id));
            g.stop_ids.push_back(id);
            return std::nullopt;
        }
        return wrong_type(param, "a string or a token id", s);
    };
    if (!v->is_array()) return one(*v, "stop");
    if (int64_t(v->size()) > lim.max_stop)
        return ApiError::field("stop", "invalid_value", "has {} entries, at most {}", v->size(), lim.max_stop);
    for (size_t i = 0; i < v->size(); ++i) LOOM_API_TRY(one((*v)[i], fmt::format("stop[{}]", i)));
    return std::nullopt;
}

MaybeError parse_logit_bias(const Fields& f, const Limits& lim, runtime::SamplingParams& s) {
    const Json* v = f.find("logit_bias");
    if (!v) return std::nullopt;
    if (!v->is_object()) return wrong_type("logit_bias", "an object of token id → bias", *v);
    if (v->size() > 1024)
        return ApiError::field("logit_bias", "invalid_value", "has {} entries, at most 1024", v->size());
    for (auto it = v->begin(); it != v->end(); ++it) {
        const std::string param = "logit_bias." + it.key();
        const std::string& key = it.key();
        char* end = nullptr;
        errno = 0;
        const long long id = key.empty() ? -1 : std::strtoll(key.c_str(), &end, 10);
        if (key.empty() || *end != '\0' || errno != 0 || id < 0)
            return ApiError::field(param, "invalid_value", "the key must be a token id (a non-negative integer)");
        if (id >= lim.n_vocab)
            return ApiError::field(param, "invalid_value", "token id {} is outside the vocabulary of {} tokens", id,
                                   lim.n_vocab);
        double bias = 0;
        LOOM_API_TRY(read_number(it.value(), param, -100.0, 100.0, bias));
        s.logit_bias[int32_t(id)] = float(bias);
    }
    return std::nullopt;
}

// The fields shared by chat and completions. `chat` picks the logprobs shape: a boolean + top_logprobs
// (chat), or an integer (legacy completions).
MaybeError parse_generation(const Json& body, const Limits& lim, bool chat, GenerationParams& g, std::string_view raw) {
    const Fields f(body);
    LOOM_API_TRY(refuse_unsupported(f, chat));
    LOOM_API_TRY(parse_output_format(body, raw, g.grammar));
    auto& s = g.sampling;
    // OpenAI's defaults: the distribution as the model gives it.
    s.temperature = 1.0f;
    s.top_k = 0;
    s.top_p = 1.0f;
    s.min_p = 0.0f;
    s.repeat_penalty = 1.0f;
    s.presence_penalty = 0.0f;
    s.frequency_penalty = 0.0f;
    LOOM_API_TRY(f.number("temperature", 0.0, 2.0, s.temperature));
    LOOM_API_TRY(f.number("top_p", 0.0, 1.0, s.top_p));
    LOOM_API_TRY(f.integer("top_k", 0, std::numeric_limits<int32_t>::max(), s.top_k));
    LOOM_API_TRY(f.number("min_p", 0.0, 1.0, s.min_p));
    LOOM_API_TRY(f.number("presence_penalty", -2.0, 2.0, s.presence_penalty));
    LOOM_API_TRY(f.number("frequency_penalty", -2.0, 2.0, s.frequency_penalty));
    LOOM_API_TRY(f.number("repetition_penalty", 0.01, 10.0, s.repeat_penalty));
    if (f.find("seed")) {
        int64_t seed = 0;
        LOOM_API_TRY(f.integer("seed", std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(), seed));
        s.seed = uint64_t(seed);
        if (s.seed == runtime::kRandomSeed) s.seed = 0;  // -1 would read as "random"; keep it a fixed seed
        g.seed_given = true;
    }
    LOOM_API_TRY(parse_logit_bias(f, lim, s));

    const int64_t kMaxTokens = std::numeric_limits<int32_t>::max();
    LOOM_API_TRY(f.integer("max_tokens", 1, kMaxTokens, g.max_tokens));
    if (chat) LOOM_API_TRY(f.integer("max_completion_tokens", 1, kMaxTokens, g.max_tokens));
    // llama-server's name for max_tokens; -1 is its "no limit".
    if (const Json* np = f.find("n_predict")) {
        if (f.find("max_tokens") || f.find("max_completion_tokens"))
            return ApiError::field("n_predict", "invalid_value", "cannot be combined with max_tokens: give one");
        int64_t n = 0;
        LOOM_API_TRY(read_int(*np, "n_predict", -1, kMaxTokens, n));
        if (n == 0) return ApiError::field("n_predict", "invalid_value", "must be -1 (no limit) or at least 1 (got 0)");
        g.max_tokens = n;
    }
    LOOM_API_TRY(parse_stop(f, lim, g));
    LOOM_API_TRY(f.integer("n", 1, lim.max_n, g.n));
    LOOM_API_TRY(f.boolean("stream", g.stream));
    if (const Json* so = f.find("stream_options")) {
        if (!so->is_object()) return wrong_type("stream_options", "an object", *so);
        if (!g.stream) return ApiError::field("stream_options", "invalid_value", "is only allowed when stream is true");
        LOOM_API_TRY(Fields(*so, "stream_options.").boolean("include_usage", g.include_usage));
    }
    LOOM_API_TRY(f.string("user", g.user, 256));

    if (chat) {
        bool want = false;
        LOOM_API_TRY(f.boolean("logprobs", want));
        int top = 0;
        LOOM_API_TRY(f.integer("top_logprobs", 0, lim.max_top_logprobs, top));
        if (f.find("top_logprobs") && !want)
            return ApiError::field("top_logprobs", "invalid_value", "requires logprobs to be true");
        g.logprobs = want ? top : -1;
    } else {
        LOOM_API_TRY(f.integer("logprobs", 0, lim.max_top_logprobs, g.logprobs));
        if (!f.find("logprobs")) g.logprobs = -1;
    }
    return std::nullopt;
}

MaybeError parse_model(const Fields& f, std::string& model) { return f.string("model", model, 256); }

// Chat content: a string, or an array of {"type": "text", "text": ...} parts (joined); other part types are
// refused (this server reads text only).
MaybeError parse_content(const Json& v, const std::string& param, std::string& out) {
    if (v.is_string()) {
        out = v.get<std::string>();
        return std::nullopt;
    }
    if (!v.is_array()) return wrong_type(param, "a string or an array of content parts", v);
    for (size_t i = 0; i < v.size(); ++i) {
        const std::string p = fmt::format("{}[{}]", param, i);
        const Json& part = v[i];
        if (!part.is_object()) return wrong_type(p, "a content part object", part);
        auto type = part.find("type");
        if (type == part.end() || !type->is_string())
            return ApiError::field(p + ".type", "invalid_value", "is required (\"text\")");
        if (*type != "text")
            return ApiError::field(p + ".type", "unsupported_parameter",
                                   "content parts of type '{}' are not supported (only \"text\")",
                                   type->get<std::string>());
        auto text = part.find("text");
        if (text == part.end() || !text->is_string())
            return ApiError::field(p + ".text", "invalid_type", "expected a string");
        out += text->get<std::string>();
    }
    return std::nullopt;
}

MaybeError parse_messages(const Json& body, std::vector<ChatMessage>& out) {
    auto it = body.find("messages");
    if (it == body.end() || it->is_null())
        return ApiError::field("messages", "missing_required_parameter", "is required");
    if (!it->is_array()) return wrong_type("messages", "an array", *it);
    if (it->empty()) return ApiError::field("messages", "invalid_value", "must not be empty");
    if (it->size() > 100000)
        return ApiError::field("messages", "invalid_value", "has {} messages, too many", it->size());
    for (size_t i = 0; i < it->size(); ++i) {
        const Json& m = (*it)[i];
        const std::string p = fmt::format("messages[{}]", i);
        if (!m.is_object()) return wrong_type(p, "a message object", m);
        const Fields f(m, p + ".");
        ChatMessage msg;
        auto role = m.find("role");
        if (role == m.end() || !role->is_string())
            return ApiError::field(p + ".role", "invalid_value", "is required (a string)");
        msg.role = role->get<std::string>();
        if (msg.role == "developer") msg.role = "system";
        if (msg.role == "function")
            return ApiError::field(p + ".role", "unsupported_parameter",
                                   "role 'function' (the deprecated functions API) is not supported: use 'tool'");
        if (msg.role != "system" && msg.role != "user" && msg.role != "assistant" && msg.role != "tool")
            return ApiError::field(p + ".role", "invalid_value",
                                   "unknown role '{}' (expected system, developer, user, assistant or tool)", msg.role);
        if (f.find("function_call"))
            return ApiError::field(p + ".function_call", "unsupported_parameter",
                                   "the deprecated functions API is not supported: use tool_calls");
        if (const Json* calls = f.find("tool_calls")) {
            if (msg.role != "assistant")
                return ApiError::field(p + ".tool_calls", "invalid_value", "only assistant messages carry tool calls");
            LOOM_API_TRY(parse_message_tool_calls(*calls, p + ".tool_calls", msg.tool_calls));
        }
        if (msg.role == "tool") {
            if (!f.find("tool_call_id"))
                return ApiError::field(p + ".tool_call_id", "missing_required_parameter",
                                       "is required in a tool message (the id of the call it answers)");
            LOOM_API_TRY(f.string("tool_call_id", msg.tool_call_id, 256));
        }
        const Json* content = f.find("content");
        if (!content) {
            if (msg.role != "assistant")
                return ApiError::field(p + ".content", "missing_required_parameter", "is required");
        } else {
            LOOM_API_TRY(parse_content(*content, p + ".content", msg.content));
        }
        LOOM_API_TRY(f.string("name", msg.name, 256));
        out.push_back(std::move(msg));
    }
    return std::nullopt;
}

MaybeError parse_token_array(const Json& v, const std::string& param, const Limits& lim, std::vector<int32_t>& out) {
    out.reserve(v.size());
    for (size_t i = 0; i < v.size(); ++i) {
        int32_t id = 0;
        LOOM_API_TRY(parse_token_id(v[i], fmt::format("{}[{}]", param, i), lim, id));
        out.push_back(id);
    }
    return std::nullopt;
}

// prompt: "text" | ["text", ...] | [id, ...] | [[id, ...], ...]
MaybeError parse_prompts(const Json& body, const Limits& lim, std::vector<PromptInput>& out) {
    auto it = body.find("prompt");
    if (it == body.end() || it->is_null())
        return ApiError::field("prompt", "missing_required_parameter", "is required");
    const Json& v = *it;
    auto text = [&](const Json& s, const std::string& param) -> MaybeError {
        if (s.get_ref<const std::string&>().empty())
            return ApiError::field(param, "invalid_value", "the prompt is empty");
        out.push_back({s.get<std::string>(), {}, false});
        return std::nullopt;
    };
    if (v.is_string()) return text(v, "prompt");
    if (!v.is_array()) return wrong_type("prompt", "a string, an array of strings or an array of token ids", v);
    if (v.empty()) return ApiError::field("prompt", "invalid_value", "the prompt is empty");
    if (v[0].is_number()) {  // one prompt of token ids
        PromptInput p;
        p.is_tokens = true;
        LOOM_API_TRY(parse_token_array(v, "prompt", lim, p.tokens));
        out.push_back(std::move(p));
        return std::nullopt;
    }
    if (int64_t(v.size()) > lim.max_prompts)
        return ApiError::field("prompt", "invalid_value", "has {} prompts, at most {}", v.size(), lim.max_prompts);
    for (size_t i = 0; i < v.size(); ++i) {
        const std::string p = fmt::format("prompt[{}]", i);
        if (v[i].is_string()) {
            LOOM_API_TRY(text(v[i], p));
        } else if (v[i].is_array()) {
            if (v[i].empty()) return ApiError::field(p, "invalid_value", "the prompt is empty");
            PromptInput in;
            in.is_tokens = true;
            LOOM_API_TRY(parse_token_array(v[i], p, lim, in.tokens));
            out.push_back(std::move(in));
        } else {
            return wrong_type(p, "a string or an array of token ids", v[i]);
        }
    }
    return std::nullopt;
}

}  // namespace

MaybeError parse_body(std::string_view body, Json& out) {
    out = Json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (out.is_discarded())
        return ApiError::make(400, "invalid_request_error", "invalid_json", "the body is not valid JSON");
    if (!out.is_object())
        return ApiError::make(400, "invalid_request_error", "invalid_type",
                              fmt::format("the body must be a JSON object, got {}", type_name(out)));
    return std::nullopt;
}

// reasoning_effort, or the Responses API's reasoning: {"effort": ...}.
MaybeError parse_reasoning_effort(const Fields& f, std::string& out) {
    std::string effort, nested;
    LOOM_API_TRY(f.string("reasoning_effort", effort, 32));
    if (const Json* r = f.find("reasoning")) {
        if (!r->is_object()) return wrong_type("reasoning", "an object", *r);
        LOOM_API_TRY(Fields(*r, "reasoning.").string("effort", nested, 32));
    }
    if (!effort.empty() && !nested.empty() && effort != nested)
        return ApiError::field("reasoning.effort", "invalid_value", "'{}' differs from reasoning_effort '{}'", nested,
                               effort);
    out = effort.empty() ? nested : effort;
    if (out.empty()) return std::nullopt;
    for (const char* v : {"none", "minimal", "low", "medium", "high"})
        if (out == v) return std::nullopt;
    return ApiError::field(effort.empty() ? "reasoning.effort" : "reasoning_effort", "invalid_value",
                           "unknown effort '{}' (expected none, minimal, low, medium or high)", out);
}

MaybeError parse_chat_request(const Json& body, const Limits& lim, ChatRequest& out, std::string_view raw) {
    const Fields f(body);
    LOOM_API_TRY(parse_model(f, out.model));
    LOOM_API_TRY(parse_messages(body, out.messages));
    LOOM_API_TRY(parse_generation(body, lim, /*chat=*/true, out.gen, raw));
    if (const Json* kw = f.find("chat_template_kwargs")) {
        if (!kw->is_object()) return wrong_type("chat_template_kwargs", "an object", *kw);
        out.template_kwargs = OrderedJson::parse(kw->dump());  // the template API takes ordered JSON
    }
    LOOM_API_TRY(f.boolean("add_generation_prompt", out.add_generation_prompt));
    LOOM_API_TRY(f.boolean("continue_final_message", out.continue_final_message));
    if (out.continue_final_message) {
        if (f.find("add_generation_prompt") && out.add_generation_prompt)
            return ApiError::field("continue_final_message", "invalid_value",
                                   "cannot be combined with add_generation_prompt: the prompt either continues the "
                                   "last message or opens a new one");
        out.add_generation_prompt = false;
        if (out.messages.back().content.empty())
            return ApiError::field("continue_final_message", "invalid_value",
                                   "the last message has no content to continue");
    }
    LOOM_API_TRY(parse_reasoning_effort(f, out.reasoning_effort));
    if (f.find("tools") || f.find("tool_choice") || f.find("parallel_tool_calls")) {
        OrderedJson ordered;  // the body in the client's key order, for the parameter schemas
        if (!raw.empty()) ordered = OrderedJson::parse(raw, nullptr, /*allow_exceptions=*/false);
        if (!ordered.is_object()) ordered = OrderedJson::parse(body.dump());
        LOOM_API_TRY(parse_tool_request(body, ordered, out.tools));
    }
    return std::nullopt;
}

MaybeError parse_completion_request(const Json& body, const Limits& lim, CompletionRequest& out, std::string_view raw) {
    const Fields f(body);
    LOOM_API_TRY(parse_model(f, out.model));
    LOOM_API_TRY(parse_prompts(body, lim, out.prompts));
    LOOM_API_TRY(parse_generation(body, lim, /*chat=*/false, out.gen, raw));
    LOOM_API_TRY(f.boolean("echo", out.echo));
    if (out.echo && out.gen.stream)
        return ApiError::field("echo", "unsupported_parameter", "echo is not supported together with stream");
    return std::nullopt;
}

MaybeError parse_tokenize_request(const Json& body, TokenizeRequest& out) {
    const Fields f(body);
    if (!f.find("content")) return ApiError::field("content", "missing_required_parameter", "is required");
    LOOM_API_TRY(f.string("content", out.content, size_t(8) << 20));
    LOOM_API_TRY(f.boolean("add_special", out.add_special));
    LOOM_API_TRY(f.boolean("with_pieces", out.with_pieces));
    return std::nullopt;
}

MaybeError parse_detokenize_request(const Json& body, const Limits& lim, DetokenizeRequest& out) {
    auto it = body.find("tokens");
    if (it == body.end() || it->is_null())
        return ApiError::field("tokens", "missing_required_parameter", "is required");
    if (!it->is_array()) return wrong_type("tokens", "an array of token ids", *it);
    return parse_token_array(*it, "tokens", lim, out.tokens);
}

}  // namespace loom::server
