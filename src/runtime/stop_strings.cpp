// Stop-string matching over streamed text: find the first completed stop, else hold back the longest tail
// that a stop string could still complete. The held text is shorter than the longest stop string, so each
// piece costs a scan of a few dozen bytes per stop string.
#include "runtime/stop_strings.h"

#include <algorithm>
#include <utility>

namespace loom::runtime {

StopMatcher::StopMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {}

StopResult StopMatcher::feed(std::string_view piece) {
    StopResult r;
    if (stopped_) {
        r.stopped = true;
        r.stop_index = stop_index_;
        return r;
    }
    held_.append(piece);
    const std::string_view text = held_;

    // The held part had no complete stop (it was scanned when it arrived), so any match ends in `piece`;
    // searching all of `text` still finds it, and the first occurrence of a stop has its earliest end.
    size_t best_start = std::string_view::npos, best_end = std::string_view::npos;
    int32_t best = -1;
    for (size_t i = 0; i < stops_.size(); ++i) {
        const std::string& s = stops_[i];
        if (s.empty()) continue;
        const size_t start = text.find(s);
        if (start == std::string_view::npos) continue;
        const size_t end = start + s.size();
        if (end < best_end || (end == best_end && start < best_start)) {
            best_start = start;
            best_end = end;
            best = int32_t(i);
        }
    }
    if (best >= 0) {
        r.text = held_.substr(0, best_start);
        r.stopped = true;
        r.stop_index = best;
        stopped_ = true;
        stop_index_ = best;
        held_.clear();
        return r;
    }

    // Any later match starts at a tail of `text` that is a proper prefix of a stop string; the longest such
    // tail is the earliest place one could start, and everything before it is safe.
    size_t hold = 0;
    for (const std::string& s : stops_) {
        if (s.empty()) continue;
        for (size_t len = std::min(s.size() - 1, text.size()); len > hold; --len) {
            if (text.substr(text.size() - len) == std::string_view(s).substr(0, len)) {
                hold = len;
                break;
            }
        }
    }
    r.text = held_.substr(0, held_.size() - hold);
    held_.erase(0, held_.size() - hold);
    return r;
}

StopResult StopMatcher::flush() {
    StopResult r;
    r.text = std::move(held_);
    held_.clear();
    r.stopped = stopped_;
    r.stop_index = stop_index_;
    return r;
}

void StopMatcher::reset() {
    held_.clear();
    stopped_ = false;
    stop_index_ = -1;
}

}  // namespace loom::runtime
