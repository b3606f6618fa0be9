// Sampling under a grammar: the sampler's own choice when the grammar allows it (one token checked, the
// common case), else a second draw from the logits with every token the grammar rejects masked to -inf
// (llama.cpp's order). With plain temperature sampling the two-step draw has exactly the masked distribution;
// with truncation (top-k, top-p, min-p) it keeps the truncation of the unmasked logits when that fits.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "core/error.h"
#include "grammar/token_constraint.h"
#include "runtime/sampler.h"

namespace loom::runtime {

struct ConstrainedDraw {
    int32_t token = -1;  // the token to append (not yet accepted by the sampler or the constraint)
    bool end = false;    // generation ends here: the grammar is complete, or `token` is end-of-generation
};

// `scratch` holds the masked logits between calls (1 MiB at 262,144 tokens). An error when the grammar can
// neither end nor continue with any token the sampler may draw (e.g. logit_bias banned them all).
Result<ConstrainedDraw> sample_constrained(Sampler& sampler, grammar::TokenConstraint& constraint,
                                           std::span<const float> logits, std::vector<float>& scratch);

}  // namespace loom::runtime
