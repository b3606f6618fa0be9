#include "grammar/token_constraint.h"

#include <limits>

namespace loom::grammar {

TokenConstraint::TokenConstraint(Grammar grammar, std::shared_ptr<const VocabTrie> trie)
    : automaton_(std::move(grammar)), trie_(std::move(trie)), state_(automaton_.start()) {
    LOOM_ASSERT(trie_ != nullptr, "TokenConstraint: no vocabulary trie");
}

bool TokenConstraint::walk_text(const std::string& text, int32_t& state, PartialChar& partial) {
    for (const char ch : text) {
        char32_t c = 0;
        switch (utf8_step(partial, uint8_t(ch), c)) {
            case Utf8Step::invalid: return false;
            case Utf8Step::partial:
                if (!automaton_.accepts_range(state, partial.lowest(), partial.highest())) return false;
                break;
            case Utf8Step::complete:
                state = automaton_.advance(state, c);
                if (state == Automaton::kDead) return false;
                break;
        }
    }
    return true;
}

bool TokenConstraint::allows(int32_t token) {
    if (token < 0 || token >= trie_->n_vocab()) return false;
    if (trie_->is_eog(token)) return can_end();
    const std::string& text = trie_->text(token);
    if (text.empty()) return false;
    int32_t state = state_;
    PartialChar partial = partial_;
    return walk_text(text, state, partial);
}

bool TokenConstraint::all_fit(int32_t state, const SubtreeChars& below) {
    // When every character below leads each state of a chain to the next one, a text of n characters ends at
    // the chain's n-th state, alive, and one that ends in a partial character fits the state before it. A
    // chain that comes back to its own state (inside a JSON string) fits texts of any length.
    for (uint32_t n = 0; n < below.max_chars; ++n) {
        const int32_t next = automaton_.step_all(state, below.ascii, below.lo, below.hi);
        if (next == Automaton::kDead) return false;
        if (next == state) return true;
        state = next;
    }
    return true;
}

void TokenConstraint::compute_mask(std::vector<uint64_t>& bits) {
    ++n_walks_;
    bits.assign((size_t(trie_->n_vocab()) + 63) / 64, 0);
    const std::vector<TrieNode>& nodes = trie_->nodes();
    const std::vector<int32_t>& ids = trie_->token_ids();
    struct Frame {
        int32_t state;
        PartialChar partial;
    };
    std::vector<Frame> frames(1, {state_, partial_});
    // Summaries describe texts decoded from their first byte: with a partial character pending they do not apply.
    const bool use_summaries = partial_.empty();
    const std::vector<SubtreeChars>& summaries = trie_->summaries();
    auto allow = [&](uint32_t first, uint32_t end) {
        for (uint32_t k = first; k < end; ++k) {
            const auto id = size_t(ids[k]);
            bits[id / 64] |= uint64_t(1) << (id % 64);
        }
    };
    uint32_t i = 1;
    while (i < nodes.size()) {
        const TrieNode& node = nodes[i];
        Frame f = frames[node.depth - 1];
        char32_t c = 0;
        bool alive = true;
        switch (utf8_step(f.partial, node.byte, c)) {
            case Utf8Step::invalid: alive = false; break;
            case Utf8Step::partial:
                alive = automaton_.accepts_range(f.state, f.partial.lowest(), f.partial.highest());
                break;
            case Utf8Step::complete:
                f.state = automaton_.advance(f.state, c);
                alive = f.state != Automaton::kDead;
                break;
        }
        if (!alive) {
            i = node.end;  // no text that starts with this prefix fits
            continue;
        }
        // A summarized node ends on a character boundary: when every text below it fits, the whole subtree is
        // allowed without walking it.
        if (use_summaries && node.summary != TrieNode::kNoSummary) {
            if (all_fit(f.state, summaries[node.summary])) {
                allow(node.first_token, trie_->subtree_tokens_end(i));
                ++n_subtrees_allowed_;
                i = node.end;
                continue;
            }
        }
        if (frames.size() <= node.depth) frames.resize(size_t(node.depth) + 1);
        frames[node.depth] = f;
        allow(node.first_token, trie_->tokens_end(i));
        ++i;
    }
    // Tokens without text (at the root) stay off; end-of-generation ones follow the grammar's end.
    if (can_end()) {
        for (const int32_t id : trie_->eog()) bits[size_t(id) / 64] |= uint64_t(1) << (size_t(id) % 64);
    }
}

const std::vector<uint64_t>& TokenConstraint::mask() {
    if (!partial_.empty()) {
        compute_mask(scratch_);
        return scratch_;
    }
    if (auto it = cache_.find(state_); it != cache_.end()) return it->second;
    if (cache_.size() >= kMaxCachedMasks) cache_.clear();  // a bound, not an LRU: states recur in runs
    std::vector<uint64_t>& bits = cache_[state_];
    compute_mask(bits);
    return bits;
}

void TokenConstraint::apply(std::span<float> logits) {
    const std::vector<uint64_t>& bits = mask();
    LOOM_ASSERT(logits.size() == size_t(trie_->n_vocab()), "TokenConstraint::apply: {} logits for {} tokens",
                logits.size(), trie_->n_vocab());
    constexpr float kNegInf = -std::numeric_limits<float>::infinity();
    for (size_t w = 0; w < bits.size(); ++w) {
        const uint64_t word = bits[w];
        if (word == ~uint64_t(0)) continue;
        const size_t base = w * 64, n = std::min<size_t>(64, logits.size() - base);
        for (size_t b = 0; b < n; ++b) {
            if (!((word >> b) & 1)) logits[base + b] = kNegInf;
        }
    }
}

Status TokenConstraint::accept(int32_t token) {
    if (trie_->is_eog(token)) {
        if (!can_end()) return Error::invalid("grammar: end of generation where the grammar cannot end");
        return Ok{};
    }
    if (token < 0 || token >= trie_->n_vocab() || trie_->text(token).empty())
        return Error::invalid("grammar: token {} has no text and cannot be part of the grammar's output", token);
    int32_t state = state_;
    PartialChar partial = partial_;
    if (!walk_text(trie_->text(token), state, partial)) {
        if (!automaton_.error().empty()) return Error::invalid("{}", automaton_.error());
        return Error::invalid("grammar: token {} does not fit the grammar here", token);
    }
    state_ = state;
    partial_ = partial;
    return Ok{};
}

}  // namespace loom::grammar
