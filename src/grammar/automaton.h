// The grammar as a pushdown automaton over code points, with its states interned: a state is the set of
// stacks the grammar can be in (each stack a path of positions, the top a character class to match next,
// as llama.cpp's grammar sampler keeps them), and equal sets get one id. Transitions are computed on first
// use and remembered, so a state that recurs (every character inside a JSON string) costs a table lookup,
// and a token mask can be cached per state (token_mask.h).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"
#include "grammar/grammar.h"

namespace loom::grammar {

// A set of code points: ASCII characters as bits, the rest as spans.
struct CharSet {
    std::array<uint64_t, 2> ascii{};                       // bit c % 64 of word c / 64: ASCII character c
    std::vector<std::pair<char32_t, char32_t>> non_ascii;  // sorted, disjoint, not adjacent

    bool contains(char32_t c) const {
        if (c < 128) return (ascii[c / 64] >> (c % 64)) & 1;
        for (const auto& [a, b] : non_ascii) {
            if (c >= a && c <= b) return true;
        }
        return false;
    }
    // Every ASCII character in `ascii_chars` is in the set, and so is every code point in [lo, hi] (none when
    // lo > hi).
    bool covers(const std::array<uint64_t, 2>& ascii_chars, char32_t lo, char32_t hi) const {
        if ((ascii_chars[0] & ~ascii[0]) != 0 || (ascii_chars[1] & ~ascii[1]) != 0) return false;
        if (lo > hi) return true;
        for (const auto& [a, b] : non_ascii) {
            if (lo >= a && lo <= b) return hi <= b;
        }
        return false;
    }
};

// The characters that lead from a state to one same next state (inside a JSON string: every character but '"',
// '\\' and the controls, back to the string itself).
struct StepGroup {
    int32_t next = -1;
    CharSet chars;  // the span of surrogates, which strict UTF-8 never yields, joins the group below it
};

class Automaton {
public:
    static constexpr int32_t kDead = -1;
    // Limits on one transition: stacks in the resulting set and expansion steps. A grammar so ambiguous
    // that it exceeds them makes the transition dead and error() says why.
    static constexpr size_t kMaxStacks = 4096;
    static constexpr size_t kMaxExpansionSteps = 1 << 18;
    // Limits on the automaton's memory: deep nesting makes a new state per level whose stacks grow with the
    // depth (quadratic in all), so a runaway output ends in an error rather than exhausting memory.
    static constexpr size_t kMaxStates = 200000;
    static constexpr size_t kMaxStackElements = size_t(1) << 22;  // 16 MiB of positions

    // PRECONDITION: `g` passed parse_gbnf's checks (rules defined, no left recursion).
    explicit Automaton(Grammar g);

    int32_t start() const { return 0; }
    // The state after `c`, or kDead when no stack accepts it.
    int32_t advance(int32_t state, char32_t c);
    // The grammar may stop here: some path matched the whole root rule.
    bool can_end(int32_t state) const { return states_[size_t(state)].can_end; }
    // Some character may follow.
    bool can_continue(int32_t state) const { return !states_[size_t(state)].stacks.empty(); }
    // Some character in [lo, hi] may follow (for a partly decoded UTF-8 character).
    bool accepts_range(int32_t state, char32_t lo, char32_t hi) const;
    // Where each live character leads from `state`, grouped by the next state: computed on first use (one
    // transition per ASCII character and per span between the top classes' bounds above it) and remembered.
    // The reference lasts until the next call that adds states.
    const std::vector<StepGroup>& steps(int32_t state);
    // The state every character of a set leads to from `state` (the set: the ASCII characters `ascii_chars`
    // and every code point in [lo, hi], none when lo > hi; not empty), or kDead when they do not all lead to
    // one live state.
    int32_t step_all(int32_t state, const std::array<uint64_t, 2>& ascii_chars, char32_t lo, char32_t hi);

    const Grammar& grammar() const { return g_; }
    size_t n_states() const { return states_.size(); }
    // Non-empty once a transition hit the limits above.
    const std::string& error() const { return error_; }

private:
    using Stack = std::vector<uint32_t>;  // positions; back() is the top
    struct State {
        std::vector<Stack> stacks;  // sorted, unique; every top is an Op::chars element
        bool can_end = false;
        std::array<int32_t, 128> ascii;  // ASCII transitions: kUnknown until computed
        int32_t steps = kUnknown;        // index into steps_
        // The one state every non-ASCII character leads to when no top class has a bound above ASCII (a JSON
        // string: all of them go back to it); kVaries when some has, kUnknown until computed.
        int32_t non_ascii = kUnknown;
    };
    static constexpr int32_t kUnknown = -2;
    static constexpr int32_t kVaries = -3;

    // Expands `stack` until every resulting stack's top is a character class, into `out`.
    bool expand(Stack stack, std::vector<Stack>& out, bool& can_end, size_t& steps);
    int32_t intern(std::vector<Stack> stacks, bool can_end);
    int32_t compute(int32_t state, char32_t c);
    // Whether some top class of `state` has a range bound above ASCII (its non-ASCII characters differ).
    bool has_bounds_above_ascii(int32_t state) const;
    std::vector<StepGroup> compute_steps(int32_t state);

    Grammar g_;
    std::vector<State> states_;
    std::unordered_map<std::string, int32_t> ids_;     // serialized stack set → state
    std::unordered_map<uint64_t, int32_t> non_ascii_;  // (state << 21 | c) → state
    std::vector<std::vector<StepGroup>> steps_;
    std::string error_;
    size_t n_stack_elements_ = 0;  // positions held by all states' stacks
};

}  // namespace loom::grammar
