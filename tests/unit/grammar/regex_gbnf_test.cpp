#include "grammar/regex_gbnf.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <random>
#include <regex>

#include "grammar/json_primitives.h"
#include "unit/grammar/grammar_testing.h"

namespace loom::grammar {
namespace {

std::unique_ptr<Automaton> compile(const std::string& pattern) {
    auto expr = pattern_to_gbnf(pattern);
    EXPECT_TRUE(expr.ok()) << pattern << ": " << expr.error().message();
    if (!expr.ok()) return nullptr;
    auto g = parse_gbnf(fmt::format("root ::= {}\nchar ::= {}\n", *expr, json_rules::body("char")));
    EXPECT_TRUE(g.ok()) << g.error().message() << "\n" << *expr;
    if (!g.ok()) return nullptr;
    return std::make_unique<Automaton>(std::move(g).value());
}

// The string as JSON writes it between the quotes.
std::string json_text(const std::string& s) {
    const std::string quoted = nlohmann::json(s).dump();
    return quoted.substr(1, quoted.size() - 2);
}

std::string refusal(const std::string& pattern) {
    auto expr = pattern_to_gbnf(pattern);
    return expr.ok() ? "" : expr.error().message();
}

// On every string of up to 5 characters over a small alphabet (JSON's special characters included), the
// grammar matches exactly the strings that ECMAScript's regex_search finds the pattern in.
TEST(RegexGbnf, AgreesWithEcmaScriptSearch) {
    const std::string alphabet = "ab1_ .-\"\\";
    std::vector<std::string> strings = {""};
    for (size_t begin = 0, len = 1; len <= 5; ++len) {
        const size_t end = strings.size();
        for (size_t i = begin; i < end; ++i) {
            for (const char c : alphabet) strings.push_back(strings[i] + c);
        }
        begin = end;
    }
    // Keep it quick: every string up to 3 characters, then a fixed sample of the longer ones.
    std::mt19937 rng(3);
    std::vector<std::string> sample;
    for (const std::string& s : strings) {
        if (s.size() <= 3 || rng() % 16 == 0) sample.push_back(s);
    }
    for (
        const char* pattern :
        {"^a+$",       "a",        "^ab|b1$",   "^(a|b)*1?$", "^[a-b1]{2,3}$", "^[^a]*$",   "^\\d\\w?$",
         "^\\s",       "\\.$",     "^.{2}$",    "^a{0}b$",    "^(?:ab){1,}$",  "^\\\\\"?$", "^[\\\\\"-]+$",
         "^\\W+$",     "^\\S\\D$", "^(?:a|)b$", "^[.]$",      "^a*?b+?$",      "^$",        "^-?[0-9]{1,2}(\\.[0-9])?$",
         "^[\\w.-]+$", "_|^ $"}) {
        auto a = compile(pattern);
        ASSERT_TRUE(a) << pattern;
        const std::regex re(pattern, std::regex::ECMAScript);
        for (const std::string& s : sample) {
            EXPECT_EQ(testing::full_match(*a, json_text(s)), std::regex_search(s, re))
                << "pattern " << pattern << " on \"" << json_text(s) << "\"";
        }
    }
}

TEST(RegexGbnf, WritesCharactersAsJsonEscapesThem) {
    auto a = compile("^\\t[\\n\\x01]\"\\u00e9\\uD83D\\uDE00$");
    ASSERT_TRUE(a);
    EXPECT_TRUE(testing::full_match(*a, "\\t\\n\\\"é😀"));
    EXPECT_TRUE(testing::full_match(*a, "\\t\\u0001\\\"é😀"));
    EXPECT_FALSE(testing::full_match(*a, "\t\n\"é😀"));
    // Negated sets and '.' leave control characters out rather than spell each one's escape.
    auto dot = compile("^.$");
    ASSERT_TRUE(dot);
    EXPECT_TRUE(testing::full_match(*dot, "é"));
    EXPECT_TRUE(testing::full_match(*dot, "\\\""));
    EXPECT_FALSE(testing::full_match(*dot, "\\t"));
    EXPECT_FALSE(testing::full_match(*dot, "\\n"));
    auto named = compile("^(?<word>ab)+$");  // a named group is a group (std::regex cannot check this one)
    ASSERT_TRUE(named);
    EXPECT_TRUE(testing::full_match(*named, "abab"));
    EXPECT_FALSE(testing::full_match(*named, "aba"));
    auto brace = compile("^a{,2}$");  // not a count: a literal '{', as browsers read it
    ASSERT_TRUE(brace);
    EXPECT_TRUE(testing::full_match(*brace, "a{,2}"));
    EXPECT_FALSE(testing::full_match(*brace, "aa"));
}

TEST(RegexGbnf, RefusesWhatItDoesNotSupport) {
    EXPECT_EQ(refusal("(a)\\1"), "pattern \"(a)\\1\": a backreference '\\1' at character 4 is not supported");
    EXPECT_EQ(refusal("a(?=b)"),
              "pattern \"a(?=b)\": a lookaround or group flag '(?=' at character 2 is not supported");
    EXPECT_EQ(refusal("\\bword"), "pattern \"\\bword\": a word boundary '\\b' at character 1 is not supported");
    EXPECT_EQ(refusal("a^b"), "pattern \"a^b\": an anchor '^' inside the pattern at character 2 is not supported");
    EXPECT_EQ(refusal("(^a)"), "pattern \"(^a)\": an anchor '^' inside the pattern at character 2 is not supported");
    EXPECT_EQ(refusal("a$b"), "pattern \"a$b\": an anchor '$' inside the pattern at character 2 is not supported");
    EXPECT_EQ(refusal("\\p{L}"), "pattern \"\\p{L}\": a Unicode property escape '\\p' at character 1 is not supported");
    EXPECT_EQ(refusal("a{2000}"), "pattern \"a{2000}\": a repetition count above 1000 at character 2 is not supported");
    EXPECT_EQ(refusal("a{3,1}"),
              "pattern \"a{3,1}\": a repetition {3,1} whose maximum is below its minimum at character 2 is not "
              "supported");
    EXPECT_EQ(refusal("(ab"), "pattern \"(ab\": a '(' without its ')' at character 4 is not supported");
    EXPECT_EQ(refusal("ab)"), "pattern \"ab)\": a ')' without its '(' at character 3 is not supported");
    EXPECT_EQ(refusal("[ab"), "pattern \"[ab\": a '[' without its ']' at character 1 is not supported");
    EXPECT_EQ(refusal("*a"), "pattern \"*a\": '*' with nothing to repeat at character 1 is not supported");
    EXPECT_EQ(refusal("[z-a]"), "pattern \"[z-a]\": a class range out of order at character 5 is not supported");
    EXPECT_EQ(refusal("\\q"), "pattern \"\\q\": an unknown escape '\\q' at character 1 is not supported");
    EXPECT_EQ(refusal("^[\\x00-\\x1F]$"), "");  // control characters only: still writable as escapes
    EXPECT_EQ(refusal("^[^\\s\\S]$"),
              "pattern \"^[^\\s\\S]$\": a character set that no character of a JSON string matches at character 2 "
              "is not supported");
    EXPECT_EQ(refusal("a\\"), "pattern \"a\\\": a '\\' at the end at character 2 is not supported");
}

}  // namespace
}  // namespace loom::grammar
