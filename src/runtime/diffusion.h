// Masked-diffusion generation (LLaDA-style models): a canvas of the prompt followed by mask tokens is unmasked over a
// number of steps, each step one bidirectional pass over the whole canvas with logits at every position. The
// procedure is llama.cpp's examples/diffusion (architectures-gemma4-llada §5): block or timestep schedules, the
// unmasking algorithms it offers, and its sampling chain (top-k, top-p, temperature, draw). Where the example's
// behaviour is a quirk, diffusion.cpp says whether loom matches it.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/error.h"

namespace loom::runtime {

class Session;

enum class UnmaskAlgorithm : uint8_t {
    origin,      // each masked position unmasks with probability transfer / masked, in position order
    entropy,     // the highest-entropy positions first (as llama.cpp's code does, whatever its comment says)
    margin,      // the largest gap between the two most likely candidates first
    random,      // positions in a random order
    confidence,  // the most probable sampled tokens first (llama.cpp's default)
};

struct DiffusionParams {
    int64_t max_length = 0;  // the whole canvas: prompt + generated positions (> prompt length)
    int steps = 128;
    int block_length = 0;  // > 0: the block schedule (LLaDA): blocks of this many positions after the prompt
    float eps = 0.f;       // > 0: the timestep schedule (Dream); exactly one of block_length and eps is set
    UnmaskAlgorithm algorithm = UnmaskAlgorithm::confidence;
    float temperature = 0.8f;  // <= 0: no temperature step (the draw is then at T = 1, as llama.cpp's)
    int32_t top_k = 40;        // <= 0: off; 1 makes the generation deterministic
    float top_p = 0.95f;       // >= 1: off
    uint64_t seed = 0;

    // Legal values for a prompt of n_prompt tokens and a vocabulary of n_vocab; errors name the flag-like field.
    Status validate(int64_t n_prompt, int32_t n_vocab) const;
};

// What the observer sees after each step: the canvas, and where this step stands.
struct DiffusionProgress {
    int block = 0, n_blocks = 1, step = 0, steps_per_block = 1;
    int64_t n_masked = 0;  // masked positions left on the whole canvas
    std::span<const int32_t> canvas;
};
using DiffusionObserver = std::function<void(const DiffusionProgress&)>;

// Generates with a diffusion model (Model::diffusion()): returns the final canvas, prompt included
// (max_length tokens; positions never unmasked keep the mask token, as llama.cpp's).
Result<std::vector<int32_t>> diffusion_generate(Session& session, std::span<const int32_t> prompt,
                                                const DiffusionParams& params, const DiffusionObserver& observe = {});

}  // namespace loom::runtime
