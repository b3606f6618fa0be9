// JSON Schema's `pattern` (an ECMAScript regular expression) as GBNF over the text between a JSON string's
// quotes. As the keyword means, the string must *contain* a match: an alternative without `^` may be preceded
// by any characters and one without `$` followed by any. Each character the pattern admits is written as JSON
// needs it: `"` and `\` escaped, control characters as \n, \t, \r, \b, \f or \u00XX (dropped from `.` and
// negated classes, which keeps their grammars small: the grammar may match fewer strings, never more).
//
// Supported: literals, `.`, classes `[a-z]` / `[^...]`, \d \D \w \W \s \S, the escapes \t \n \v \f \r \0
// \xHH \uHHHH (surrogate pairs too) \cX and escaped punctuation, groups `(...)`, `(?:...)`, `(?<name>...)`,
// alternation, the quantifiers ? * + {n} {n,} {n,m} (lazy ones alike: the set of matching strings is the
// same), `^` / `$` at the ends of a top-level alternative. Refused with the construct and its position:
// backreferences, lookaround, word boundaries, Unicode properties, anchors elsewhere, repetition counts above
// 1000.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace loom::grammar {

// A GBNF expression; it refers to the rule `char` (one JSON string character, escapes included) of
// json_rules, which the caller must define.
Result<std::string> pattern_to_gbnf(std::string_view pattern);

}  // namespace loom::grammar
