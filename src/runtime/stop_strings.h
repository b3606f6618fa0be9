// Stop strings for streamed generation: decides how much of the generated text may be shown now, holding
// back a tail that could still become a stop string, and ends the text right before the first stop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loom::runtime {

// What feed() or flush() returns.
struct StopResult {
    std::string text;         // safe to emit now (may be empty)
    bool stopped = false;     // a stop string was completed: `text` ends right before it; generation ends
    int32_t stop_index = -1;  // when stopped: the index of the stop string in the constructor's list
};

// Matches stop strings against text that arrives piece by piece (one token's bytes at a time).
//
// The rule: generation stops at the first byte where any stop string is complete; if several complete at
// that byte, the longest wins (it starts earliest). Emitted text ends right before the winner's start, and
// nothing after it is ever emitted. The outcome depends only on the bytes, never on how they were cut into
// pieces. (llama.cpp's server picks the earliest *start* among the matches in the text so far, which can
// depend on the cut when one stop string lies inside a longer one.)
//
// Matching is on bytes. UTF-8 is the caller's business; for valid UTF-8 text and stop strings, a held-back
// tail starts at a character boundary, so emitted text never ends inside a character the text did not.
// Empty stop strings are ignored (they would stop before the first byte). Not thread-safe.
class StopMatcher {
public:
    explicit StopMatcher(std::vector<std::string> stops = {});

    // Appends `piece` to the text and returns what can be emitted now. After a stop, returns nothing more.
    StopResult feed(std::string_view piece);

    // The end of the text: returns the held-back text (nothing after a stop). Call reset() before
    // feeding another text: what was flushed is no longer matched against.
    StopResult flush();

    // Forgets the text so far and any stop: ready for a new generation with the same stop strings.
    void reset();

    bool stopped() const { return stopped_; }
    const std::vector<std::string>& stops() const { return stops_; }

private:
    std::vector<std::string> stops_;
    std::string held_;  // text not yet emitted: the longest tail that is a proper prefix of some stop
    bool stopped_ = false;
    int32_t stop_index_ = -1;
};

}  // namespace loom::runtime
