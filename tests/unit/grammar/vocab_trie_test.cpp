// The vocabulary trie: every token reachable by its text, and each subtree summary equal to what decoding the
// texts below its node finds, on random vocabularies with multi-byte, split and invalid UTF-8.
#include <gtest/gtest.h>

#include <random>

#include "grammar/utf8_step.h"
#include "grammar/vocab_trie.h"

namespace loom::grammar {
namespace {

std::vector<std::string> random_texts(unsigned seed) {
    const char* pieces[] = {"a", "b",    "ab",       " ",        "\"",   "\\",   "\n",           "\x01",     "é", "€",
                            "😀", "\xC3", "\xE2\x82", "\xF0\x9F", "\xA9", "\xFF", "\xED\xA0\x80", "\xC0\xAF", "{", "}"};
    std::mt19937 rng(seed);
    std::vector<std::string> texts{"", "a", "a", "ab"};  // an empty (control) text and a duplicate
    for (int i = 0; i < 3000; ++i) {
        std::string t = i % 3 ? "ab" : "";
        const int n = 1 + int(rng() % 8);
        for (int k = 0; k < n; ++k) t += pieces[rng() % std::size(pieces)];
        texts.push_back(t);
    }
    return texts;
}

// What decoding `text` from its start finds past its first `from` bytes (max_chars: at least the characters
// there); false when byte `from` is not on a character boundary.
bool chars_past(const std::string& text, size_t from, SubtreeChars& out) {
    PartialChar p;
    uint16_t n = 0;
    for (size_t k = 0; k < text.size(); ++k) {
        if (k == from && !p.empty()) return false;
        char32_t c = 0;
        const Utf8Step step = utf8_step(p, uint8_t(text[k]), c);
        if (k < from) {
            if (step == Utf8Step::invalid) return false;
            continue;
        }
        if (step == Utf8Step::invalid) {
            out.invalid = true;
            return true;
        }
        if (step == Utf8Step::complete) {
            if (c < 128) out.ascii[c / 64] |= uint64_t(1) << (c % 64);
            else out.add(c, c);
            ++n;
        }
    }
    if (text.size() == from) return p.empty();
    if (!p.empty()) {
        out.add(p.lowest(), p.highest());
        ++n;
    }
    out.max_chars = std::max(out.max_chars, n);
    return true;
}

TEST(VocabTrie, ReachesEveryTokenByItsText) {
    const std::vector<std::string> texts = random_texts(1);
    const VocabTrie trie(texts, {});
    const auto& nodes = trie.nodes();
    for (int32_t id = 0; id < trie.n_vocab(); ++id) {
        uint32_t node = 0;
        for (const char ch : texts[size_t(id)]) {
            uint32_t child = node + 1;
            while (child < nodes[node].end && nodes[child].byte != uint8_t(ch)) child = nodes[child].end;
            ASSERT_LT(child, nodes[node].end) << "token " << id;
            node = child;
        }
        bool found = false;
        for (uint32_t k = nodes[node].first_token; k < trie.tokens_end(node); ++k) found |= trie.token_ids()[k] == id;
        EXPECT_TRUE(found) << "token " << id << " is not at its node";
    }
}

TEST(VocabTrie, SummariesMatchTheTextsBelowEachNode) {
    for (unsigned seed = 1; seed <= 3; ++seed) {
        const std::vector<std::string> texts = random_texts(seed);
        const VocabTrie trie(texts, {});
        const auto& nodes = trie.nodes();
        size_t summarized = 0;
        for (uint32_t i = 1; i < nodes.size(); ++i) {
            SubtreeChars want;
            bool boundary = true;
            for (uint32_t k = nodes[i].first_token; k < trie.subtree_tokens_end(i); ++k)
                boundary = chars_past(texts[size_t(trie.token_ids()[k])], nodes[i].depth, want) && boundary;
            const bool big = nodes[i].end - i - 1 >= VocabTrie::kMinSummarized;
            if (!big || !boundary || want.invalid) {
                EXPECT_EQ(nodes[i].summary, TrieNode::kNoSummary) << "node " << i;
                continue;
            }
            ASSERT_NE(nodes[i].summary, TrieNode::kNoSummary) << "node " << i << " (a large subtree on a boundary)";
            const SubtreeChars& got = trie.summaries()[nodes[i].summary];
            EXPECT_EQ(got.ascii, want.ascii) << "node " << i;
            EXPECT_EQ(got.has_non_ascii(), want.has_non_ascii()) << "node " << i;
            if (want.has_non_ascii()) {
                EXPECT_EQ(got.lo, want.lo) << "node " << i;
                EXPECT_EQ(got.hi, want.hi) << "node " << i;
            }
            EXPECT_EQ(got.max_chars, want.max_chars) << "node " << i;
            EXPECT_FALSE(got.invalid);
            ++summarized;
        }
        EXPECT_GT(summarized, 100u);
    }
}

}  // namespace
}  // namespace loom::grammar
