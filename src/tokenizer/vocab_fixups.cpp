// Vocab::apply_fixups: what llama.cpp decides about a vocabulary after reading its keys (llama-vocab.cpp,
// llama_vocab::impl::load): special tokens recognised by their text (end of turn, FIM pieces), the tokens that end a
// generation, and the exceptions of particular token sets, so that ids, flags and the EOG set agree with it.
#include <algorithm>
#include <string_view>
#include <vector>

#include "tokenizer/vocab.h"

namespace loom::tokenizer {
namespace {

// Some texts are written as adjacent literals: a hex escape has to end before the letters that follow it.
// NOLINTBEGIN(bugprone-suspicious-missing-comma)
// Texts llama.cpp recognises (llama_vocab::impl::load, "auto-detect special tokens by text").
constexpr std::string_view kEotTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81"
    "of\xE2\x96\x81"
    "sentence\xEF\xBD\x9C>",
    "<end_of_utterance>",
};
constexpr std::string_view kEomTexts[] = {"<|eom_id|>"};
constexpr std::string_view kFimPreTexts[] = {
    "<|fim_prefix|>",
    "<fim-prefix>",
    "<fim_prefix>",
    "<\xEF\xBD\x9C"
    "fim\xE2\x96\x81"
    "begin\xEF\xBD\x9C>",
    "<PRE>",
    "\xE2\x96\x81<PRE>",
    "<|code_prefix|>",
    "<|prefix|>",
};
constexpr std::string_view kFimSufTexts[] = {
    "<|fim_suffix|>",
    "<fim-suffix>",
    "<fim_suffix>",
    "<\xEF\xBD\x9C"
    "fim\xE2\x96\x81"
    "hole\xEF\xBD\x9C>",
    "<SUF>",
    "\xE2\x96\x81<SUF>",
    "<|code_suffix|>",
    "<|suffix|>",
};
constexpr std::string_view kFimMidTexts[] = {
    "<|fim_middle|>",
    "<fim-middle>",
    "<fim_middle>",
    "<\xEF\xBD\x9C"
    "fim\xE2\x96\x81"
    "end\xEF\xBD\x9C>",
    "<MID>",
    "\xE2\x96\x81<MID>",
    "<|code_middle|>",
    "<|middle|>",
};
constexpr std::string_view kFimPadTexts[] = {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"};
constexpr std::string_view kFimRepTexts[] = {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"};
constexpr std::string_view kFimSepTexts[] = {"<|file_sep|>"};
constexpr std::string_view kEogTexts[] = {
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<|return|>",
    "<|call|>",
    "<|flush|>",
    "<|calls|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "</s>",
    "<|eom_id|>",
    "<EOT>",
    "_<EOT>",
    "[EOT]",
    "[EOS]",
    "<|end_of_text|>",
    "<end_of_utterance>",
    "<eos>",
    "<turn|>",
    "<|tool_response>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81"
    "of\xE2\x96\x81"
    "sentence\xEF\xBD\x9C>",
    "[e~[",
};
// gpt-oss: llama.cpp always renders these, making them user-defined.
constexpr std::string_view kForcedUserDefined[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};

// NOLINTEND(bugprone-suspicious-missing-comma)

template <size_t N>
bool one_of(std::string_view s, const std::string_view (&list)[N]) {
    return std::find(std::begin(list), std::end(list), s) != std::end(list);
}

}  // namespace

void Vocab::apply_fixups() {
    // The first token (lowest id) whose text is in `texts`, unless the id is already set; it becomes control.
    auto detect = [&](int32_t& id, auto& texts) {
        if (id != kNoToken) return;
        for (int32_t i = 0; i < n_tokens(); ++i) {
            if (one_of(tokens_[size_t(i)].text, texts)) {
                id = i;
                tokens_[size_t(i)].attr |= kAttrControl;
                return;
            }
        }
    };
    detect(eot_, kEotTexts);
    detect(eom_, kEomTexts);
    detect(fim_pre_, kFimPreTexts);
    detect(fim_suf_, kFimSufTexts);
    detect(fim_mid_, kFimMidTexts);
    detect(fim_pad_, kFimPadTexts);
    detect(fim_rep_, kFimRepTexts);
    detect(fim_sep_, kFimSepTexts);
    for (auto& t : tokens_)
        if ((t.attr & kAttrControl) && t.text.find("unused") != std::string::npos) t.attr |= kAttrUnused;

    // End of generation: FIM pad/rep/sep, tokens known by their text, then eos/eot/eom.
    std::vector<bool> eog(tokens_.size(), false);
    for (int32_t id : {fim_pad_, fim_rep_, fim_sep_})
        if (id != kNoToken) eog[size_t(id)] = true;
    for (size_t i = 0; i < tokens_.size(); ++i) {
        if (one_of(tokens_[i].text, kEogTexts)) {
            eog[i] = true;
            tokens_[i].attr |= kAttrControl;
        }
        if (one_of(tokens_[i].text, kForcedUserDefined)) tokens_[i].attr = kAttrUserDefined;
    }
    for (int32_t id : {eos_, eot_, eom_})
        if (id != kNoToken) eog[size_t(id)] = true;
    // Harmony (gpt-oss) and solar-open end a message with <|end|> but not the generation.
    auto eog_with = [&](std::string_view text) -> int32_t {
        const int32_t id = find(text);
        return id != kNoToken && eog[size_t(id)] ? id : kNoToken;
    };
    const int32_t end = eog_with("<|end|>");
    const bool has_return = eog_with("<|return|>") != kNoToken, has_flush = eog_with("<|flush|>") != kNoToken;
    const bool has_call = eog_with("<|call|>") != kNoToken || eog_with("<|calls|>") != kNoToken;
    if (end != kNoToken && has_call && (has_return || has_flush)) {
        eog[size_t(end)] = false;
        tokens_[size_t(end)].attr = kAttrUserDefined;
    }
    // Gemma 4 and PLaMo 2 have an ordinary </s>.
    const int32_t s_end = eog_with("</s>");
    if (s_end != kNoToken && (eog_with("<|tool_response>") != kNoToken || eog_with("<|plamo:eos|>") != kNoToken)) {
        eog[size_t(s_end)] = false;
        tokens_[size_t(s_end)].attr = kAttrNormal;
    }
    is_eog_ = std::move(eog);
    eog_.clear();
    for (size_t i = 0; i < is_eog_.size(); ++i)
        if (is_eog_[i]) eog_.push_back(int32_t(i));
}

}  // namespace loom::tokenizer
