// Prompts from requests: chat template or plain text → token ids, checked against the context.
#include "server/served_model.h"

#include <fmt/format.h>

namespace loom::server {
namespace {

// For a model without a chat template: one "role: content" line per message, then the assistant's turn.
constexpr const char* kPlainTemplate =
    "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}";

}  // namespace

Result<ServedModel> ServedModel::create(std::unique_ptr<runtime::Model> model, std::string name, int64_t n_ctx,
                                        const std::string& template_source) {
    ServedModel m;
    m.name = std::move(name);
    m.n_ctx = n_ctx;
    LOOM_TRY(tokenizer::Vocab vocab, tokenizer::Vocab::load(model->file()));
    m.vocab = std::make_unique<tokenizer::Vocab>(std::move(vocab));
    m.tokenizer = std::make_unique<tokenizer::Tokenizer>(*m.vocab);
    std::string source = template_source;
    if (source.empty()) {
        auto from_file = tokenizer::chat_template_source(model->file());
        source = from_file.ok() ? *from_file : kPlainTemplate;
    }
    auto tmpl = tokenizer::ChatTemplate::parse(source);
    if (!tmpl.ok()) return std::move(tmpl).error().with_context("chat template");
    m.chat_template = std::move(tmpl).value();
    m.thinking_markers = source.find("</think>") != std::string::npos;
    m.tool_format = detect_tool_format(source);
    m.model = std::move(model);
    return m;
}

Limits ServedModel::limits(int max_n) const {
    Limits l;
    l.n_vocab = vocab->n_tokens();
    l.n_ctx = n_ctx;
    l.max_n = max_n;
    return l;
}

MaybeError ServedModel::check_length(const std::vector<int32_t>& ids, const std::string& param) const {
    if (ids.empty()) return ApiError::field(param, "invalid_value", "the prompt is empty (0 tokens)");
    if (int64_t(ids.size()) >= n_ctx)
        return ApiError::field(param, "context_length_exceeded",
                               "the prompt has {} tokens; the context size is {} tokens per sequence, so a prompt may "
                               "have at most {}",
                               ids.size(), n_ctx, n_ctx - 1);
    return std::nullopt;
}

namespace {

// The messages as the template gets them. `string_arguments`: tool call arguments as JSON text rather than
// objects, for templates that concatenate them as strings.
nlohmann::ordered_json template_messages(const ChatRequest& req, bool string_arguments) {
    nlohmann::ordered_json messages = nlohmann::ordered_json::array();
    for (const ChatMessage& m : req.messages) {
        nlohmann::ordered_json j = {{"role", m.role}, {"content", m.content}};
        if (!m.name.empty()) j["name"] = m.name;
        if (!m.tool_calls.is_null()) {
            nlohmann::ordered_json calls = m.tool_calls;
            if (string_arguments)
                for (auto& c : calls) c["function"]["arguments"] = c["function"]["arguments"].dump();
            j["tool_calls"] = std::move(calls);
        }
        if (m.role == "tool") j["tool_call_id"] = m.tool_call_id;
        messages.push_back(std::move(j));
    }
    return messages;
}

// chat_template_kwargs plus what reasoning_effort switches: the kwargs win where they set the same name.
nlohmann::ordered_json template_kwargs(const ChatRequest& req) {
    nlohmann::ordered_json kw = req.template_kwargs;
    if (!req.reasoning_effort.empty()) {
        if (!kw.contains("reasoning_effort")) kw["reasoning_effort"] = req.reasoning_effort;
        if (!kw.contains("enable_thinking"))
            kw["enable_thinking"] = req.reasoning_effort != "none" && req.reasoning_effort != "minimal";
    }
    return kw;
}

}  // namespace

MaybeError ServedModel::chat_prompt(const ChatRequest& req, std::string& text, std::vector<int32_t>& ids) const {
    const nlohmann::ordered_json kwargs = template_kwargs(req);
    auto render = [&](bool string_arguments) {
        return chat_template->render(tokenizer::chat_context(*vocab, template_messages(req, string_arguments),
                                                             req.add_generation_prompt, req.tools.tools, kwargs));
    };
    auto rendered = render(false);
    bool has_calls = false;
    for (const ChatMessage& m : req.messages) has_calls = has_calls || !m.tool_calls.is_null();
    if (!rendered.ok() && has_calls) rendered = render(true);  // a template that wants arguments as text
    // A template that raises (e.g. "roles must alternate") is the request's fault, not the server's.
    if (!rendered.ok())
        return ApiError::field("messages", "invalid_value", "the chat template refused them: {}",
                               rendered.error().message());
    text = std::move(rendered).value();
    if (req.continue_final_message) {
        // As Hugging Face does: cut after the last occurrence of the final message's (trimmed) content.
        const std::string& last = req.messages.back().content;
        size_t b = last.find_first_not_of(" \t\r\n"), e = last.find_last_not_of(" \t\r\n");
        const std::string core = b == std::string::npos ? last : last.substr(b, e - b + 1);
        const size_t at = text.rfind(core);
        if (at == std::string::npos)
            return ApiError::field("continue_final_message", "invalid_value",
                                   "the chat template does not write the last message's content as given");
        text.resize(at + core.size());
    }
    auto enc = tokenizer::encode_chat_prompt(*tokenizer, *vocab, text);
    if (!enc.ok()) return ApiError::field("messages", "invalid_value", "{}", enc.error().message());
    ids = std::move(enc).value();
    return check_length(ids, "messages");
}

MaybeError ServedModel::completion_prompt(const PromptInput& in, const std::string& param, std::string& text,
                                          std::vector<int32_t>& ids) const {
    if (in.is_tokens) {
        ids = in.tokens;
        text = tokenizer->decode(ids);
    } else {
        auto enc = tokenizer->encode(in.text, /*add_special=*/true, /*parse_special=*/true);
        if (!enc.ok()) return ApiError::field(param, "invalid_value", "{}", enc.error().message());
        ids = std::move(enc).value();
        text = in.text;
    }
    return check_length(ids, param);
}

}  // namespace loom::server
