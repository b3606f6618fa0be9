// Token sampling for generation: logit bias, repetition penalties, top-k / top-p / min-p truncation,
// temperature and a seeded draw, in llama.cpp's default chain order; plus top-k log-probabilities.
#pragma once

#include <cstdint>
#include <deque>
#include <limits>
#include <map>
#include <random>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/error.h"

namespace loom::runtime {

// A seed that asks for a fresh random one. The Sampler takes its seed literally; callers turn this value
// into a real seed with resolve_seed() first, so that the seed actually used can be reported back.
inline constexpr uint64_t kRandomSeed = std::numeric_limits<uint64_t>::max();

// `seed` itself, or a seed from std::random_device when it is kRandomSeed.
uint64_t resolve_seed(uint64_t seed);

// The knobs of one generation. Defaults are llama.cpp's common defaults (common/common.h), so loom run
// without flags samples as llama-cli does. These come straight from HTTP requests: validate() first.
struct SamplingParams {
    float temperature = 0.8f;             // <= 0: greedy (argmax after logit bias and penalties; the rest is ignored)
    int32_t top_k = 40;                   // keep the k most likely tokens; <= 0: off
    float top_p = 0.95f;                  // keep the smallest most-likely prefix with probability mass >= top_p; 1: off
    float min_p = 0.05f;                  // keep tokens with probability >= min_p * the top token's; 0: off
    float repeat_penalty = 1.0f;          // tokens in the window: positive logits / penalty, negative * penalty; 1: off
    int32_t repeat_last_n = 64;           // the penalty window: the last n accepted tokens; 0: no penalties at all
    float presence_penalty = 0.0f;        // subtracted once from tokens that occur in the window
    float frequency_penalty = 0.0f;       // subtracted per occurrence in the window
    std::map<int32_t, float> logit_bias;  // token id -> added to its logit; -inf bans the token
    uint64_t seed = 0;                    // the draw's RNG seed (see kRandomSeed)

    // Every value in its legal range for a vocabulary of n_vocab tokens: finite floats, top_p and min_p in
    // [0, 1], repeat_penalty > 0, repeat_last_n >= 0 (a caller that offers llama.cpp's -1 = "the whole
    // context" resolves it first), bias ids inside the vocabulary, no NaN or +inf bias, and at least one
    // token left unbanned. Errors start with "sampling: " and name the field and the value.
    Status validate(int32_t n_vocab) const;
};

// One entry of top_logprobs().
struct TokenLogprob {
    int32_t id = 0;
    double logprob = 0.0;
};

// One entry of Sampler::distribution().
struct TokenProb {
    int32_t id = 0;
    double prob = 0.0;
};

// The k largest log-softmax values of `logits` (k is clamped to the vocabulary), descending, ties to the
// lower id. Computed in double over the full vocabulary from the raw logits: no bias, penalty or
// temperature, since it describes the model (the server's `logprobs`, `loom eval`). -inf logits have
// logprob -inf; a NaN logit makes every logprob NaN (a broken model should look broken) and ranks last.
std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int k);

// Draws tokens from logits. One Sampler per sequence: it owns its penalty history and its RNG (no global
// state), so the same seed, the same accepted tokens and the same logits give the same tokens. Not
// thread-safe; different Samplers may run on different threads.
class Sampler {
public:
    // Validates `params` for a vocabulary of n_vocab tokens (n_vocab > 0).
    static Result<Sampler> create(const SamplingParams& params, int32_t n_vocab);

    // One token id for `logits` ([n_vocab], the model's output for the last position). Does not record
    // the token: call accept() with the token that is actually appended (it may be a forced one).
    // A non-greedy step takes exactly one number from the RNG, greedy none, so the stream stays aligned
    // whatever the candidates. PRECONDITIONS: logits.size() == n_vocab.
    // An error only when no token can be drawn: every logit is -inf or NaN after bias and penalties.
    Result<int32_t> sample(std::span<const float> logits);

    // The distribution sample() would draw from for `logits`: the candidates left after the chain, with
    // their probabilities (summing to 1), in the order the draw walks them (fixed for given inputs, but
    // not necessarily sorted). Greedy gives the argmax with probability 1. The RNG does not move.
    // Same preconditions and error as sample().
    Result<std::vector<TokenProb>> distribution(std::span<const float> logits);

    // Records a token of the sequence for the penalties. As llama.cpp does, the prompt's tokens are
    // accepted too, so a prompt's words count as repeats. PRECONDITIONS: 0 <= token < n_vocab.
    void accept(int32_t token);

    // Forgets the history and re-seeds the RNG: the Sampler behaves as newly created.
    void reset();

    const SamplingParams& params() const { return params_; }
    int32_t n_vocab() const { return n_vocab_; }

private:
    // A candidate token: its (adjusted) logit and id.
    struct Candidate {
        float logit;
        int32_t id;
    };

    Sampler(const SamplingParams& params, int32_t n_vocab);
    Status prepare(std::span<const float> logits);  // the chain up to the draw: fills cand_ and weight_
    void apply_bias_and_penalties(std::span<const float> logits);
    void select_top_k(int32_t k);
    void truncate_sorted();
    void select_without_top_k();
    void select_infinite();
    void weigh();
    double uniform();

    SamplingParams params_;
    int32_t n_vocab_ = 0;
    std::vector<std::pair<int32_t, float>> bias_;  // params_.logit_bias without zero biases, by id

    std::deque<int32_t> window_;                  // the last repeat_last_n accepted tokens, oldest first
    std::unordered_map<int32_t, int32_t> count_;  // occurrences of each token in window_

    std::mt19937_64 rng_;
    std::vector<float> work_;      // [n_vocab] adjusted logits when bias or penalties apply (scratch)
    std::span<const float> x_;     // this step's logits after bias and penalties: the caller's or work_
    std::vector<Candidate> cand_;  // the candidates of the current step (scratch, reused)
    std::vector<Candidate> edge_;  // top-p without top-k: the tokens of the bucket where the cut falls
    std::vector<double> weight_;   // [cand_.size()] exp((logit - max) / temperature), unnormalized
    double weight_sum_ = 0.0;
};

}  // namespace loom::runtime
