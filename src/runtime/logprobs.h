// Log-probabilities of the next token from a row of logits.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

namespace loom::runtime {

// The k largest log-softmax values (id, logprob), descending, ties by lower id; computed in double
// over the whole row so the figures do not depend on the kernel's rounding of the normaliser.
std::vector<std::pair<int32_t, double>> top_logprobs(std::span<const float> logits, int k);

}  // namespace loom::runtime
