// `loom run`: generate from a prompt, streaming text to stdout (llama-cli style flags).
#pragma once

namespace CLI {
class App;
}

namespace loom::cli {

void add_run_command(CLI::App& app);

}  // namespace loom::cli
