// Synthetic models: GGUF files with deterministic random weights, built from a spec file that lists
// metadata, tensors and quantization presets (see tests/data/synth/*.toml). The spec is data: nothing
// here knows a model family. Used for test models and for benchmarks at real model shapes.
// A [[tensor]] takes name, shape (up to 4 dims, outermost first: 3-D expert tensors are [n_expert, out, in]),
// init = "normal" (default; `std` 0.02, `mean` 0), "ones" or "values" (`values = [...]`, one row, repeated), an
// optional `type` of its own, and for names with
// {layer} an optional `layers = [...]` (the layers that have it; default all).
// [vocab] takes model and size: the tokenizer.ggml.model name and the token count; the layouts (a learned-BPE
// one, SentencePiece-style filler) are tokenizer/synth_vocab.h's.
#pragma once

#include <cstdint>
#include <string>

#include "core/error.h"

namespace loom::synth {

struct SynthOptions {
    std::string spec_path;     // the .toml spec
    std::string out_path;      // the .gguf to write
    std::string type = "f32";  // a dtype name (every 2-D tensor gets it) or a preset in the spec's [types]
    uint64_t seed = 0;
    int n_threads = 0;  // 0 = all cores
};

struct SynthReport {
    int64_t n_tensors = 0;
    int64_t n_params = 0;
    int64_t bytes = 0;  // file size
};

// Builds and writes the model. Spec errors name the spec file and line.
Result<SynthReport> synthesize(const SynthOptions& opt);

}  // namespace loom::synth
