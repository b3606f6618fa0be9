// Masked-diffusion generation (LLaDA-style models): a canvas of the prompt followed by mask tokens is unmasked over a
// number of steps, each step one bidirectional pass over the whole canvas, with logits at the positions it unmasks. The
// procedure is llama.cpp's examples/diffusion (architectures-gemma4-llada §5): block or timestep schedules, the
// unmasking algorithms it offers, and its sampling chain (top-k, top-p, temperature, draw). Where the example's
// behaviour is a quirk, diffusion.cpp says whether loom matches it.
#pragma once

#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace loom::runtime {

class Model;
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

// A generation as a user asks for it (loom run's flags, loom serve's): the schedule and how positions unmask.
struct DiffusionSettings {
    int steps = 128;        // denoising passes for the generated part
    int block_length = 32;  // LLaDA's usual block (llama.cpp's example has no default and asserts one is set)
    float eps = 0.f;        // > 0: the timestep schedule instead of blocks
    std::string algorithm = "confidence";
};

// The parameters of a canvas of n_prompt + n_generate positions, rounded up to whole blocks. llama.cpp's loop counts
// blocks over the whole canvas but starts them after the prompt, so the last ones are empty and their steps never
// run: `steps` is spread over the blocks the generation fills, each the same number (rounded up; *rounded_steps
// says how many passes that makes when it differs from `steps`). Sampling fields are left to the caller.
Result<DiffusionParams> plan_diffusion(const DiffusionSettings& s, int64_t n_prompt, int64_t n_generate,
                                       int* rounded_steps = nullptr);

// What the observer sees after each step: the canvas, and where this step stands.
struct DiffusionProgress {
    int block = 0, n_blocks = 1, step = 0, steps_per_block = 1;
    int64_t n_masked = 0;  // masked positions left on the whole canvas
    std::span<const int32_t> canvas;
};
using DiffusionObserver = std::function<void(const DiffusionProgress&)>;

// One generation as a series of passes, for callers that run the passes themselves (the server puts the canvases of
// several requests in one). diffusion_generate is this loop with one canvas per pass.
class DiffusionRun {
public:
    static Result<DiffusionRun> start(const Model& model, std::span<const int32_t> prompt,
                                      const DiffusionParams& params);

    bool done() const { return block_ >= n_blocks_; }
    // The input of the next pass: all of it, every position seeing every other.
    const std::vector<int32_t>& canvas() const { return x_; }
    // The positions whose logits the next step reads (ascending): the block's masked positions, or the ones before
    // them with shift_logits. The pass computes the head on these rows only.
    const std::vector<int64_t>& rows() const { return rows_; }
    // One step from that pass's logits: rows [row0, row0 + rows().size()) of `logits`, one per entry of rows().
    DiffusionProgress step(const TensorView& logits, int64_t row0 = 0);
    // Positions [0, n_final()) will not change any more: the prompt, and the blocks already finished.
    int64_t n_final() const;
    int64_t n_prompt() const { return n_prompt_; }

private:
    void prepare();  // moves to the next step that has masked positions (done() when there is none)

    DiffusionParams params_;
    int32_t n_vocab_ = 0, mask_ = 0;
    bool shift_ = false;
    int64_t n_prompt_ = 0;
    std::vector<int32_t> x_;
    std::mt19937_64 draw_rng_, order_rng_;
    int n_blocks_ = 1, steps_per_block_ = 1;
    int block_ = 0, step_ = 0;
    bool block_started_ = false;
    int64_t lo_ = 0, hi_ = 0, n_block_masks_ = 0;
    std::vector<int64_t> masked_;
    std::vector<int64_t> rows_;
};

// Generates with a diffusion model (Model::diffusion()): returns the final canvas, prompt included
// (max_length tokens; positions never unmasked keep the mask token, as llama.cpp's).
Result<std::vector<int32_t>> diffusion_generate(Session& session, std::span<const int32_t> prompt,
                                                const DiffusionParams& params, const DiffusionObserver& observe = {});

}  // namespace loom::runtime
