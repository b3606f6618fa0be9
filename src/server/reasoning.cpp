// The <think> … </think> split, one state machine over streamed text.
#include "server/reasoning.h"

namespace loom::server {
namespace {

constexpr std::string_view kOpen = "<think>", kClose = "</think>";

// The length of the longest tail of `s` that is a proper prefix of `marker`: text that may still become it.
size_t partial_tail(std::string_view s, std::string_view marker) {
    for (size_t n = std::min(s.size(), marker.size() - 1); n > 0; --n)
        if (s.substr(s.size() - n) == marker.substr(0, n)) return n;
    return 0;
}

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

}  // namespace

bool ReasoningSplitter::prompt_opens_thinking(std::string_view prompt) {
    while (!prompt.empty() && is_space(prompt.back())) prompt.remove_suffix(1);
    return prompt.size() >= kOpen.size() && prompt.substr(prompt.size() - kOpen.size()) == kOpen;
}

ReasoningSplitter::Out ReasoningSplitter::feed(std::string_view text) {
    Out out;
    held_ += text;
    for (;;) {
        if (state_ == State::start) {
            size_t i = 0;
            while (i < held_.size() && is_space(held_[i])) ++i;
            const std::string_view rest = std::string_view(held_).substr(i);
            if (rest.size() >= kOpen.size() && rest.substr(0, kOpen.size()) == kOpen) {
                held_.erase(0, i + kOpen.size());
                state_ = State::thinking;
                continue;
            }
            if (rest.size() < kOpen.size() && kOpen.substr(0, rest.size()) == rest) return out;  // undecided
            state_ = State::content;
            continue;
        }
        if (state_ == State::thinking) {
            const size_t at = held_.find(kClose);
            if (at == std::string::npos) {
                const size_t keep = partial_tail(held_, kClose);
                out.reasoning += held_.substr(0, held_.size() - keep);
                held_.erase(0, held_.size() - keep);
                return out;
            }
            out.reasoning += held_.substr(0, at);
            held_.erase(0, at + kClose.size());
            state_ = State::content;
            after_close_ = true;
            continue;
        }
        if (after_close_) {
            size_t i = 0;
            while (i < held_.size() && is_space(held_[i])) ++i;
            held_.erase(0, i);
            if (held_.empty()) return out;
            after_close_ = false;
        }
        out.content += held_;
        held_.clear();
        return out;
    }
}

ReasoningSplitter::Out ReasoningSplitter::flush() {
    Out out;
    if (state_ == State::thinking) out.reasoning = std::move(held_);
    else if (!after_close_) out.content = std::move(held_);
    held_.clear();
    return out;
}

}  // namespace loom::server
