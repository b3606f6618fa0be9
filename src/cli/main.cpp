// loom: the command-line entry point; one subcommand per file in src/cli/.
#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstring>

#include "cli/bench.h"
#include "cli/chat.h"
#include "cli/diagram.h"
#include "cli/eval.h"
#include "cli/inspect.h"
#include "cli/run.h"
#include "cli/serve.h"
#include "cli/synth.h"
#include "cli/tokenize.h"
#include "core/build_info.h"

int main(int argc, char** argv) {
    CLI::App app{"loom: an LLM inference engine"};
    app.set_version_flag("--version", fmt::format("loom {} ({})", loom::build_version(), loom::build_commit()));
    app.require_subcommand(1);
    loom::cli::add_inspect_command(app);
    loom::cli::add_bench_command(app);
    loom::cli::add_chat_command(app);
    loom::cli::add_diagram_command(app);
    loom::cli::add_eval_command(app);
    loom::cli::add_run_command(app);
    loom::cli::add_serve_command(app);
    loom::cli::add_synth_command(app);
    loom::cli::add_tokenize_command(app);
    // `loom chat -sys TEXT`, as llama-cli spells it: CLI11 names with one dash are one letter long.
    for (int i = 2; i < argc && std::strcmp(argv[1], "chat") == 0; ++i)
        if (std::strcmp(argv[i], "-sys") == 0) argv[i] = const_cast<char*>("--system");
    CLI11_PARSE(app, argc, argv);
    return 0;
}
