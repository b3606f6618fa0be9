#include <gtest/gtest.h>

#include "grammar/json_schema.h"
#include "unit/grammar/grammar_testing.h"
#include "unit/grammar/schema_validator.h"

namespace loom::grammar {
namespace {

using OJson = nlohmann::ordered_json;

// The schema's grammar, parsed (failing the test when the compiler or the parser refuses it).
std::unique_ptr<Automaton> compile(const std::string& schema) {
    auto text = json_schema_to_gbnf(OJson::parse(schema));
    EXPECT_TRUE(text.ok()) << text.error().message();
    if (!text.ok()) return nullptr;
    auto g = parse_gbnf(*text);
    EXPECT_TRUE(g.ok()) << g.error().message() << "\n" << *text;
    if (!g.ok()) return nullptr;
    return std::make_unique<Automaton>(std::move(g).value());
}

// Each of `good` matches the grammar and validates; each of `bad` does neither... or at least does not match.
void check(const std::string& schema, std::initializer_list<const char*> good, std::initializer_list<const char*> bad) {
    auto a = compile(schema);
    ASSERT_TRUE(a);
    const OJson s = OJson::parse(schema);
    for (const char* g : good) {
        EXPECT_TRUE(testing::full_match(*a, g)) << schema << " should accept " << g;
        EXPECT_EQ(testing::validate(OJson::parse(g), s, s), "") << g;  // the test's own examples are valid
    }
    for (const char* b : bad) EXPECT_FALSE(testing::full_match(*a, b)) << schema << " should reject " << b;
}

std::string refusal(const std::string& schema) {
    auto text = json_schema_to_gbnf(OJson::parse(schema));
    return text.ok() ? "" : text.error().message();
}

TEST(JsonSchema, Types) {
    check(R"({"type": "string"})", {R"("")", R"("a\"b\u00e9")", "\"é\""}, {"1", R"("a)", "\"\x01\""});
    check(R"({"type": "integer"})", {"0", "-12", "1234567890123456"}, {"01", "1.5", "-", "12345678901234567"});
    check(R"({"type": "number"})", {"0", "-1.25", "3e10", "2.5E-3"}, {"1.", ".5", "1e", "+1", "1e100"});
    check(R"({"type": "boolean"})", {"true", "false"}, {"True", "1"});
    check(R"({"type": "null"})", {"null"}, {"nil", ""});
    check(R"({"type": ["string", "null"]})", {"null", R"("x")"}, {"1"});
    check(R"({})", {"1", R"({"a": [1, {"b": null}]})", R"("s")"}, {"{", "[1,]", " 1"});
    check(R"(true)", {"[]"}, {"]"});
}

TEST(JsonSchema, Objects) {
    const char* s = R"({"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"},
                        "tag": {"type": "boolean"}}, "required": ["name"]})";
    check(s,
          {R"({"name": "x"})", R"({"name":"x","age":3})", R"({ "name" : "x" , "tag" : true })",
           R"({"name": "x", "age": 1, "tag": false})"},
          {R"({})", R"({"age": 3})", R"({"age": 3, "name": "x"})", R"({"name": "x",})", R"({"name": "x", "z": 1})",
           R"({"name": 1})"});
    check(R"({"type": "object"})", {"{}", R"({"a": 1, "b": [true]})"}, {"[]", "{1: 2}"});
    check(R"({"type": "object", "additionalProperties": {"type": "integer"}})", {"{}", R"({"a": 1, "b": 2})"},
          {R"({"a": "x"})"});
    check(R"({"type": "object", "additionalProperties": false})", {"{}"}, {R"({"a": 1})"});
    check(R"({"properties": {"a": {"type": "null"}}, "required": ["a"]})", {R"({"a": null})"}, {"{}", "null"});
    // Nested objects.
    check(R"({"type": "object", "properties": {"p": {"type": "object", "properties": {"q": {"const": 1}},
              "required": ["q"]}}, "required": ["p"]})",
          {R"({"p": {"q": 1}})"}, {R"({"p": {}})", R"({"p": {"q": 2}})"});
}

TEST(JsonSchema, Arrays) {
    check(R"({"type": "array", "items": {"type": "integer"}})", {"[]", "[1]", "[1, 2,3]"}, {"[1,]", "[\"a\"]"});
    check(R"({"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 3})", {"[1,2]", "[1,2,3]"},
          {"[]", "[1]", "[1,2,3,4]"});
    check(R"({"type": "array", "minItems": 1})", {"[null]", "[1, \"a\"]"}, {"[]"});
    check(R"({"type": "array", "maxItems": 0})", {"[]", "[ ]"}, {"[1]"});
}

TEST(JsonSchema, EnumConstAndAlternatives) {
    check(R"({"enum": ["red", "green", 3, null, {"a": [1]}]})", {R"("red")", "3", "null", R"({"a":[1]})"},
          {R"("blue")", "4", R"({"a": [1]})"});  // values are written compactly
    check(R"({"const": "he said \"hi\""})", {R"("he said \"hi\"")"}, {R"("he said")"});
    check(R"({"type": "string", "enum": ["a", 1]})", {R"("a")"}, {"1"});  // 1 is no string: never valid
    check(R"({"anyOf": [{"type": "integer"}, {"type": "string", "maxLength": 1}]})", {"1", R"("a")"}, {R"("ab")"});
    check(R"({"oneOf": [{"type": "boolean"}, {"type": "null"}]})", {"true", "null"}, {"0"});
}

TEST(JsonSchema, References) {
    const char* tree = R"({"$defs": {"node": {"type": "object", "properties": {"v": {"type": "integer"},
        "kids": {"type": "array", "items": {"$ref": "#/$defs/node"}, "maxItems": 2}}, "required": ["v"]}},
        "$ref": "#/$defs/node"})";
    check(tree, {R"({"v": 1})", R"({"v": 1, "kids": [{"v": 2}, {"v": 3, "kids": [{"v": 4}]}]})"},
          {R"({"v": 1, "kids": [{}]})", R"({"kids": []})"});
    check(R"({"definitions": {"n": {"type": "integer"}}, "type": "array", "items": {"$ref": "#/definitions/n"}})",
          {"[1, 2]"}, {"[\"x\"]"});
    check(R"({"type": "object", "properties": {"self": {"$ref": "#"}}})", {"{}", R"({"self": {"self": {}}})"},
          {R"({"self": 1})"});
}

TEST(JsonSchema, StringsAndFormats) {
    check(R"({"type": "string", "minLength": 2, "maxLength": 3})", {R"("ab")", R"("abc")", "\"éé\"", R"("\n\t")"},
          {R"("a")", R"("abcd")"});
    check(R"({"type": "string", "format": "date"})", {R"("2024-02-29")"}, {R"("2024-13-01")", R"("24-01-01")"});
    check(R"({"type": "string", "format": "time"})", {R"("23:59:59Z")", R"("01:02:03.5+02:00")"}, {R"("24:00:00Z")"});
    check(R"({"type": "string", "format": "date-time"})", {R"("2024-01-02T03:04:05Z")"}, {R"("2024-01-02 03:04:05Z")"});
    check(R"({"type": "string", "format": "uuid"})", {R"("123e4567-e89b-12d3-a456-426614174000")"},
          {R"("123e4567e89b12d3a456426614174000")"});
}

TEST(JsonSchema, IntegerRanges) {
    check(R"({"type": "integer", "minimum": -2, "maximum": 3})", {"-2", "0", "3"}, {"-3", "4", "-0"});
    check(R"({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3})", {"1", "2"}, {"0", "3"});
    check(R"({"type": "integer", "minimum": 0})", {"0", "17"}, {"-1", "01"});
    check(R"({"type": "integer", "minimum": 1})", {"1", "10"}, {"0", "-1"});
    check(R"({"type": "integer", "minimum": 5})", {"5", "10", "123456"}, {"4", "-5", "05"});
    check(R"({"type": "integer", "minimum": -1000000, "maximum": 2500000})", {"-1000000", "0", "2500000", "999"},
          {"-1000001", "2500001", "25000000"});
    check(R"({"type": "integer", "minimum": 0.5, "exclusiveMaximum": 3.5})", {"1", "3"}, {"0", "4", "1.5"});
}

TEST(JsonSchema, Patterns) {
    check(R"({"type": "string", "pattern": "^[A-Z]{2}-\\d{3}$"})", {R"("AB-123")"}, {R"("AB-12")", R"("ab-123")"});
    check(R"({"pattern": "@"})", {R"("a@b")", R"("@")"}, {R"("ab")", "3"});
    check(R"({"type": "string", "pattern": "^\"q\"$"})", {R"("\"q\"")"}, {R"(""q"")", R"("q")"});
}

TEST(JsonSchema, NumberRanges) {
    check(R"({"type": "number", "minimum": 0, "maximum": 1})", {"0", "0.5", "1", "1.0", "0.999"},
          {"-0.1", "1.01", "2", "1e0", "-0"});
    check(R"({"type": "number", "exclusiveMinimum": 0, "maximum": 100})", {"0.001", "42", "100"},
          {"0", "0.0", "100.001", "-3"});
    check(R"({"type": "number", "minimum": -273.15})", {"-273.15", "-20.5", "0", "1000000"},
          {"-273.16", "-274", "-300"});
    check(R"({"type": ["number", "null"], "exclusiveMaximum": -0.25})", {"-0.26", "-1", "null"}, {"-0.25", "0"});
    // Draft 4's boolean form.
    check(R"({"type": "number", "minimum": 2, "exclusiveMinimum": true})", {"2.01", "3"}, {"2", "2.0", "1.99"});
    // The tighter of two bounds on one side.
    check(R"({"type": "number", "minimum": 2, "exclusiveMinimum": 3})", {"3.5"}, {"3", "2.5"});
}

TEST(JsonSchema, RefusesWhatItDoesNotSupport) {
    EXPECT_EQ(refusal(R"({"type": "object", "properties": {"x": {"type": "object", "patternProperties": {}}}})"),
              "json_schema: keyword 'patternProperties' at /properties/x is not supported");
    EXPECT_EQ(refusal(R"({"type": "string", "pattern": "^(a)\\1$"})"),
              "json_schema: pattern \"^(a)\\1$\": a backreference '\\1' at character 5 is not supported at /");
    EXPECT_EQ(refusal(R"({"type": "string", "pattern": "^a", "maxLength": 3})"),
              "json_schema: keyword 'maxLength' next to 'pattern' at / is not supported");
    for (const char* k : {"allOf", "not", "if", "uniqueItems", "minProperties", "multipleOf", "prefixItems", "contains",
                          "dependentRequired", "nullable", "propertyNames"}) {
        EXPECT_EQ(refusal(fmt::format(R"({{"{}": 1}})", k)),
                  fmt::format("json_schema: keyword '{}' at / is not supported", k));
    }
    EXPECT_EQ(refusal(R"({"type": "string", "format": "email"})"),
              "json_schema: format \"email\" is not supported (supported: date, time, date-time, uuid) at /");
    EXPECT_EQ(refusal(R"({"type": "number", "minimum": 1e20})"),
              "json_schema: 'minimum' '1e+20' has more than 16 integer digits at /");
    EXPECT_EQ(refusal(R"({"type": "integer", "minimum": 2, "exclusiveMaximum": 2})"),
              "json_schema: no integer of at most 16 digits lies in [2, 2) at /");
    EXPECT_EQ(refusal(R"({"type": "number", "minimum": 1.5, "exclusiveMinimum": true, "maximum": 1e-1})"),
              "json_schema: no number of at most 15 digits lies in (1.5, 0.1] at /");
    EXPECT_EQ(refusal(R"({"type": "number", "exclusiveMinimum": true})"),
              "json_schema: 'exclusiveMinimum': true needs 'minimum' beside it at /");
    EXPECT_EQ(refusal(R"({"type": "number", "maximum": "3"})"), "json_schema: 'maximum' must be a number at /");
    EXPECT_EQ(refusal(R"({"$ref": "other.json#/a"})"),
              "json_schema: '$ref' \"other.json#/a\" is not supported (only local references starting with '#') at /");
    EXPECT_EQ(refusal(R"({"$ref": "#/$defs/missing"})"),
              "json_schema: '$ref' \"#/$defs/missing\" points at nothing at /");
    EXPECT_EQ(refusal(R"({"$ref": "#/$defs/a", "type": "string", "$defs": {"a": {}}})"),
              "json_schema: keyword 'type' next to '$ref' at / is not supported");
    EXPECT_EQ(refusal(R"({"type": "array", "items": [{"type": "string"}]})"),
              "json_schema: 'items' as an array (tuple validation) is not supported at /");
    EXPECT_EQ(refusal(R"({"type": "object", "properties": {"a": {}}, "additionalProperties": true})"),
              "json_schema: 'additionalProperties' other than false next to 'properties' is not supported at /");
    EXPECT_EQ(refusal(R"({"type": "object", "properties": {"a": {}}, "required": ["b"]})"),
              "json_schema: required property \"b\" is not in 'properties' (extra properties are not supported) at /");
    EXPECT_EQ(refusal(R"({"type": "strng"})"), "json_schema: unknown type \"strng\" at /");
    EXPECT_EQ(refusal(R"(false)"), "json_schema: the schema 'false' admits no value at /");
    EXPECT_EQ(refusal(R"(3)"), "json_schema: a schema must be an object or a boolean, got number at /");
    EXPECT_EQ(refusal(R"({"type": "array", "maxItems": 100000})"),
              "json_schema: 'maxItems' above 1000 is not supported at /");
    EXPECT_EQ(refusal(R"({"type": "integer", "enum": ["a"]})"),
              "json_schema: no value of 'enum' / 'const' has the schema's type at /");
    EXPECT_EQ(refusal(R"({"anyOf": []})"), "json_schema: 'anyOf' must be a non-empty array at /");
    // Deep nesting is an error, not a stack overflow.
    std::string deep = R"({"type": "string"})";
    for (int i = 0; i < 100; ++i) deep = R"({"type": "array", "items": )" + deep + "}";
    EXPECT_EQ(refusal(deep).rfind("json_schema: schemas nested deeper than 64", 0), 0u) << refusal(deep);
}

TEST(JsonSchema, JsonObjectGrammarAcceptsAnyObjectOnly) {
    auto g = parse_gbnf(json_object_gbnf());
    ASSERT_TRUE(g.ok()) << g.error().message();
    Automaton a(std::move(g).value());
    EXPECT_TRUE(testing::full_match(a, R"({"a": {"b": [1, 2.5, "x", null, true]}})"));
    EXPECT_TRUE(testing::full_match(a, "{}"));
    EXPECT_FALSE(testing::full_match(a, "[]"));
    EXPECT_FALSE(testing::full_match(a, R"({"a": })"));
}

}  // namespace
}  // namespace loom::grammar
