// The synth subcommand: options → synth::synthesize, one summary line, errors as one line on stderr.
#include "cli/synth.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <memory>

#include "synth/synth_model.h"

namespace loom::cli {

void add_synth_command(CLI::App& app) {
    auto o = std::make_shared<synth::SynthOptions>();
    CLI::App* cmd = app.add_subcommand("synth", "Write a GGUF with deterministic random weights from a spec file");
    cmd->add_option("SPEC", o->spec_path, "Spec file (.toml): metadata, tensors, quantization presets")->required();
    cmd->add_option("-o,--output", o->out_path, "GGUF file to write")->required();
    cmd->add_option("--type", o->type, "A tensor type (f32, f16, q8_0, q4_k, ...) or a preset from the spec's [types]")
        ->capture_default_str();
    cmd->add_option("-s,--seed", o->seed, "Seed for the weights")->capture_default_str();
    cmd->add_option("-t,--threads", o->n_threads, "Threads for quantization (0 = all cores)")->capture_default_str();
    cmd->callback([o] {
        auto r = synth::synthesize(*o);
        if (!r.ok()) {
            fmt::print(stderr, "loom: {}\n", r.error().message());
            throw CLI::RuntimeError(1);
        }
        fmt::print("{}: {} tensors, {} parameters, {} bytes\n", o->out_path, r->n_tensors, r->n_params, r->bytes);
    });
}

}  // namespace loom::cli
