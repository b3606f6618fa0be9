// Generation: prefill a prompt through the KV-cached path, then sample one token at a time until an
// end-of-generation token, the token budget, the context end, or the caller says stop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "core/error.h"
#include "grammar/grammar.h"
#include "grammar/vocab_trie.h"
#include "runtime/sampler.h"

namespace loom::runtime {

class Session;

struct GenerateOptions {
    SamplingParams sampling;
    int64_t n_predict = -1;    // tokens to generate; -1: until end of generation or context
    int64_t n_batch = 512;     // prompt tokens per forward pass
    std::vector<int32_t> eog;  // end-of-generation ids (not emitted)
    int seq = 0;               // the session sequence to use (cut to n_keep first)
    // Prompt tokens the sequence already holds, at positions [0, n_keep) (a conversation's earlier turns): they
    // are kept, not run again. PRECONDITIONS: n_keep < prompt size, and the sequence holds exactly those tokens
    // there (see keep_prefix()).
    int64_t n_keep = 0;
    // Constrained output: every generated token fits `grammar` (over the texts `trie` holds for the tokens),
    // and generation ends where the grammar is complete. Both set or neither.
    std::shared_ptr<const grammar::Grammar> grammar;
    std::shared_ptr<const grammar::VocabTrie> trie;
};

struct GenerateStats {
    int64_t n_prompt = 0, n_generated = 0;            // n_prompt: the tokens prefilled (the prompt less n_keep)
    double prompt_seconds = 0, generate_seconds = 0;  // prefill, and decode after the first token
    enum class Stop : uint8_t { eog, length, context, caller } stop = Stop::length;
};

// Called with each generated token; return false to stop (e.g. a stop string matched).
using TokenFn = std::function<bool(int32_t token)>;

// What a sequence that holds `held` (the tokens at its positions 0, 1, ...) can keep of a new `prompt`: the
// longest common prefix, short of the prompt's last token (which is run again for its logits). The sequence
// is cut there; a memory that cannot go back there (recurrent state, sliding-window layers that dropped the
// positions) is reset instead, and nothing is kept. Pass the result as GenerateOptions::n_keep.
struct KeptPrefix {
    int64_t n_keep = 0;
    bool reset = false;  // truncation was refused: the whole prompt must be prefilled
};
KeptPrefix keep_prefix(Session& session, int seq, std::span<const int32_t> held, std::span<const int32_t> prompt);

Result<GenerateStats> generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& opt,
                               const TokenFn& on_token);

}  // namespace loom::runtime
