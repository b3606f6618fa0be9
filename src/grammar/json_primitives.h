// GBNF building blocks for JSON text, shared by the schema compiler and its tests.
#pragma once

#include <string>
#include <string_view>

namespace loom::grammar::json_rules {

// Rule bodies by name: ws, value, object, array, string, char, number, integer, boolean, null, and the
// formats date, time, date-time, uuid. Each may refer to others in this set (see needs()).
std::string_view body(std::string_view name);
// The rules `name` refers to directly.
std::string_view needs(std::string_view name);

// `text` as a GBNF string literal: quotes, backslashes and control characters escaped.
std::string literal(std::string_view text);

}  // namespace loom::grammar::json_rules
