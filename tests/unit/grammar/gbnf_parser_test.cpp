#include <gtest/gtest.h>

#include "grammar/gbnf_parser.h"
#include "unit/grammar/grammar_testing.h"

namespace loom::grammar {
namespace {

using testing::matches;
using testing::parse_error;

TEST(GbnfParser, LiteralsSequencesAndAlternatives) {
    const char* g = "root ::= \"ab\" \"c\" | \"x\"\n";
    EXPECT_TRUE(matches(g, "abc"));
    EXPECT_TRUE(matches(g, "x"));
    EXPECT_FALSE(matches(g, "ab"));
    EXPECT_FALSE(matches(g, "abcx"));
    EXPECT_FALSE(matches(g, ""));
}

TEST(GbnfParser, RuleReferencesAndGroups) {
    const char* g = "root ::= greeting (\" \" name)?\ngreeting ::= \"hi\" | \"hello\"\nname ::= [a-z]+\n";
    EXPECT_TRUE(matches(g, "hi"));
    EXPECT_TRUE(matches(g, "hello bob"));
    EXPECT_FALSE(matches(g, "hello "));
    EXPECT_FALSE(matches(g, "hello Bob"));
}

TEST(GbnfParser, Repetitions) {
    EXPECT_TRUE(matches("root ::= \"a\"*", ""));
    EXPECT_TRUE(matches("root ::= \"a\"*", "aaaa"));
    EXPECT_FALSE(matches("root ::= \"a\"+", ""));
    EXPECT_TRUE(matches("root ::= \"ab\"+", "ababab"));
    EXPECT_FALSE(matches("root ::= \"ab\"+", "aba"));
    EXPECT_TRUE(matches("root ::= \"a\"?", ""));
    EXPECT_FALSE(matches("root ::= \"a\"?", "aa"));
    const char* g = "root ::= [0-9]{2,4}";
    EXPECT_FALSE(matches(g, "1"));
    EXPECT_TRUE(matches(g, "12"));
    EXPECT_TRUE(matches(g, "1234"));
    EXPECT_FALSE(matches(g, "12345"));
    EXPECT_TRUE(matches("root ::= \"x\"{3}", "xxx"));
    EXPECT_FALSE(matches("root ::= \"x\"{3}", "xx"));
    EXPECT_TRUE(matches("root ::= \"x\"{2,}", "xxxxxxx"));
    EXPECT_FALSE(matches("root ::= \"x\"{2,}", "x"));
    EXPECT_TRUE(matches("root ::= (\"a\" | \"b\"){ 1 , 2 }", "ba"));
}

TEST(GbnfParser, CharacterClasses) {
    const char* g = "root ::= [a-cX_] [^0-9\\n] .";
    EXPECT_TRUE(matches(g, "aZé"));
    EXPECT_TRUE(matches(g, "_ \xF0\x9F\x98\x80"));  // any character, an emoji included
    EXPECT_FALSE(matches(g, "d!!"));
    EXPECT_FALSE(matches(g, "a5!"));
    EXPECT_FALSE(matches(g, "a\n!"));
    EXPECT_TRUE(matches("root ::= [-a]+", "-a-"));  // a leading '-' is literal
    EXPECT_TRUE(matches("root ::= [a-]+", "a-"));   // and a trailing one
    EXPECT_TRUE(matches("root ::= [α-ω]+", "λμ"));  // UTF-8 ranges
    EXPECT_FALSE(matches("root ::= [α-ω]+", "a"));
}

TEST(GbnfParser, Escapes) {
    EXPECT_TRUE(matches(R"(root ::= "\x41\u00e9\U0001F600\n\t\r\\\"")", "Aé\xF0\x9F\x98\x80\n\t\r\\\""));
    EXPECT_TRUE(matches(R"(root ::= [\[\]\-]+)", "[]-"));
    EXPECT_TRUE(matches(R"(root ::= [\x00-\x1F])", std::string(1, '\x05')));
}

TEST(GbnfParser, CommentsAndLines) {
    const char* g = "# a comment\nroot ::= a # trailing\n  # indented comment\n\na ::= (\n  \"x\" |\n  \"y\"\n)\n";
    EXPECT_TRUE(matches(g, "x"));
    EXPECT_TRUE(matches(g, "y"));
    // After `|` a rule goes on on the next line.
    EXPECT_TRUE(matches("root ::= \"a\" |\n  \"b\"\n", "b"));
    // Rules may be referenced before they are defined, and may recurse on the right.
    EXPECT_TRUE(matches("root ::= list\nlist ::= \"(\" list \")\" | \"\"\n", "((()))"));
    EXPECT_FALSE(matches("root ::= list\nlist ::= \"(\" list \")\" | \"\"\n", "(()"));
}

TEST(GbnfParser, ErrorsSayWhereAndWhat) {
    EXPECT_EQ(parse_error("root ::= \"a\"\nvalue = \"b\""), "grammar: 2:7: expected '::=' after the rule name 'value'");
    EXPECT_EQ(parse_error("root ::= \"abc"), "grammar: 1:14: unterminated string literal (expected '\"')");
    EXPECT_EQ(parse_error("root ::= [abc"), "grammar: 1:14: unterminated character class (expected ']')");
    EXPECT_EQ(parse_error("root ::= (\"a\" | \"b\""), "grammar: 1:20: expected ')' to close the group");
    EXPECT_EQ(parse_error("root ::= \"a\" foo"), "grammar: 1:14: undefined rule 'foo'");
    EXPECT_EQ(parse_error("item ::= \"a\""), "grammar: no rule named 'root' (matching starts there)");
    EXPECT_EQ(parse_error("root ::= *"), "grammar: 1:10: expected an element before '*'");
    EXPECT_EQ(parse_error("root ::= \"a\"{3,1}"), "grammar: 1:13: repetition {3,1}: the maximum is below the minimum");
    EXPECT_EQ(parse_error("root ::= \"a\"{,2}"), "grammar: 1:14: expected a number in the repetition");
    EXPECT_EQ(parse_error("root ::= \"a\"{2"), "grammar: 1:15: expected '}' to close the repetition");
    EXPECT_EQ(parse_error("root ::= \"a\"{99999}"), "grammar: 1:14: repetition count too large (at most 10000)");
    EXPECT_EQ(parse_error(R"(root ::= "\q")"),
              R"(grammar: 1:12: unknown escape '\q' (expected one of \n \r \t \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH))");
    EXPECT_EQ(parse_error(R"(root ::= "\xZ1")"), "grammar: 1:13: expected 2 hex digits in the escape");
    EXPECT_EQ(parse_error("root ::= [z-a]"), "grammar: 1:14: character range is backwards (U+0061 after U+007A)");
    EXPECT_EQ(parse_error("root ::= \"a\"\nroot ::= \"b\""), "grammar: 2:1: rule 'root' is defined twice");
    EXPECT_EQ(parse_error("root ::= \"a\" ) \"b\""),
              "grammar: 1:14: expected the end of the line after rule 'root', got ')'");
    EXPECT_EQ(parse_error("::= \"a\""), "grammar: 1:1: expected a rule name");
    EXPECT_EQ(parse_error("root ::= \"\xff\""), "grammar: 1:11: invalid UTF-8 in the string literal");
    // Columns count characters, not bytes.
    EXPECT_EQ(parse_error("root ::= \"é\" bad"), "grammar: 1:14: undefined rule 'bad'");
}

TEST(GbnfParser, RefusesLeftRecursion) {
    EXPECT_EQ(parse_error("root ::= root \"a\" | \"b\""),
              "grammar: rule 'root' is left-recursive (it can reach itself before matching a character, e.g. "
              "through a repetition of something that can be empty)");
    EXPECT_NE(parse_error("root ::= a\na ::= b? a \"x\"\nb ::= \"y\""), "");  // through a nullable prefix
    EXPECT_NE(parse_error("root ::= (\"a\"?)*"), "");                         // repeating something empty
    EXPECT_EQ(parse_error("root ::= \"a\" root | \"b\""), "");                // right recursion is fine
}

TEST(GbnfParser, HostileInputIsAnErrorNotACrash) {
    EXPECT_NE(parse_error(std::string(5000, '(')), "");
    EXPECT_EQ(parse_error("root ::= " + std::string(300, '(') + "\"a\"" + std::string(300, ')')),
              "grammar: 1:210: groups nested deeper than 200");
    EXPECT_EQ(parse_error("root ::= \"" + std::string(500, 'a') + "\"{0,10000}"),
              "grammar: 1:512: grammar too large: repetitions expand to more than 4194304 elements");
}

TEST(Automaton, AmbiguityStaysBounded) {
    // Many overlapping ways to read the same text: the stack set is deduplicated, so it stays small.
    auto g = parse_gbnf("root ::= (\"a\" | \"aa\" | \"aaa\")*");
    ASSERT_TRUE(g.ok());
    Automaton a(std::move(g).value());
    EXPECT_TRUE(testing::full_match(a, std::string(200, 'a')));
    EXPECT_LT(a.n_states(), 10u);
}

}  // namespace
}  // namespace loom::grammar

namespace loom::grammar {
namespace {

TEST(Automaton, DeepNestingEndsInAnErrorNotInExhaustedMemory) {
    // Each level of nesting is a new state whose stacks are as deep as the level: quadratic memory, bounded.
    auto g = parse_gbnf("root ::= \"(\" root \")\" | \"x\"");
    ASSERT_TRUE(g.ok());
    Automaton a(std::move(g).value());
    int32_t s = a.start();
    int depth = 0;
    for (; depth < 10000 && s != Automaton::kDead; ++depth) s = a.advance(s, U'(');
    EXPECT_EQ(s, Automaton::kDead);
    EXPECT_GT(depth, 1000);  // ordinary nesting is far from the limit
    EXPECT_EQ(a.error().rfind("grammar: nested too deep", 0), 0u) << a.error();
}

}  // namespace
}  // namespace loom::grammar
