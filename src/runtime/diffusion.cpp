// The diffusion loop, step for step as llama.cpp's examples/diffusion/diffusion.cpp (diffusion_generate):
//   canvas = prompt ++ mask × (max_length − prompt)
//   block schedule: blocks of block_length positions from the prompt's end (the last one clipped), steps / blocks
//     steps each; a block's masks are spread over its steps as n / steps (+1 for the first n mod steps steps)
//   timestep schedule: one block over the whole canvas; a step unmasks int(|M| · (1 − t'/t)) with
//     t = 1 − (s / S)(1 − eps), t' the same at s + 1, and every mask left at the last step
//   each step: one bidirectional pass over the whole canvas; position p reads row p (or p − 1 with shift_logits,
//   row 0 for p = 0); every masked position of the block draws a token and a score; the best-scored `transfer`
//   positions take their tokens (ties: the earlier position); origin instead unmasks each position with
//   probability transfer / masked.
// Sampling per position: top-k (ties to the lower id), top-p (the smallest most-likely prefix reaching p, at least
// one), temperature, then a draw from the softmax of what is left (exp in float, sums in double); the score is
// read from that renormalised distribution, as the example's calculate_confidence does.
// Matched quirk: the block count is the whole canvas's (max_length / block_length) but blocks start after the
// prompt, so the last ones are empty and their steps run nothing (loom run sizes its steps for the filled ones).
// Where loom deliberately differs: the RNG is mt19937_64 with loom's own uniform (as runtime/sampler.h: the same
// draws on every platform), so sampled runs equal llama.cpp's only when sampling is deterministic (top_k = 1);
// Gumbel noise (which the example applies to logits row 0 only) and alg_temp / cfg (which its CLI never passes)
// are not offered.
#include "runtime/diffusion.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "runtime/model.h"
#include "runtime/session.h"

namespace loom::runtime {
namespace {

struct Candidate {
    int32_t id;
    float logit;
    float p;
};

// A uniform double in [0, 1) from the top 53 bits.
double uniform(std::mt19937_64& rng) { return double(rng() >> 11) * 0x1.0p-53; }

// The chain on one row of logits: candidates left (sorted by logit, descending, when top-k or top-p ran) with
// their renormalised probabilities, and the index of the drawn one.
size_t sample_row(std::span<const float> logits, const DiffusionParams& p, std::mt19937_64& rng,
                  std::vector<Candidate>& cand) {
    cand.resize(logits.size());
    for (size_t i = 0; i < logits.size(); ++i) cand[i] = {int32_t(i), logits[i], 0.f};
    auto by_logit = [](const Candidate& a, const Candidate& b) {
        return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
    };
    if (p.top_k > 0 && size_t(p.top_k) < cand.size()) {
        std::partial_sort(cand.begin(), cand.begin() + p.top_k, cand.end(), by_logit);
        cand.resize(size_t(p.top_k));
    }
    if (p.top_p < 1.f) {
        std::sort(cand.begin(), cand.end(), by_logit);
        double sum = 0;
        for (Candidate& c : cand) sum += (c.p = std::exp(c.logit - cand[0].logit));
        double cum = 0;
        size_t keep = cand.size();
        for (size_t i = 0; i < cand.size(); ++i) {
            cum += cand[i].p / sum;
            if (cum >= p.top_p) {
                keep = i + 1;
                break;
            }
        }
        cand.resize(std::max<size_t>(keep, 1));
    }
    if (p.temperature > 0.f)
        for (Candidate& c : cand) c.logit /= p.temperature;
    float max_l = cand[0].logit;
    for (const Candidate& c : cand) max_l = std::max(max_l, c.logit);
    double sum = 0;
    for (Candidate& c : cand) sum += (c.p = std::exp(c.logit - max_l));
    const double target = sum * uniform(rng);  // one draw per sampled position, even with one candidate
    double run = 0;
    size_t chosen = cand.size() - 1;
    bool found = false;
    for (size_t i = 0; i < cand.size(); ++i) {
        run += cand[i].p;
        if (!found && run >= target) {
            chosen = i;
            found = true;
        }
        cand[i].p = float(cand[i].p / sum);
    }
    return chosen;
}

float score(const std::vector<Candidate>& cand, size_t chosen, UnmaskAlgorithm a, std::mt19937_64& rng) {
    switch (a) {
        case UnmaskAlgorithm::entropy: {
            double h = 0;
            for (const Candidate& c : cand) h -= double(c.p) * std::log(double(c.p) + 1e-10);
            return float(h);
        }
        case UnmaskAlgorithm::margin:  // meaningful when top-k or top-p sorted the candidates, as in llama.cpp
            return cand.size() > 1 ? cand[0].p - cand[1].p : cand[0].p;
        case UnmaskAlgorithm::random: return float(uniform(rng));
        case UnmaskAlgorithm::origin:
        case UnmaskAlgorithm::confidence: return cand[chosen].p;
    }
    return 0.f;
}

}  // namespace

Status DiffusionParams::validate(int64_t n_prompt, int32_t n_vocab) const {
    if (max_length <= n_prompt)
        return Error::invalid("diffusion: the canvas of {} tokens leaves no room after a prompt of {}", max_length,
                              n_prompt);
    if (steps < 1) return Error::invalid("diffusion: steps {} must be at least 1", steps);
    if ((block_length > 0) == (eps > 0.f))
        return Error::invalid("diffusion: set exactly one of block_length ({}) and eps ({})", block_length, eps);
    if (eps < 0.f || eps >= 1.f || !std::isfinite(eps))
        return Error::invalid("diffusion: eps {} must be in [0, 1)", eps);
    if (block_length > 0) {
        if (max_length % block_length != 0)
            return Error::invalid("diffusion: the canvas of {} tokens is not a whole number of blocks of {}",
                                  max_length, block_length);
        const int64_t n_blocks = max_length / block_length;
        if (steps % n_blocks != 0)
            return Error::invalid("diffusion: {} steps do not divide evenly over {} blocks", steps, n_blocks);
    }
    if (!std::isfinite(temperature) || !std::isfinite(top_p) || top_p <= 0.f)
        return Error::invalid("diffusion: temperature {} and top_p {} must be finite, top_p > 0", temperature, top_p);
    if (n_vocab < 1) return Error::invalid("diffusion: an empty vocabulary");
    return Ok();
}

Result<std::vector<int32_t>> diffusion_generate(Session& session, std::span<const int32_t> prompt,
                                                const DiffusionParams& params, const DiffusionObserver& observe) {
    const Model& model = session.model();
    if (!model.diffusion())
        return Error::invalid("{} generates left to right, not by diffusion (use generate)", model.arch().name);
    const int32_t V = int32_t(model.n_vocab());
    LOOM_RETURN_IF_ERROR(params.validate(int64_t(prompt.size()), V));
    const int32_t mask = model.diffusion_info().mask_token;
    const bool shift = model.diffusion_info().shift_logits;
    const int64_t L = params.max_length, n_input = int64_t(prompt.size());

    std::vector<int32_t> x(prompt.begin(), prompt.end());
    x.resize(size_t(L), mask);
    std::mt19937_64 draw_rng(params.seed), order_rng(params.seed ^ 0x9E3779B97F4A7C15ull);
    const bool block = params.block_length > 0;
    const int n_blocks = block ? int(L / params.block_length) : 1;
    const int spb = params.steps / n_blocks;

    std::vector<Candidate> cand;
    std::vector<int64_t> masked;
    std::vector<std::pair<float, int64_t>> scored;  // (score, position)
    std::vector<int32_t> drawn(static_cast<size_t>(L));
    for (int b = 0; b < n_blocks; ++b) {
        const int64_t lo = block ? std::min(L, n_input + b * int64_t(params.block_length)) : 0;
        const int64_t hi = block ? std::min(L, n_input + (b + 1) * int64_t(params.block_length)) : L;
        int64_t n_block_masks = 0;
        for (int64_t i = lo; i < hi; ++i) n_block_masks += x[size_t(i)] == mask;
        for (int s = 0; s < spb; ++s) {
            masked.clear();
            for (int64_t i = lo; i < hi; ++i)
                if (x[size_t(i)] == mask) masked.push_back(i);
            if (masked.empty()) break;  // (llama.cpp runs the pass first and then stops: the same tokens)
            LOOM_TRY(TensorView logits, session.stateless(x));
            const int64_t M = int64_t(masked.size());
            int64_t transfer = 0;
            if (block) {
                transfer = n_block_masks / spb + (s < n_block_masks % spb ? 1 : 0);
            } else {
                const float t = 1.f - float(s) / float(params.steps) * (1.f - params.eps);
                const float t_next = 1.f - float(s + 1) / float(params.steps) * (1.f - params.eps);
                const float p = s < params.steps - 1 ? 1.f - t_next / t : 1.f;
                transfer = int64_t(float(M) * p);
            }
            auto row = [&](int64_t pos) {
                const int64_t r = shift ? std::max<int64_t>(pos - 1, 0) : pos;
                return std::span<const float>(logits.row<float>(r), size_t(V));
            };
            if (params.algorithm == UnmaskAlgorithm::origin) {
                const double p_transfer = double(transfer) / double(M);
                for (int64_t pos : masked) {
                    if (uniform(order_rng) >= p_transfer) continue;
                    const size_t chosen = sample_row(row(pos), params, draw_rng, cand);
                    x[size_t(pos)] = cand[chosen].id;
                }
            } else {
                scored.clear();
                for (int64_t pos : masked) {
                    const size_t chosen = sample_row(row(pos), params, draw_rng, cand);
                    drawn[size_t(pos)] = cand[chosen].id;
                    scored.emplace_back(score(cand, chosen, params.algorithm, order_rng), pos);
                }
                // The best scores first; equal scores keep position order.
                std::stable_sort(scored.begin(), scored.end(),
                                 [](const auto& a, const auto& c) { return a.first > c.first; });
                for (int64_t k = 0; k < std::min(transfer, M); ++k)
                    x[size_t(scored[size_t(k)].second)] = drawn[size_t(scored[size_t(k)].second)];
            }
            if (observe) {
                int64_t left = 0;
                for (int32_t t : x) left += t == mask;
                observe({b, n_blocks, s, spb, left, x});
            }
        }
    }
    return x;
}

}  // namespace loom::runtime
