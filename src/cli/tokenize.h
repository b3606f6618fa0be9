// `loom tokenize [-m MODEL] (-p TEXT | -f FILE) [--no-special-add] [--parse-special] [--json]`: the ids and
// pieces a model's tokenizer makes of a text, for debugging (the JSON form matches tools/llama_ref's).
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace loom::cli {

struct TokenizeOptions {
    std::string model;           // empty: the default model
    std::string prompt;          // the text, unless `file` is set
    std::string file;            // read the text from this file ("-": stdin)
    bool add_special = true;     // BOS/EOS as the vocabulary says
    bool parse_special = false;  // special-token texts in the prompt become their ids
    bool json = false;           // {"tokens":[...],"pieces":[...]} on one line
    bool ids_only = false;       // just the ids, space-separated
};

// Runs the command: the report in `out`, or one line "loom: <message>\n" in `err`; returns the exit status.
int run_tokenize(const TokenizeOptions& o, std::string& out, std::string& err);

void add_tokenize_command(CLI::App& app);

}  // namespace loom::cli
