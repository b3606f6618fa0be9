// GBNF text → Grammar. The syntax is llama.cpp's (grammars/README.md there):
//   name ::= alternatives          a rule; `root` is where matching starts; a rule ends at the end of its line
//                                  unless a `|` or an open group carries it on
//   a b        a | b               sequence, alternatives
//   ( ... )                        a group
//   "text"                         a literal; escapes \n \r \t \\ \" \[ \] \xHH \uHHHH \UHHHHHHHH
//   [a-z_] [^"\\]                  a character class, with ranges and negation; the same escapes
//   .                              any character
//   x* x+ x? x{m} x{m,} x{m,n}     repetition of the element before
//   # ...                          a comment to the end of the line
// Errors give line:column (columns count characters) and what was expected there, e.g.
// "grammar: 2:9: expected '::=' after the rule name 'value'". Undefined rules, a missing root, and left
// recursion (which would never end when matched) are errors too.
#pragma once

#include <string_view>

#include "core/error.h"
#include "grammar/grammar.h"

namespace loom::grammar {

// Limits that keep a hostile grammar from exhausting memory: repetition counts and the flattened size.
inline constexpr uint32_t kMaxRepetition = 10000;
inline constexpr size_t kMaxElements = size_t(1) << 22;

Result<Grammar> parse_gbnf(std::string_view text);

}  // namespace loom::grammar
