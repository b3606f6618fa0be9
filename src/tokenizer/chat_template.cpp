// ChatTemplate: parse once, render per request with a fresh interpreter.
#include "tokenizer/chat_template.h"

#include <nlohmann/json.hpp>

#include "formats/gguf_reader.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer {

Result<ChatTemplate> ChatTemplate::parse(std::string source, const ChatTemplateOptions& opt) {
    LOOM_TRY(jinja::Body body, jinja::parse(source, opt.parse));
    ChatTemplate t;
    t.source_ = std::make_shared<const std::string>(std::move(source));
    t.body_ = std::make_shared<const jinja::Body>(std::move(body));
    t.opt_ = opt;
    return t;
}

Result<std::string> ChatTemplate::render(const nlohmann::ordered_json& context) const {
    if (!context.is_object()) return Error::invalid("chat template: the context must be a JSON object");
    const jinja::Value ctx = jinja::from_json(context);
    jinja::Interpreter in(opt_.limits);
    return in.render(*body_, ctx.object());
}

Result<std::string> chat_template_source(const formats::GgufFile& f, std::string_view name) {
    const std::string key = name.empty() ? "tokenizer.chat_template" : "tokenizer.chat_template." + std::string(name);
    auto s = f.get_string(key);
    if (!s) return std::move(s).error().with_context(f.source());
    return std::string(*s);
}

nlohmann::ordered_json chat_context(const Vocab& vocab, nlohmann::ordered_json messages, bool add_generation_prompt,
                                    nlohmann::ordered_json tools, const nlohmann::ordered_json& kwargs) {
    nlohmann::ordered_json c = nlohmann::ordered_json::object();
    c["messages"] = std::move(messages);
    c["tools"] = std::move(tools);
    c["add_generation_prompt"] = add_generation_prompt;
    c["bos_token"] = vocab.valid(vocab.bos()) ? vocab.text(vocab.bos()) : std::string();
    c["eos_token"] = vocab.valid(vocab.eos()) ? vocab.text(vocab.eos()) : std::string();
    if (kwargs.is_object())
        for (const auto& [k, v] : kwargs.items()) c[k] = v;
    return c;
}

Result<std::vector<int32_t>> encode_chat_prompt(const Tokenizer& tokenizer, const Vocab& vocab, std::string_view text) {
    LOOM_TRY(std::vector<int32_t> ids, tokenizer.encode(text, /*add_special=*/false, /*parse_special=*/true));
    if (vocab.add_bos() && vocab.bos() >= 0 && (ids.empty() || ids[0] != vocab.bos()))
        ids.insert(ids.begin(), vocab.bos());
    return ids;
}

}  // namespace loom::tokenizer
