#include "grammar/automaton.h"

#include <algorithm>
#include <cstring>

namespace loom::grammar {

Automaton::Automaton(Grammar g) : g_(std::move(g)) {
    std::vector<Stack> stacks;
    bool can_end = false;
    size_t steps = 0;
    for (const uint32_t alt : g_.alternatives[g_.root]) expand({alt}, stacks, can_end, steps);
    intern(std::move(stacks), can_end);  // state 0, the start
}

bool Automaton::expand(Stack stack, std::vector<Stack>& out, bool& can_end, size_t& steps) {
    std::vector<Stack> work{std::move(stack)};
    while (!work.empty()) {
        Stack s = std::move(work.back());
        work.pop_back();
        if (++steps > kMaxExpansionSteps || out.size() > kMaxStacks) {
            error_ = fmt::format("grammar: too ambiguous (a step needed more than {} stacks or {} expansions)",
                                 kMaxStacks, kMaxExpansionSteps);
            return false;
        }
        // Close finished alternatives: their frame is gone, the caller's continuation is below.
        while (!s.empty() && g_.elements[s.back()].op == Element::Op::end) s.pop_back();
        if (s.empty()) {
            can_end = true;
            continue;
        }
        const uint32_t pos = s.back();
        const Element e = g_.elements[pos];
        if (e.op == Element::Op::chars) {
            out.push_back(std::move(s));
            continue;
        }
        // A rule reference: the continuation stays (dropped when nothing follows in this alternative, so a
        // right-recursive repetition keeps a stack of constant depth), and each alternative goes on top.
        if (g_.elements[pos + 1].op == Element::Op::end) s.pop_back();
        else s.back() = pos + 1;
        for (const uint32_t alt : g_.alternatives[e.arg]) {
            Stack next = s;
            next.push_back(alt);
            work.push_back(std::move(next));
        }
    }
    return true;
}

int32_t Automaton::intern(std::vector<Stack> stacks, bool can_end) {
    std::sort(stacks.begin(), stacks.end());
    stacks.erase(std::unique(stacks.begin(), stacks.end()), stacks.end());
    std::string key(1, can_end ? '1' : '0');
    for (const Stack& s : stacks) {
        const uint32_t n = uint32_t(s.size());
        key.append(reinterpret_cast<const char*>(&n), sizeof n);
        key.append(reinterpret_cast<const char*>(s.data()), s.size() * sizeof(uint32_t));
    }
    if (auto it = ids_.find(key); it != ids_.end()) return it->second;
    size_t elements = 0;
    for (const Stack& st : stacks) elements += st.size();
    if (states_.size() >= kMaxStates || n_stack_elements_ + elements > kMaxStackElements) {
        error_ = fmt::format("grammar: nested too deep (more than {} automaton states or {} stack entries)", kMaxStates,
                             kMaxStackElements);
        return kDead;
    }
    n_stack_elements_ += elements;
    auto [it, inserted] = ids_.try_emplace(std::move(key), int32_t(states_.size()));
    if (inserted) {
        State st;
        st.stacks = std::move(stacks);
        st.can_end = can_end;
        st.ascii.fill(kUnknown);
        states_.push_back(std::move(st));
    }
    return it->second;
}

int32_t Automaton::compute(int32_t state, char32_t c) {
    std::vector<Stack> next;
    bool can_end = false;
    size_t steps = 0;
    // A reference is safe here: only intern(), after the loop, grows states_.
    const std::vector<Stack>& stacks = states_[size_t(state)].stacks;
    for (const Stack& s : stacks) {
        if (!g_.class_at(s.back()).contains(c)) continue;
        Stack moved = s;
        moved.back() += 1;
        if (!expand(std::move(moved), next, can_end, steps)) return kDead;
    }
    if (next.empty() && !can_end) return kDead;
    return intern(std::move(next), can_end);
}

int32_t Automaton::advance(int32_t state, char32_t c) {
    if (c < 128) {
        int32_t& slot = states_[size_t(state)].ascii[c];
        if (slot != kUnknown) return slot;
        const int32_t next = compute(state, c);
        states_[size_t(state)].ascii[c] = next;  // states_ may have grown: index again
        return next;
    }
    // Most states treat every non-ASCII character alike: one remembered transition serves them all, without
    // the map.
    int32_t uniform = states_[size_t(state)].non_ascii;
    if (uniform == kUnknown) {
        uniform = has_bounds_above_ascii(state) ? kVaries : compute(state, 0x80);
        states_[size_t(state)].non_ascii = uniform;  // states_ may have grown: index again
    }
    if (uniform != kVaries) return uniform;
    const uint64_t key = (uint64_t(uint32_t(state)) << 21) | uint64_t(c);
    if (auto it = non_ascii_.find(key); it != non_ascii_.end()) return it->second;
    const int32_t next = compute(state, c);
    non_ascii_.emplace(key, next);
    return next;
}

bool Automaton::has_bounds_above_ascii(int32_t state) const {
    for (const Stack& s : states_[size_t(state)].stacks) {
        for (const auto& [lo, hi] : g_.class_at(s.back()).ranges) {
            if (hi >= 0x80) return true;
        }
    }
    return false;
}

const std::vector<StepGroup>& Automaton::steps(int32_t state) {
    if (states_[size_t(state)].steps == kUnknown) {
        std::vector<StepGroup> groups = compute_steps(state);  // may add states: index states_ again after it
        states_[size_t(state)].steps = int32_t(steps_.size());
        steps_.push_back(std::move(groups));
    }
    return steps_[size_t(states_[size_t(state)].steps)];
}

std::vector<StepGroup> Automaton::compute_steps(int32_t state) {
    std::vector<StepGroup> groups;
    auto group_of = [&](int32_t next) -> CharSet& {
        for (StepGroup& g : groups) {
            if (g.next == next) return g.chars;
        }
        groups.push_back({next, {}});
        return groups.back().chars;
    };
    auto add_span = [](CharSet& set, char32_t lo, char32_t hi) {
        if (!set.non_ascii.empty() && set.non_ascii.back().second + 1 == lo) set.non_ascii.back().second = hi;
        else set.non_ascii.emplace_back(lo, hi);
    };
    for (char32_t c = 0; c < 128; ++c) {
        if (!accepts_range(state, c, c)) continue;
        const int32_t next = advance(state, c);
        if (next != kDead) group_of(next).ascii[c / 64] |= uint64_t(1) << (c % 64);
    }
    // Above ASCII, which stacks accept a code point changes only at the bounds of the top classes' ranges, so
    // one code point per span between consecutive bounds decides the whole span.
    constexpr char32_t kSurrogates = 0xD800, kPastSurrogates = 0xE000, kEnd = 0x110000;
    std::vector<char32_t> cuts{0x80, kSurrogates, kPastSurrogates, kEnd};
    for (const Stack& s : states_[size_t(state)].stacks) {
        for (const auto& [lo, hi] : g_.class_at(s.back()).ranges) {
            if (lo > 0x80 && lo < kEnd) cuts.push_back(lo);
            if (hi >= 0x80 && hi + 1 < kEnd) cuts.push_back(hi + 1);
        }
    }
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    int32_t below_surrogates = kDead;
    for (size_t k = 0; k + 1 < cuts.size(); ++k) {
        const char32_t lo = cuts[k], hi = cuts[k + 1] - 1;
        // No text holds a surrogate: their span goes with the one below, so a set spanning both sides of it
        // is one group's when the two sides are.
        const int32_t next = lo == kSurrogates ? below_surrogates : advance(state, lo);  // may move states_
        if (hi == kSurrogates - 1) below_surrogates = next;
        if (next != kDead) add_span(group_of(next), lo, hi);
    }
    return groups;
}

int32_t Automaton::step_all(int32_t state, const std::array<uint64_t, 2>& ascii_chars, char32_t lo, char32_t hi) {
    // Any one character of the set names the group the whole set must lie in.
    char32_t some = lo;
    if (ascii_chars[0] != 0) some = char32_t(__builtin_ctzll(ascii_chars[0]));
    else if (ascii_chars[1] != 0) some = char32_t(64 + __builtin_ctzll(ascii_chars[1]));
    for (const StepGroup& g : steps(state)) {
        if (g.chars.contains(some)) return g.chars.covers(ascii_chars, lo, hi) ? g.next : kDead;
    }
    return kDead;
}

bool Automaton::accepts_range(int32_t state, char32_t lo, char32_t hi) const {
    for (const Stack& s : states_[size_t(state)].stacks) {
        if (g_.class_at(s.back()).intersects(lo, hi)) return true;
    }
    return false;
}

}  // namespace loom::grammar
