// The model a server answers with: weights, vocabulary, tokenizer, chat template, and turning requests into
// prompt token ids (chat template rendering, tokenization, length checks against the context).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "server/request.h"
#include "server/tool_format.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace loom::server {

struct ServedModel {
    std::string name;  // the id /v1/models lists and responses carry
    std::unique_ptr<runtime::Model> model;
    std::unique_ptr<tokenizer::Vocab> vocab;
    std::unique_ptr<tokenizer::Tokenizer> tokenizer;
    std::optional<tokenizer::ChatTemplate> chat_template;
    bool thinking_markers = false;            // the template writes <think>…</think>: split reasoning_content out
    const ToolFormat* tool_format = nullptr;  // how the template's model writes tool calls; null: not read
    int64_t n_ctx = 0;                        // positions per sequence

    // Loads the vocabulary and the chat template: the file's, `template_source` when not empty, or a plain
    // "role: content" template for models that carry none.
    static Result<ServedModel> create(std::unique_ptr<runtime::Model> model, std::string name, int64_t n_ctx,
                                      const std::string& template_source);

    Limits limits(int max_n) const;

    // The rendered chat prompt and its ids (ids: BOS added when the vocabulary wants one and the template
    // did not write it). Tools, tool calls and reasoning_effort go to the template as apply_chat_template
    // passes them; with continue_final_message the text ends where the last message's content does.
    MaybeError chat_prompt(const ChatRequest& req, std::string& text, std::vector<int32_t>& ids) const;
    // One completions prompt's ids (text: BOS as the vocabulary says; token ids: as given), and its text.
    MaybeError completion_prompt(const PromptInput& in, const std::string& param, std::string& text,
                                 std::vector<int32_t>& ids) const;
    // 400 unless 1 <= ids.size() < n_ctx, naming the counts.
    MaybeError check_length(const std::vector<int32_t>& ids, const std::string& param) const;
};

}  // namespace loom::server
