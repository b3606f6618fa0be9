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

// The same rules for values written as key:value text (a tool-call syntax: `{city:<|"|>Paris<|"|>,days:3}`):
// no whitespace, keys bare identifiers, strings between two `quote` tokens with no escapes (and without the
// quote's first character inside, so a string cannot end early). Numbers, booleans and null are JSON's. Also
// defines `kv-key`.
std::string kv_body(std::string_view name, std::string_view quote);
std::string_view kv_needs(std::string_view name);

// `text` as a GBNF string literal: quotes, backslashes and control characters escaped.
std::string literal(std::string_view text);

}  // namespace loom::grammar::json_rules
