#include "grammar/vocab_trie.h"

#include <algorithm>
#include <numeric>
#include <string_view>

#include "core/error.h"
#include "grammar/utf8_step.h"
#include "tokenizer/vocab.h"

namespace loom::grammar {

VocabTrie::VocabTrie(std::vector<std::string> texts, std::vector<int32_t> eog)
    : n_vocab_(int32_t(texts.size())),
      texts_(std::move(texts)),
      eog_(std::move(eog)),
      eog_flag_(size_t(n_vocab_), false) {
    for (const int32_t id : eog_) {
        if (id >= 0 && id < n_vocab_) eog_flag_[size_t(id)] = true;
    }
    // Sorted texts put every subtree in one run, in depth-first order; equal texts share a node, in id order.
    // The first 8 bytes as a big-endian number (zero-padded) order most pairs without comparing the texts.
    struct Entry {
        uint64_t head;
        std::string_view t;
        int32_t id;
        bool operator<(const Entry& o) const {
            if (head != o.head) return head < o.head;
            if (const int c = t.compare(o.t); c != 0) return c < 0;
            return id < o.id;
        }
    };
    std::vector<Entry> order(texts_.size());
    for (size_t id = 0; id < texts_.size(); ++id) {
        const std::string_view t = texts_[id];
        uint64_t head = 0;
        for (size_t k = 0; k < 8; ++k) head = (head << 8) | (k < t.size() ? uint8_t(t[k]) : 0u);
        order[id] = {head, t, int32_t(id)};
    }
    std::sort(order.begin(), order.end());
    tokens_.reserve(order.size());
    nodes_.push_back({0, 0, 0, 0});
    // path[d]: the node at depth d on the way to the current text.
    std::vector<uint32_t> path{0};
    std::string_view prev;
    for (const auto& [head, t, id] : order) {
        LOOM_ASSERT(t.size() < 65535, "VocabTrie: token {} is {} bytes long", id, t.size());
        const size_t lim = std::min(prev.size(), t.size());
        size_t common = 0;
        while (common < lim && prev[common] == t[common]) ++common;
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
        prev = t;
    }
    while (!path.empty()) {
        nodes_[path.back()].end = uint32_t(nodes_.size());
        path.pop_back();
    }
    summarize();
}

void VocabTrie::summarize() {
    // One depth-first pass with the open nodes on a stack: each node decodes its byte after its parent's
    // partial character, and hands what it and its subtree hold to its parent when its subtree closes.
    struct Open {
        uint32_t node;
        PartialChar partial;  // the character in progress after this node's byte
        bool invalid;         // the text up to here is not UTF-8
        uint32_t chars;       // characters finished from the root to here
        uint32_t most_chars;  // the most characters a text ending here or below holds (a partial one counts)
        SubtreeChars own;     // this node's byte (a finished character, a token ending mid-character, or invalid)
        SubtreeChars below;   // everything past this node
    };
    std::vector<Open> open{{0, {}, false, 0, 0, {}, {}}};
    auto close = [&] {
        Open done = open.back();
        open.pop_back();
        const TrieNode& n = nodes_[done.node];
        if (n.end - done.node - 1 >= kMinSummarized && done.partial.empty() && !done.invalid && !done.below.invalid) {
            done.below.max_chars = uint16_t(done.most_chars - done.chars);
            nodes_[done.node].summary = uint32_t(summaries_.size());
            summaries_.push_back(done.below);
        }
        Open& parent = open.back();
        parent.below.add(done.own);
        parent.below.add(done.below);
        parent.most_chars = std::max(parent.most_chars, done.most_chars);
    };
    for (uint32_t i = 1; i < nodes_.size(); ++i) {
        while (open.back().node != 0 && nodes_[open.back().node].end <= i) close();
        const Open& parent = open.back();
        Open o{i, parent.partial, parent.invalid, parent.chars, 0, {}, {}};
        const bool texts_end_here = tokens_end(i) > nodes_[i].first_token;
        char32_t c = 0;
        if (!o.invalid) {
            switch (utf8_step(o.partial, nodes_[i].byte, c)) {
                case Utf8Step::invalid: o.invalid = true; break;
                case Utf8Step::partial:
                    if (texts_end_here) o.own.add(o.partial.lowest(), o.partial.highest());
                    break;
                case Utf8Step::complete:
                    if (c < 128) o.own.ascii[c / 64] |= uint64_t(1) << (c % 64);
                    else o.own.add(c, c);
                    ++o.chars;
                    break;
            }
        }
        o.own.invalid = o.invalid;
        if (texts_end_here) o.most_chars = o.chars + (o.partial.empty() ? 0 : 1);
        open.push_back(o);
    }
    while (open.size() > 1) close();
}

std::shared_ptr<const VocabTrie> VocabTrie::from_vocab(const tokenizer::Vocab& vocab, int32_t n_outputs) {
    std::vector<std::string> texts(size_t(std::max(n_outputs, vocab.n_tokens())));
    for (int32_t id = 0; id < vocab.n_tokens(); ++id) texts[size_t(id)] = vocab.piece(id, /*special=*/false);
    return std::make_shared<const VocabTrie>(std::move(texts), vocab.eog_ids());
}

}  // namespace loom::grammar
