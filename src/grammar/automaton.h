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
#include <vector>

#include "core/error.h"
#include "grammar/grammar.h"

namespace loom::grammar {

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
    };
    static constexpr int32_t kUnknown = -2;

    // Expands `stack` until every resulting stack's top is a character class, into `out`.
    bool expand(Stack stack, std::vector<Stack>& out, bool& can_end, size_t& steps);
    int32_t intern(std::vector<Stack> stacks, bool can_end);
    int32_t compute(int32_t state, char32_t c);

    Grammar g_;
    std::vector<State> states_;
    std::unordered_map<std::string, int32_t> ids_;     // serialized stack set → state
    std::unordered_map<uint64_t, int32_t> non_ascii_;  // (state << 21 | c) → state
    std::string error_;
    size_t n_stack_elements_ = 0;  // positions held by all states' stacks
};

}  // namespace loom::grammar
