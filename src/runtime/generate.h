// Generation: prefill a prompt through the KV-cached path, then sample one token at a time until an
// end-of-generation token, the token budget, the context end, or the caller says stop.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "core/error.h"
#include "runtime/sampler.h"

namespace loom::runtime {

class Session;

struct GenerateOptions {
    SamplingParams sampling;
    int64_t n_predict = -1;    // tokens to generate; -1: until end of generation or context
    int64_t n_batch = 512;     // prompt tokens per forward pass
    std::vector<int32_t> eog;  // end-of-generation ids (not emitted)
    int seq = 0;               // the session sequence to use (cleared first)
};

struct GenerateStats {
    int64_t n_prompt = 0, n_generated = 0;
    double prompt_seconds = 0, generate_seconds = 0;  // prefill, and decode after the first token
    enum class Stop : uint8_t { eog, length, context, caller } stop = Stop::length;
};

// Called with each generated token; return false to stop (e.g. a stop string matched).
using TokenFn = std::function<bool(int32_t token)>;

Result<GenerateStats> generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& opt,
                               const TokenFn& on_token);

}  // namespace loom::runtime
