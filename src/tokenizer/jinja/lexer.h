// The two lexical levels of a Jinja template: the template text cut into pieces (text, {{ expressions }},
// {% statements %}; comments dropped) with jinja2's whitespace control applied, and the inside of a tag cut into
// expression tokens. The parser (parser.cpp) builds the syntax tree from them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/jinja/parser.h"
#include "tokenizer/jinja/value.h"

namespace loom::tokenizer::jinja {

struct Piece {
    enum Kind { text, var, block } kind;
    std::string content;  // text, or the inside of the tag without delimiters and modifiers
    int line;
};

// The template's pieces, in order. Errors (an unterminated tag) read `chat template:<line>: <what>`.
Result<std::vector<Piece>> split_pieces(std::string_view src, const ParseOptions& opt);

struct Tok {
    enum Kind { name, integer, floating, string, op, end } kind;
    std::string text;
    Value value;
};

// The tokens of one tag's inside (from template line `line`), ending with an `end` token.
Result<std::vector<Tok>> lex(std::string_view s, int line);

}  // namespace loom::tokenizer::jinja
