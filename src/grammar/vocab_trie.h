// The vocabulary's token texts as a byte trie laid out in depth-first order, so that a mask walks it front to
// back and skips a rejected subtree with one jump. Built once per vocabulary (about 1.5 M nodes for 262,144
// tokens) and shared read-only by every constrained sequence.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace loom::tokenizer {
class Vocab;
}

namespace loom::grammar {

struct TrieNode {
    uint32_t end = 0;          // one past the last node of this subtree
    uint32_t first_token = 0;  // this node's tokens are tokens[first_token, next node's first_token)
    uint16_t depth = 0;        // bytes from the root (the root is 0)
    uint8_t byte = 0;          // the byte that leads here
};

class VocabTrie {
public:
    // texts[id]: the bytes token id produces; empty for control tokens. eog: end-of-generation ids.
    VocabTrie(const std::vector<std::string>& texts, std::vector<int32_t> eog);
    // The texts a vocabulary's tokens decode to (control tokens empty), and its end-of-generation ids.
    // n_outputs: the model's logits per row when it has more than the vocabulary has tokens (padding rows,
    // which get no text and are never allowed); 0: the vocabulary's size.
    static std::shared_ptr<const VocabTrie> from_vocab(const tokenizer::Vocab& vocab, int32_t n_outputs = 0);

    int32_t n_vocab() const { return n_vocab_; }
    const std::vector<TrieNode>& nodes() const { return nodes_; }  // nodes()[0] is the root
    // Token ids in node order: node i's are token_ids()[nodes()[i].first_token, nodes()[i + 1].first_token).
    const std::vector<int32_t>& token_ids() const { return tokens_; }
    uint32_t tokens_end(uint32_t node) const {
        return node + 1 < nodes_.size() ? nodes_[node + 1].first_token : uint32_t(tokens_.size());
    }
    const std::string& text(int32_t id) const { return texts_[size_t(id)]; }
    const std::vector<int32_t>& eog() const { return eog_; }
    bool is_eog(int32_t id) const { return id >= 0 && id < n_vocab_ && eog_flag_[size_t(id)]; }

private:
    int32_t n_vocab_ = 0;
    std::vector<TrieNode> nodes_;
    std::vector<int32_t> tokens_;
    std::vector<std::string> texts_;
    std::vector<int32_t> eog_;
    std::vector<bool> eog_flag_;
};

}  // namespace loom::grammar
