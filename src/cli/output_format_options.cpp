#include "cli/output_format_options.h"

#include <CLI/CLI.hpp>

#include <fstream>
#include <sstream>

#include "grammar/gbnf_parser.h"
#include "grammar/json_schema.h"
#include "grammar/vocab_trie.h"

namespace loom::cli {

namespace {

Result<std::string> read_file(const std::string& path, const char* flag) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::io("{} {}: cannot open the file", flag, path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

void OutputFormatOptions::add_to(CLI::App& cmd) {
    auto* g =
        cmd.add_option("--grammar-file", grammar_file, "Constrain the output to a GBNF grammar (llama.cpp syntax)");
    auto* j = cmd.add_option("--json-schema", json_schema,
                             "Constrain the output to JSON valid under this schema (JSON text, or a file)");
    g->excludes(j);
}

Status OutputFormatOptions::apply(const tokenizer::Vocab& vocab, int32_t n_vocab, runtime::GenerateOptions& gen) const {
    std::string gbnf;
    if (!grammar_file.empty()) {
        LOOM_TRY(gbnf, read_file(grammar_file, "--grammar-file"));
    } else if (!json_schema.empty()) {
        const size_t first = json_schema.find_first_not_of(" \t\r\n");
        const bool inline_json = first != std::string::npos && (json_schema[first] == '{' || json_schema == "true");
        std::string text = json_schema;
        if (!inline_json) {
            LOOM_TRY(text, read_file(json_schema, "--json-schema"));
        }
        const auto schema = nlohmann::ordered_json::parse(text, nullptr, /*allow_exceptions=*/false);
        if (schema.is_discarded()) return Error::invalid("--json-schema: not valid JSON");
        auto compiled = grammar::json_schema_to_gbnf(schema);
        if (!compiled.ok()) return std::move(compiled).error().with_context("--json-schema");
        gbnf = std::move(compiled).value();
    } else {
        return Ok{};
    }
    auto g = grammar::parse_gbnf(gbnf);
    if (!g.ok()) return std::move(g).error().with_context(grammar_file.empty() ? "--json-schema" : grammar_file);
    gen.grammar = std::make_shared<const grammar::Grammar>(std::move(g).value());
    gen.trie = grammar::VocabTrie::from_vocab(vocab, n_vocab);
    return Ok{};
}

}  // namespace loom::cli
