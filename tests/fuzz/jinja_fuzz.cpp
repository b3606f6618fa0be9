// libFuzzer target for the chat-template engine: a GGUF file's tokenizer.chat_template is untrusted text.
// Arbitrary bytes are parsed and, when they parse, rendered against a small conversation under tight
// budgets. Invariants: no crash, no hang, and output within the output budget.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <nlohmann/json.hpp>

#include "tokenizer/chat_template.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using loom::tokenizer::ChatTemplate;
    using loom::tokenizer::ChatTemplateOptions;
    static const nlohmann::ordered_json ctx = nlohmann::ordered_json::parse(R"({
        "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": "hi <b>"},
                     {"role": "assistant", "content": "ok", "tool_calls": [{"function": {"name": "f", "arguments": {"a": 1}}}]},
                     {"role": "tool", "content": "1"}, {"role": "user", "content": ""}],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
        "add_generation_prompt": true, "bos_token": "<s>", "eos_token": "</s>", "enable_thinking": false})");
    ChatTemplateOptions opt;
    opt.limits.max_steps = 200000;
    opt.limits.max_output = 1 << 20;
    opt.limits.max_seconds = 1.0;
    opt.limits.now_unix = 0;
    auto t = ChatTemplate::parse(std::string(reinterpret_cast<const char*>(data), size), opt);
    if (!t.ok()) return 0;
    auto r = t->render(ctx);
    if (r.ok() && r->size() > opt.limits.max_output) {
        std::fprintf(stderr, "jinja_fuzz: output of %zu bytes beyond the budget\n", r->size());
        std::abort();
    }
    return 0;
}
