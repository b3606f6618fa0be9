// Template text -> syntax tree. Whitespace control follows jinja2: '-' in a tag strips the whitespace on that
// side; trim_blocks drops the first newline after a block or comment tag; lstrip_blocks drops spaces and
// tabs between a line start and a block or comment tag ('+' turns that off for one tag).
#pragma once

#include <string_view>

#include "core/error.h"
#include "tokenizer/jinja/ast.h"

namespace loom::tokenizer::jinja {

struct ParseOptions {
    bool trim_blocks = true;  // HF's apply_chat_template settings
    bool lstrip_blocks = true;
    size_t max_depth = 256;  // nesting of blocks and expressions
};

// Errors read `chat template:<line>: <what>`.
Result<Body> parse(std::string_view source, const ParseOptions& opt = {});

}  // namespace loom::tokenizer::jinja
