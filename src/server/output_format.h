// The request fields that constrain the output's form, compiled to a grammar: OpenAI's response_format
// ({"type": "text" | "json_object" | "json_schema", "json_schema": {"name", "schema", "strict"}}) and
// llama-server's top-level `grammar` (GBNF) and `json_schema`. At most one of them may constrain a request;
// a schema or grammar that does not compile is a 400 naming the field and the problem.
#pragma once

#include <memory>
#include <string_view>

#include "grammar/grammar.h"
#include "server/request.h"

namespace loom::server {

// `raw` is the request's JSON text, read again in order when a schema is present so that its properties are
// generated in the order the client wrote them (Json sorts keys); empty: sorted order. `out` stays null when
// the request asks for free text.
MaybeError parse_output_format(const Json& body, std::string_view raw, std::shared_ptr<const grammar::Grammar>& out);

}  // namespace loom::server
