// The trie-walking mask against the one-token-at-a-time oracle (TokenConstraint::allows) on random walks
// through grammars, over a vocabulary with multi-byte characters and tokens that split them.
#include <gtest/gtest.h>

#include <random>

#include "grammar/gbnf_parser.h"
#include "grammar/json_schema.h"
#include "grammar/token_constraint.h"

namespace loom::grammar {
namespace {

// A vocabulary of JSON-ish pieces, single bytes (every byte, so any text can be spelled), random strings,
// split UTF-8 characters, an empty control token and an end-of-generation token (the last two ids).
std::shared_ptr<const VocabTrie> test_vocab(unsigned seed) {
    std::vector<std::string> texts;
    for (int b = 1; b < 256; ++b) texts.emplace_back(1, char(b));
    for (const char* t : {"{",        "}",    "{\"",      "\":", "\": ", "\",",  ", \"",     "[",    "]",  "true",
                          "false",    "null", "0",        "12",  "-",    ".5",   "e3",       " ",    "  ", "\n",
                          "\\n",      "\\\"", "\\u00",    "é",   "\xC3", "\xA9", "\xE2\x82", "\xAC", "€",  "😀",
                          "\xF0\x9F", "name", "\"name\"", "age", "id",   "abc",  "\"\""})
        texts.emplace_back(t);
    std::mt19937 rng(seed);
    const std::string alphabet = "ab{}[]\":, 019.-e\\né€";
    for (int i = 0; i < 600; ++i) {
        std::string t;
        const int n = 1 + int(rng() % 6);
        for (int k = 0; k < n; ++k) t += alphabet[rng() % alphabet.size()];
        texts.push_back(t);
    }
    // Longer runs of ordinary string characters sharing prefixes (so their subtrees get summaries), about one
    // in three with a character that leaves a JSON string or breaks UTF-8 somewhere in it: a quote (closing
    // the string, then more text), an escape, a control character, a split or invalid UTF-8 sequence, a
    // surrogate or an overlong form.
    const char* ordinary[] = {"a", "b", "x", " ", "é", "€", "😀", "ab", "é€"};
    const char* special[] = {"\"",           "\\",       "\\n",      "\\u00",    "\n",   "\x01",
                             "\x7F",         "\xC3",     "\xE2\x82", "\xF0\x9F", "\xA9", "\xFF",
                             "\xED\xA0\x80", "\xC0\xAF", "\\",       "\", \"",   "\"}"};
    for (int i = 0; i < 400; ++i) {
        std::string t = i % 2 ? "ab" : "x";
        const int n = 1 + int(rng() % 10);
        for (int k = 0; k < n; ++k) t += ordinary[rng() % std::size(ordinary)];
        if (rng() % 3 == 0) t.insert(rng() % (t.size() + 1), special[rng() % std::size(special)]);
        if (rng() % 4 == 0) t += special[rng() % std::size(special)];
        texts.push_back(t);
    }
    texts.emplace_back("");  // a control token
    texts.emplace_back("");  // end of generation
    return std::make_shared<const VocabTrie>(texts, std::vector<int32_t>{int32_t(texts.size() - 1)});
}

Grammar grammar_of(const std::string& gbnf) {
    auto g = parse_gbnf(gbnf);
    EXPECT_TRUE(g.ok()) << g.error().message();
    return g.ok() ? std::move(g).value() : Grammar{};
}

// Walks `steps` random allowed tokens, checking the mask against the oracle at every step; `shortcuts`: how
// many subtrees the masks allowed whole from their summaries.
void walk_and_compare(const std::string& gbnf, unsigned seed, int steps, size_t& shortcuts) {
    auto trie = test_vocab(seed);
    TokenConstraint c(grammar_of(gbnf), trie);
    std::mt19937 rng(seed);
    std::string text;
    for (int step = 0; step < steps; ++step) {
        const std::vector<uint64_t> mask = c.mask();
        shortcuts = c.n_subtrees_allowed();
        std::vector<int32_t> allowed;
        for (int32_t t = 0; t < trie->n_vocab(); ++t) {
            const bool in_mask = (mask[size_t(t) / 64] >> (t % 64)) & 1;
            ASSERT_EQ(in_mask, c.allows(t)) << "step " << step << ", token " << t << " '" << trie->text(t) << "'";
            if (in_mask) allowed.push_back(t);
        }
        if (c.must_end()) {
            EXPECT_EQ(allowed, std::vector<int32_t>{trie->n_vocab() - 1});  // only end of generation
            return;
        }
        ASSERT_FALSE(allowed.empty()) << "step " << step << ": the grammar is stuck after '" << text << "'";
        const int32_t pick = allowed[rng() % allowed.size()];
        text += trie->text(pick);
        if (trie->is_eog(pick)) return;
        ASSERT_TRUE(c.accept(pick).ok());
    }
}

size_t walk_and_compare(const std::string& gbnf, unsigned seed, int steps) {
    size_t shortcuts = 0;
    walk_and_compare(gbnf, seed, steps, shortcuts);
    return shortcuts;
}

TEST(TokenMask, EqualsTheOracleOnJsonObjects) {
    size_t shortcuts = 0;
    for (unsigned seed = 1; seed <= 8; ++seed) shortcuts += walk_and_compare(json_object_gbnf(), seed, 60);
    EXPECT_GT(shortcuts, 0u);  // strings were masked from summaries
}

TEST(TokenMask, EqualsTheOracleOnASchema) {
    auto text = json_schema_to_gbnf(nlohmann::ordered_json::parse(
        R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 8}, "age": {"type": "integer"},
            "tags": {"type": "array", "items": {"enum": ["a", "é€", "😀"]}, "maxItems": 3}}, "required": ["name"]})"));
    ASSERT_TRUE(text.ok()) << text.error().message();
    for (unsigned seed = 1; seed <= 8; ++seed) walk_and_compare(*text, seed, 60);
}

TEST(TokenMask, EqualsTheOracleWithMultiByteClasses) {
    // Characters that need 2, 3 and 4 bytes, so tokens end inside them.
    for (unsigned seed = 1; seed <= 8; ++seed)
        walk_and_compare("root ::= ([é€a] | \"😀\" | [^\\x00-\\x7F])+ \"}\"", seed, 40);
}

TEST(TokenMask, EqualsTheOracleInBoundedStrings) {
    // Each character of a bounded string is a new state: subtrees fit along a chain of states while their
    // longest text is short enough, and are walked near the bound.
    auto text = json_schema_to_gbnf(nlohmann::ordered_json::parse(
        R"({"type": "object", "properties": {"a": {"type": "string", "minLength": 2, "maxLength": 14}}})"));
    ASSERT_TRUE(text.ok()) << text.error().message();
    size_t shortcuts = 0;
    for (unsigned seed = 1; seed <= 8; ++seed) shortcuts += walk_and_compare(*text, seed, 40);
    EXPECT_GT(shortcuts, 0u);
}

TEST(TokenMask, EqualsTheOracleWhereOnlySomeNonAsciiCharactersLoop) {
    // Before the euro sign the state loops on [a-zé ] only, so subtrees mixing é with other non-ASCII
    // characters, or holding €, must be walked.
    size_t shortcuts = 0;
    for (unsigned seed = 1; seed <= 6; ++seed)
        shortcuts += walk_and_compare("root ::= [a-zé ]* ( \"€\" | \"😀\" ) [a-z]* \".\"", seed, 30);
    EXPECT_GT(shortcuts, 0u);
}

TEST(TokenMask, EqualsTheOracleWithAHoleAboveAscii) {
    // Every character but '"' and € loops: a subtree whose code points span the euro sign (é and 😀 below it)
    // is walked, one above or below it is allowed whole.
    size_t shortcuts = 0;
    for (unsigned seed = 1; seed <= 6; ++seed) shortcuts += walk_and_compare("root ::= [^\"€]* \"\\\"\"", seed, 30);
    EXPECT_GT(shortcuts, 0u);
}

TEST(TokenMask, AllowsWholeSubtreesInsideAStringAndStaysExact) {
    auto trie = test_vocab(5);
    TokenConstraint c(grammar_of(json_object_gbnf()), trie);
    auto id = [&](const std::string& t) {
        for (int32_t i = 0; i < trie->n_vocab(); ++i)
            if (trie->text(i) == t) return i;
        ADD_FAILURE() << "no token '" << t << "'";
        return int32_t(0);
    };
    auto expect_oracle = [&](const char* where) {
        const std::vector<uint64_t> mask = c.mask();
        for (int32_t t = 0; t < trie->n_vocab(); ++t)
            ASSERT_EQ(bool((mask[size_t(t) / 64] >> (t % 64)) & 1), c.allows(t))
                << where << ": token " << t << " '" << trie->text(t) << "'";
    };
    ASSERT_TRUE(c.accept(id("{\"")).ok());
    expect_oracle("in a key");
    const size_t in_key = c.n_subtrees_allowed();
    EXPECT_GT(in_key, 0u);  // the ordinary runs of text below "ab" and "x"
    ASSERT_TRUE(c.accept(id("\xE2\x82")).ok());
    expect_oracle("a split euro sign pending");  // no summaries with a partial character
    EXPECT_EQ(c.n_subtrees_allowed(), in_key);
    ASSERT_TRUE(c.accept(id("\xAC")).ok());
    expect_oracle("after the euro sign");  // the same state as before it: the cached mask
    ASSERT_TRUE(c.accept(id("\\")).ok());
    expect_oracle("in an escape");
    ASSERT_TRUE(c.accept(id("n")).ok());
    expect_oracle("after the escape");
    ASSERT_TRUE(c.accept(id("\":")).ok());
    ASSERT_TRUE(c.accept(id("\"")).ok());
    expect_oracle("in a value");
    EXPECT_GT(c.n_subtrees_allowed(), in_key);
}

TEST(TokenMask, SplitCharactersNeedAFittingCompletion) {
    auto trie = test_vocab(1);
    TokenConstraint c(grammar_of("root ::= \"€\""), trie);
    auto id = [&](const std::string& t) {
        for (int32_t i = 0; i < trie->n_vocab(); ++i)
            if (trie->text(i) == t) return i;
        return -1;
    };
    EXPECT_TRUE(c.allows(id("\xE2\x82")));        // the first two bytes of €
    EXPECT_FALSE(c.allows(id("\xC3")));           // the first byte of é: no 2-byte character fits
    EXPECT_FALSE(c.allows(id("\xAC")));           // a continuation byte alone
    EXPECT_FALSE(c.allows(trie->n_vocab() - 1));  // end of generation before the match
    EXPECT_FALSE(c.allows(trie->n_vocab() - 2));  // a token without text
    ASSERT_TRUE(c.accept(id("\xE2\x82")).ok());
    EXPECT_FALSE(c.can_end());  // a character is half read
    EXPECT_TRUE(c.allows(id("\xAC")));
    EXPECT_FALSE(c.allows(id("\xA9")));
    ASSERT_TRUE(c.accept(id("\xAC")).ok());
    EXPECT_TRUE(c.must_end());
    EXPECT_TRUE(c.allows(trie->n_vocab() - 1));
    EXPECT_FALSE(c.accept(id("a")).ok());
}

TEST(TokenMask, IsCachedPerState) {
    auto trie = test_vocab(3);
    TokenConstraint c(grammar_of("root ::= \"\\\"\" [a-z]* \"\\\"\""), trie);
    ASSERT_TRUE(c.accept(int32_t('"') - 1).ok());  // ids 0.. are the bytes 1..255
    const std::vector<uint64_t> first = c.mask();
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(c.accept(int32_t('a') - 1).ok());
        EXPECT_EQ(c.mask(), first);  // inside the string every step is the same state
    }
    EXPECT_EQ(c.n_masks_computed(), 1u);
}

}  // namespace
}  // namespace loom::grammar
