// The vocabulary's token texts as a byte trie laid out in depth-first order, so that a mask walks it front to
// back and skips a rejected subtree with one jump. Built once per vocabulary (about 1.5 M nodes for 262,144
// tokens) and shared read-only by every constrained sequence. Large subtrees carry a summary of the characters
// below them, so a mask can accept a whole subtree at once where every one of those characters leads the
// grammar back to the same state (the inside of a JSON string).
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace loom::tokenizer {
class Vocab;
}

namespace loom::grammar {

struct TrieNode {
    static constexpr uint32_t kNoSummary = ~uint32_t(0);
    uint32_t end = 0;               // one past the last node of this subtree
    uint32_t first_token = 0;       // this node's tokens are tokens[first_token, next node's first_token)
    uint16_t depth = 0;             // bytes from the root (the root is 0)
    uint8_t byte = 0;               // the byte that leads here
    uint32_t summary = kNoSummary;  // index into VocabTrie::summaries(), or none (small or mid-character nodes)
};

// The characters the texts below a node hold past it (decoded as UTF-8 from each token's start; the node itself
// ends on a character boundary): every ASCII character, the span of the other code points (a text that ends in
// a partial character counts the code points it may still become), the most characters one text holds past
// the node (a partial one counts), and whether some text is invalid UTF-8.
struct SubtreeChars {
    std::array<uint64_t, 2> ascii{};  // bit c % 64 of word c / 64: ASCII character c occurs
    char32_t lo = 0x110000, hi = 0;   // non-ASCII code points lie in [lo, hi]; lo > hi: there are none
    uint16_t max_chars = 0;
    bool invalid = false;

    bool has_non_ascii() const { return lo <= hi; }
    void add(char32_t first, char32_t last) {
        lo = std::min(lo, first);
        hi = std::max(hi, last);
    }
    void add(const SubtreeChars& o) {  // max_chars stays: it depends on where the node is

        ascii[0] |= o.ascii[0];
        ascii[1] |= o.ascii[1];
        if (o.has_non_ascii()) add(o.lo, o.hi);
        invalid = invalid || o.invalid;
    }
};

class VocabTrie {
public:
    // Subtrees smaller than this many nodes get no summary: walking them costs about as much as checking one.
    static constexpr uint32_t kMinSummarized = 4;

    // texts[id]: the bytes token id produces; empty for control tokens. eog: end-of-generation ids.
    VocabTrie(std::vector<std::string> texts, std::vector<int32_t> eog);
    // The texts a vocabulary's tokens decode to (control tokens empty), and its end-of-generation ids.
    // n_outputs: the model's logits per row when it has more than the vocabulary has tokens (padding rows,
    // which get no text and are never allowed); 0: the vocabulary's size.
    static std::shared_ptr<const VocabTrie> from_vocab(const tokenizer::Vocab& vocab, int32_t n_outputs = 0);

    int32_t n_vocab() const { return n_vocab_; }
    const std::vector<TrieNode>& nodes() const { return nodes_; }  // nodes()[0] is the root
    // Token ids in node order: node i's are token_ids()[nodes()[i].first_token, nodes()[i + 1].first_token).
    const std::vector<int32_t>& token_ids() const { return tokens_; }
    uint32_t tokens_end(uint32_t node) const { return first_token_at(node + 1); }
    // The tokens of node's whole subtree are token_ids()[nodes()[node].first_token, subtree_tokens_end(node)).
    uint32_t subtree_tokens_end(uint32_t node) const { return first_token_at(nodes_[node].end); }
    // Indexed by TrieNode::summary.
    const std::vector<SubtreeChars>& summaries() const { return summaries_; }
    const std::string& text(int32_t id) const { return texts_[size_t(id)]; }
    const std::vector<int32_t>& eog() const { return eog_; }
    bool is_eog(int32_t id) const { return id >= 0 && id < n_vocab_ && eog_flag_[size_t(id)]; }

private:
    uint32_t first_token_at(uint32_t node) const {
        return node < nodes_.size() ? nodes_[node].first_token : uint32_t(tokens_.size());
    }
    void summarize();

    int32_t n_vocab_ = 0;
    std::vector<TrieNode> nodes_;
    std::vector<int32_t> tokens_;
    std::vector<SubtreeChars> summaries_;
    std::vector<std::string> texts_;
    std::vector<int32_t> eog_;
    std::vector<bool> eog_flag_;
};

}  // namespace loom::grammar
