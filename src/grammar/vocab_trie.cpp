#include "grammar/vocab_trie.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "tokenizer/vocab.h"

namespace loom::grammar {

VocabTrie::VocabTrie(const std::vector<std::string>& texts, std::vector<int32_t> eog)
    : n_vocab_(int32_t(texts.size())), texts_(texts), eog_(std::move(eog)), eog_flag_(texts.size(), false) {
    for (const int32_t id : eog_) {
        if (id >= 0 && id < n_vocab_) eog_flag_[size_t(id)] = true;
    }
    // Sorted texts put every subtree in one run, in depth-first order; equal texts share a node.
    std::vector<int32_t> order(texts.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int32_t a, int32_t b) { return texts[size_t(a)] < texts[size_t(b)]; });
    tokens_.reserve(order.size());
    nodes_.push_back({0, 0, 0, 0});
    // path[d]: the node at depth d on the way to the current text.
    std::vector<uint32_t> path{0};
    const std::string* prev = nullptr;
    for (const int32_t id : order) {
        const std::string& t = texts[size_t(id)];
        LOOM_ASSERT(t.size() < 65535, "VocabTrie: token {} is {} bytes long", id, t.size());
        size_t common = 0;
        if (prev) {
            const size_t lim = std::min(prev->size(), t.size());
            while (common < lim && (*prev)[common] == t[common]) ++common;
        }
        // Close the nodes deeper than the shared prefix, then open one per new byte.
        while (path.size() > common + 1) {
            nodes_[path.back()].end = uint32_t(nodes_.size());
            path.pop_back();
        }
        for (size_t d = common; d < t.size(); ++d) {
            path.push_back(uint32_t(nodes_.size()));
            nodes_.push_back({0, uint32_t(tokens_.size()), uint16_t(d + 1), uint8_t(t[d])});
        }
        tokens_.push_back(id);
        prev = &t;
    }
    while (!path.empty()) {
        nodes_[path.back()].end = uint32_t(nodes_.size());
        path.pop_back();
    }
}

std::shared_ptr<const VocabTrie> VocabTrie::from_vocab(const tokenizer::Vocab& vocab, int32_t n_outputs) {
    std::vector<std::string> texts(size_t(std::max(n_outputs, vocab.n_tokens())));
    for (int32_t id = 0; id < vocab.n_tokens(); ++id) texts[size_t(id)] = vocab.piece(id, /*special=*/false);
    return std::make_shared<const VocabTrie>(texts, vocab.eog_ids());
}

}  // namespace loom::grammar
