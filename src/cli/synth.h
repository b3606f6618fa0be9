// `loom synth SPEC -o OUT [--type T] [--seed N] [-t N]`: write a GGUF with deterministic random weights
// from a spec file (see synth/synth_model.h), for tests and benchmarks at real model shapes.
#pragma once

namespace CLI {
class App;
}

namespace loom::cli {

void add_synth_command(CLI::App& app);

}  // namespace loom::cli
