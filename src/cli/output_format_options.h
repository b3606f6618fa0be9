// --grammar-file and --json-schema, shared by `loom run` and `loom chat`: the output must match a GBNF grammar
// or a JSON schema (grammar/json_schema.h says which keywords work).
#pragma once

#include <string>

#include "core/error.h"
#include "runtime/generate.h"

namespace CLI {
class App;
}
namespace loom::tokenizer {
class Vocab;
}

namespace loom::cli {

struct OutputFormatOptions {
    std::string grammar_file;  // GBNF
    std::string json_schema;   // a schema as JSON text, or a file holding one

    void add_to(CLI::App& cmd);
    // Compiles the grammar into gen.grammar and the vocabulary's trie into gen.trie; nothing when neither flag
    // is given. Errors name the flag and the problem (a grammar's line:column, a schema's keyword).
    Status apply(const tokenizer::Vocab& vocab, int32_t n_vocab, runtime::GenerateOptions& gen) const;
};

}  // namespace loom::cli
