#include "server/output_format.h"

#include "grammar/gbnf_parser.h"
#include "grammar/json_schema.h"

namespace loom::server {

namespace {

// The compilers' messages start with their own "grammar: " or "json_schema: "; the field name replaces it.
std::string without_source(const std::string& message) {
    for (const char* prefix : {"grammar: ", "json_schema: "}) {
        if (message.rfind(prefix, 0) == 0) return message.substr(std::string_view(prefix).size());
    }
    return message;
}

#define LOOM_OUTPUT_TRY(expr)            \
    do {                                 \
        if (auto e_ = (expr)) return e_; \
    } while (0)

constexpr size_t kMaxGrammarBytes = size_t(1) << 20;

MaybeError compile_gbnf(const std::string& text, const std::string& param,
                        std::shared_ptr<const grammar::Grammar>& out) {
    auto g = grammar::parse_gbnf(text);
    if (!g.ok()) return ApiError::field(param, "invalid_value", "{}", without_source(g.error().message()));
    out = std::make_shared<const grammar::Grammar>(std::move(g).value());
    return std::nullopt;
}

// The schema at `path` (keys of the body, in order) from the ordered reading of `raw` when there is one.
OrderedJson ordered_at(const Json& fallback, std::string_view raw, std::initializer_list<const char*> path) {
    if (!raw.empty()) {
        const OrderedJson doc = OrderedJson::parse(raw, nullptr, /*allow_exceptions=*/false);
        const OrderedJson* node = &doc;
        for (const char* key : path) {
            if (!node->is_object() || !node->contains(key)) {
                node = nullptr;
                break;
            }
            node = &(*node)[key];
        }
        if (node) return *node;
    }
    return OrderedJson::parse(fallback.dump());
}

MaybeError compile_schema(const OrderedJson& schema, const std::string& param,
                          std::shared_ptr<const grammar::Grammar>& out) {
    auto text = grammar::json_schema_to_gbnf(schema);
    if (!text.ok()) return ApiError::field(param, "invalid_value", "{}", without_source(text.error().message()));
    return compile_gbnf(*text, param, out);
}

}  // namespace

MaybeError parse_output_format(const Json& body, std::string_view raw, std::shared_ptr<const grammar::Grammar>& out) {
    out.reset();
    std::vector<const char*> given;
    auto present = [&](const char* name) {
        auto it = body.find(name);
        return it != body.end() && !it->is_null();
    };
    if (present("response_format")) {
        const Json& rf = body["response_format"];
        if (!rf.is_object() || !rf.contains("type") || !rf["type"].is_string())
            return ApiError::field("response_format", "invalid_value",
                                   "expected an object with a \"type\": text, json_object or json_schema");
        const std::string type = rf["type"].get<std::string>();
        if (type == "json_object") {
            // llama-server accepts a schema here too.
            if (rf.contains("schema") && !rf["schema"].is_null()) {
                LOOM_OUTPUT_TRY(compile_schema(ordered_at(rf["schema"], raw, {"response_format", "schema"}),
                                               "response_format.schema", out));
            } else {
                LOOM_OUTPUT_TRY(compile_gbnf(grammar::json_object_gbnf(), "response_format", out));
            }
            given.push_back("response_format");
        } else if (type == "json_schema") {
            if (!rf.contains("json_schema") || !rf["json_schema"].is_object())
                return ApiError::field("response_format.json_schema", "invalid_value",
                                       "is required with type json_schema (an object with \"name\" and \"schema\")");
            const Json& js = rf["json_schema"];
            if (js.contains("name") && !js["name"].is_string())
                return ApiError::field("response_format.json_schema.name", "invalid_type", "expected a string");
            if (js.contains("strict") && !js["strict"].is_boolean() && !js["strict"].is_null())
                return ApiError::field("response_format.json_schema.strict", "invalid_type", "expected a boolean");
            // No schema: any JSON value, as the name alone promises nothing more.
            const OrderedJson schema = js.contains("schema") && !js["schema"].is_null()
                                           ? ordered_at(js["schema"], raw, {"response_format", "json_schema", "schema"})
                                           : OrderedJson(true);
            LOOM_OUTPUT_TRY(compile_schema(schema, "response_format.json_schema.schema", out));
            given.push_back("response_format");
        } else if (type != "text") {
            return ApiError::field("response_format.type", "invalid_value",
                                   "unknown type \"{}\" (expected text, json_object or json_schema)", type);
        }
    }
    if (present("json_schema")) {
        LOOM_OUTPUT_TRY(compile_schema(ordered_at(body["json_schema"], raw, {"json_schema"}), "json_schema", out));
        given.push_back("json_schema");
    }
    if (present("grammar")) {
        const Json& g = body["grammar"];
        if (!g.is_string()) return ApiError::field("grammar", "invalid_type", "expected a GBNF string");
        if (g.get<std::string>().size() > kMaxGrammarBytes)
            return ApiError::field("grammar", "invalid_value", "is longer than {} bytes", kMaxGrammarBytes);
        LOOM_OUTPUT_TRY(compile_gbnf(g.get<std::string>(), "grammar", out));
        given.push_back("grammar");
    }
    if (given.size() > 1)
        return ApiError::field(given[1], "invalid_value", "cannot be combined with {}: give one output constraint",
                               given[0]);
    return std::nullopt;
}

}  // namespace loom::server
