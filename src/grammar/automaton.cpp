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
    // Copy: interning may grow states_ and move the vector the stacks live in.
    const std::vector<Stack> stacks = states_[size_t(state)].stacks;
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
    const uint64_t key = (uint64_t(uint32_t(state)) << 21) | uint64_t(c);
    if (auto it = non_ascii_.find(key); it != non_ascii_.end()) return it->second;
    const int32_t next = compute(state, c);
    non_ascii_.emplace(key, next);
    return next;
}

bool Automaton::accepts_range(int32_t state, char32_t lo, char32_t hi) const {
    for (const Stack& s : states_[size_t(state)].stacks) {
        if (g_.class_at(s.back()).intersects(lo, hi)) return true;
    }
    return false;
}

}  // namespace loom::grammar
