// Splits a chat reply into reasoning_content and content for templates that make the model think between
// <think> and </think>, as text streams in: a marker cut across pieces is held back until it is decided.
#pragma once

#include <string>
#include <string_view>

namespace loom::server {

class ReasoningSplitter {
public:
    struct Out {
        std::string reasoning, content;
    };

    // enabled = false: everything is content. inside: the prompt already opened the thinking block.
    ReasoningSplitter(bool enabled, bool inside)
        : state_(!enabled ? State::content
                 : inside ? State::thinking
                          : State::start) {}

    Out feed(std::string_view text);
    Out flush();  // the end of the reply: held text goes where it was heading

    // Whether a rendered prompt ends inside an opened thinking block.
    static bool prompt_opens_thinking(std::string_view prompt);

private:
    enum class State { start, thinking, content };
    State state_;
    std::string held_;
    bool after_close_ = false;  // just left the block: newlines that separate it from the answer are dropped
};

}  // namespace loom::server
