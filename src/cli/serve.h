// The serve subcommand: an OpenAI-compatible HTTP server (src/server/).
#pragma once

namespace CLI {
class App;
}

namespace loom::cli {

void add_serve_command(CLI::App& app);

}  // namespace loom::cli
