// One sequence's grammar state over tokens: which tokens may come next (a bitmask over the whole vocabulary),
// and the state after a token. Tokens are byte strings that may end inside a UTF-8 character; the state keeps
// that partial character, and a token may end inside one only if some character it can become fits.
// End-of-generation tokens are allowed exactly where the grammar can end; other tokens without text never.
//
// The mask walks the vocabulary trie once, pruning every subtree whose prefix the grammar rejects and allowing
// whole every summarized subtree whose characters all lead the automaton along one chain of states, long enough
// for its longest text (inside a JSON string: every subtree without '"', '\\' or a control character, as
// the string's state loops back to itself; inside a bounded string: those short enough). It is cached per
// automaton state (a JSON string's characters all share one state, so its mask is computed once).
// Not thread-safe: one per sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "grammar/automaton.h"
#include "grammar/utf8_step.h"
#include "grammar/vocab_trie.h"

namespace loom::grammar {

class TokenConstraint {
public:
    static constexpr size_t kMaxCachedMasks = 64;  // 32 KiB each at 262,144 tokens

    // PRECONDITION: `grammar` came from parse_gbnf; `trie` is not null.
    TokenConstraint(Grammar grammar, std::shared_ptr<const VocabTrie> trie);

    // Whether `token` may come next (checks that one token's bytes: the fast path before a full mask).
    bool allows(int32_t token);
    // Bit t of word t / 64 is set when token t may come next.
    const std::vector<uint64_t>& mask();
    // Sets every logit the mask rejects to -inf. PRECONDITION: logits.size() == n_vocab.
    void apply(std::span<float> logits);

    // Moves past `token`. An error when the grammar rejects it (the caller sampled without the mask).
    Status accept(int32_t token);
    // The text so far is a complete match (no partial character pending).
    bool can_end() const { return partial_.empty() && automaton_.can_end(state_); }
    // Complete, and nothing may follow: generation must stop here.
    bool must_end() const { return can_end() && !automaton_.can_continue(state_); }

    const VocabTrie& trie() const { return *trie_; }
    const Automaton& automaton() const { return automaton_; }
    size_t n_masks_computed() const { return n_walks_; }
    // Subtrees the masks allowed whole from their summary, without walking them (for tests and benchmarks).
    size_t n_subtrees_allowed() const { return n_subtrees_allowed_; }
    // Forgets the cached masks (the automaton keeps its transitions): for measuring a cold mask.
    void clear_mask_cache() { cache_.clear(); }

private:
    // The state after `text` from (state, partial); false when the grammar rejects it.
    bool walk_text(const std::string& text, int32_t& state, PartialChar& partial);
    void compute_mask(std::vector<uint64_t>& bits);
    // Whether every text a summary describes fits from `state` (false: it may or may not; walk it).
    bool all_fit(int32_t state, const SubtreeChars& below);

    Automaton automaton_;
    std::shared_ptr<const VocabTrie> trie_;
    int32_t state_ = 0;
    PartialChar partial_;
    std::unordered_map<int32_t, std::vector<uint64_t>> cache_;  // by state, with no partial character
    std::vector<uint64_t> scratch_;                             // the mask when a partial character is pending
    size_t n_walks_ = 0;
    size_t n_subtrees_allowed_ = 0;
};

}  // namespace loom::grammar
