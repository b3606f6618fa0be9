// `loom inspect [FILE] [--json] [--all]`: a GGUF file's header, metadata, tensor table and totals,
// as aligned text for people or as one JSON object for tools. Both forms carry the same facts.
#pragma once

#include <string>

#include <nlohmann/json_fwd.hpp>

namespace CLI {
class App;
}
namespace loom::formats {
class GgufFile;
}

namespace loom::cli {

struct InspectOptions {
    std::string file;   // empty: the default model (core/default_model.h)
    bool json = false;  // one JSON object instead of text
    bool all = false;   // arrays and long strings in full instead of summarised
};

// The report on an opened, validated file. Unless `all`, an array shows its first few elements and its
// length, and a long string (a chat template) its first bytes and its length; the JSON form marks
// such values "truncated": true.
std::string inspect_text(const formats::GgufFile& f, bool all);
nlohmann::ordered_json inspect_json(const formats::GgufFile& f, bool all);

// The whole command: opens the file (or the default model), then writes the report to `out`, or
// exactly one line "loom: <message>\n" to `err`. Returns the exit status: 0 for a valid file, 1 if not.
int run_inspect(const InspectOptions& o, std::string& out, std::string& err);

// Registers the `inspect` subcommand on `app`. Its callback prints the report; on failure it throws
// CLI::RuntimeError(status), which CLI11 turns into the exit status without printing anything more.
void add_inspect_command(CLI::App& app);

}  // namespace loom::cli
