// Chat templates: the Jinja template a model carries in tokenizer.chat_template, rendered as Hugging Face's
// apply_chat_template does (jinja2 with trim_blocks and lstrip_blocks, loop controls, raise_exception,
// strftime_now, and a tojson that keeps non-ASCII text), by loom's own Jinja subset (tokenizer/jinja/).
//
// Sandboxed by construction: a template reaches only the context given to render() and the built-ins, and
// values cannot be modified (lists and dicts are immutable, as in HF's immutable sandbox; namespace()
// attributes are the one mutable thing). Budgets (jinja::Limits) bound steps, call depth, output and
// string sizes and time, so a hostile template ends with an error quickly and in bounded memory.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/parser.h"

namespace loom::formats {
class GgufFile;
}

namespace loom::tokenizer {

class Tokenizer;
class Vocab;

struct ChatTemplateOptions {
    jinja::ParseOptions parse;  // trim_blocks, lstrip_blocks: on, as HF renders
    jinja::Limits limits;
};

class ChatTemplate {
public:
    // Parses a template; syntax errors read `chat template:<line>: <what>`.
    static Result<ChatTemplate> parse(std::string source, const ChatTemplateOptions& opt = {});

    // Renders with `context` (a JSON object) as the template's variables: typically messages, tools,
    // add_generation_prompt, bos_token, eos_token, and template kwargs such as enable_thinking.
    // Thread-safe: each call has its own interpreter.
    Result<std::string> render(const nlohmann::ordered_json& context) const;

    const std::string& source() const { return *source_; }

private:
    std::shared_ptr<const std::string> source_;
    std::shared_ptr<const jinja::Body> body_;
    ChatTemplateOptions opt_;
};

// The template stored in a GGUF file: tokenizer.chat_template, or tokenizer.chat_template.<name>.
Result<std::string> chat_template_source(const formats::GgufFile& f, std::string_view name = "");

// The context apply_chat_template passes: messages, tools (null when there are none),
// add_generation_prompt, bos_token and eos_token (the vocabulary's BOS/EOS texts, "" when it has none),
// and the template kwargs (e.g. {"enable_thinking": false}) on top. The rendered prompt is meant to be
// tokenized with parse_special, so that its control-token texts become their ids.
nlohmann::ordered_json chat_context(const Vocab& vocab, nlohmann::ordered_json messages, bool add_generation_prompt,
                                    nlohmann::ordered_json tools = nullptr,
                                    const nlohmann::ordered_json& kwargs = nlohmann::ordered_json::object());

// The ids of a rendered chat prompt: tokenized with parse_special and no added specials, then BOS in front when
// the vocabulary wants one and the template did not write it.
Result<std::vector<int32_t>> encode_chat_prompt(const Tokenizer& tokenizer, const Vocab& vocab, std::string_view text);

}  // namespace loom::tokenizer
