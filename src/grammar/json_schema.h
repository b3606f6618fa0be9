// JSON Schema → GBNF text, for structured output (response_format json_schema, llama-server's json_schema).
// The grammar matches compact-or-spaced JSON whose value validates against the schema: no leading or trailing
// whitespace, at most 16 whitespace characters between tokens, numbers with at most 16 integer digits, 16
// fraction digits and a 2-digit exponent (bounds that keep a runaway model finite, and every number inside a
// double's range).
//
// Supported: type (object, array, string, number, integer, boolean, null, and arrays of these), properties
// (generated in the schema's order), required, additionalProperties (false, or true / a schema on an object
// without properties), enum, const, items, minItems, maxItems, anyOf, oneOf (as anyOf), $ref to local
// pointers (#, #/$defs/..., #/definitions/..., recursion included), minLength, maxLength, format (date, time,
// date-time, uuid), and minimum/maximum/exclusiveMinimum/exclusiveMaximum on numbers and integers, in any
// range and in draft 4's boolean form too (number_range.h: bounded numbers are plain decimals of at most 15
// digits, bounded integers of at most 16). Annotations (title, description,
// default, examples, $schema, $id, $comment, deprecated, readOnly, writeOnly) are ignored.
// Everything else is an error that names the keyword and where it is, e.g.
// "json_schema: keyword 'patternProperties' at /properties/x is not supported": never silently ignored.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/error.h"

namespace loom::grammar {

// `schema` as an ordered JSON value so that properties keep the order they were written in. With `kv_quote`,
// the values are spelled as key:value text instead of JSON (json_primitives.h's kv rules: a tool-call syntax
// such as `{city:<|"|>Paris<|"|>,days:3}`); `pattern` and enums of objects or arrays are refused there.
Result<std::string> json_schema_to_gbnf(const nlohmann::ordered_json& schema, std::string_view kv_quote = "");

// Any JSON object (response_format json_object).
std::string json_object_gbnf();

}  // namespace loom::grammar
