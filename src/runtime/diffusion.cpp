// The diffusion loop, step for step as llama.cpp's examples/diffusion/diffusion.cpp (diffusion_generate):
//   canvas = prompt ++ mask × (max_length − prompt)
//   block schedule: blocks of block_length positions from the prompt's end (the last one clipped), steps / blocks
//     steps each; a block's masks are spread over its steps as n / steps (+1 for the first n mod steps steps)
//   timestep schedule: one block over the whole canvas; a step unmasks int(|M| · (1 − t'/t)) with
//     t = 1 − (s / S)(1 − eps), t' the same at s + 1, and every mask left at the last step
//   each step: one bidirectional pass over the whole canvas; position p reads row p (or p − 1 with shift_logits,
//   row 0 for p = 0), and only those rows go through the head (llama.cpp's example computes every row's logits;
//   Session::stateless keeps each row's bits); every masked position of the block draws a token and a score; the
//   best-scored `transfer` positions take their tokens (ties: the earlier position); origin instead unmasks each
//   position with probability transfer / masked.
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

Result<DiffusionParams> plan_diffusion(const DiffusionSettings& s, int64_t n_prompt, int64_t n_generate,
                                       int* rounded_steps) {
    static constexpr std::string_view kAlgorithms[] = {"origin", "entropy", "margin", "random", "confidence"};
    const auto alg = std::find(std::begin(kAlgorithms), std::end(kAlgorithms), s.algorithm);
    if (alg == std::end(kAlgorithms))
        return Error::invalid("diffusion algorithm '{}': one of origin, entropy, margin, random, confidence",
                              s.algorithm);
    if (n_generate < 1) return Error::invalid("diffusion: a canvas needs at least one position to fill");
    if (s.steps < 1) return Error::invalid("diffusion: steps {} must be at least 1", s.steps);
    DiffusionParams d;
    d.algorithm = UnmaskAlgorithm(alg - std::begin(kAlgorithms));
    d.eps = s.eps;
    d.block_length = s.eps > 0.f ? 0 : s.block_length;
    d.steps = s.steps;
    d.max_length = n_prompt + n_generate;
    if (d.block_length > 0) {
        const int64_t bl = d.block_length;
        d.max_length = (d.max_length + bl - 1) / bl * bl;
        const int64_t n_blocks = d.max_length / bl, n_filled = (d.max_length - n_prompt + bl - 1) / bl;
        const int64_t per_block = (s.steps + n_filled - 1) / n_filled;
        if (rounded_steps) *rounded_steps = int(per_block * n_filled);
        d.steps = int(per_block * n_blocks);
    } else if (rounded_steps) {
        *rounded_steps = s.steps;
    }
    return d;
}

Result<DiffusionRun> DiffusionRun::start(const Model& model, std::span<const int32_t> prompt,
                                         const DiffusionParams& params) {
    if (!model.diffusion())
        return Error::invalid("{} generates left to right, not by diffusion (use generate)", model.arch().name);
    DiffusionRun r;
    r.n_vocab_ = int32_t(model.n_vocab());
    LOOM_RETURN_IF_ERROR(params.validate(int64_t(prompt.size()), r.n_vocab_));
    r.params_ = params;
    r.mask_ = model.diffusion_info().mask_token;
    r.shift_ = model.diffusion_info().shift_logits;
    r.n_prompt_ = int64_t(prompt.size());
    r.x_.assign(prompt.begin(), prompt.end());
    r.x_.resize(size_t(params.max_length), r.mask_);
    r.draw_rng_.seed(params.seed);
    r.order_rng_.seed(params.seed ^ 0x9E3779B97F4A7C15ull);
    r.n_blocks_ = params.block_length > 0 ? int(params.max_length / params.block_length) : 1;
    r.steps_per_block_ = params.steps / r.n_blocks_;
    r.prepare();
    return r;
}

void DiffusionRun::prepare() {
    const int64_t L = params_.max_length;
    const bool block = params_.block_length > 0;
    while (block_ < n_blocks_) {
        if (!block_started_) {
            lo_ = block ? std::min(L, n_prompt_ + block_ * int64_t(params_.block_length)) : 0;
            hi_ = block ? std::min(L, n_prompt_ + (block_ + 1) * int64_t(params_.block_length)) : L;
            n_block_masks_ = 0;
            for (int64_t i = lo_; i < hi_; ++i) n_block_masks_ += x_[size_t(i)] == mask_;
            block_started_ = true;
        }
        if (step_ < steps_per_block_) {
            masked_.clear();
            rows_.clear();
            for (int64_t i = lo_; i < hi_; ++i) {
                if (x_[size_t(i)] != mask_) continue;
                masked_.push_back(i);
                const int64_t r = shift_ ? std::max<int64_t>(i - 1, 0) : i;
                if (rows_.empty() || rows_.back() != r) rows_.push_back(r);
            }
            // (llama.cpp runs the pass of a block with no masks left and then stops: the same tokens)
            if (!masked_.empty()) return;
        }
        ++block_;
        step_ = 0;
        block_started_ = false;
    }
}

int64_t DiffusionRun::n_final() const {
    if (done()) return params_.max_length;
    return params_.block_length > 0 ? lo_ : n_prompt_;
}

DiffusionProgress DiffusionRun::step(const TensorView& logits, int64_t row0) {
    const int64_t M = int64_t(masked_.size());
    const int spb = steps_per_block_;
    int64_t transfer = 0;
    if (params_.block_length > 0) {
        transfer = n_block_masks_ / spb + (step_ < n_block_masks_ % spb ? 1 : 0);
    } else {
        const float t = 1.f - float(step_) / float(params_.steps) * (1.f - params_.eps);
        const float t_next = 1.f - float(step_ + 1) / float(params_.steps) * (1.f - params_.eps);
        const float p = step_ < params_.steps - 1 ? 1.f - t_next / t : 1.f;
        transfer = int64_t(float(M) * p);
    }
    auto row = [&](int64_t pos) {
        const int64_t r = shift_ ? std::max<int64_t>(pos - 1, 0) : pos;
        const int64_t i = std::lower_bound(rows_.begin(), rows_.end(), r) - rows_.begin();
        return std::span<const float>(logits.row<float>(row0 + i), size_t(n_vocab_));
    };
    std::vector<Candidate> cand;
    if (params_.algorithm == UnmaskAlgorithm::origin) {
        const double p_transfer = double(transfer) / double(M);
        for (int64_t pos : masked_) {
            if (uniform(order_rng_) >= p_transfer) continue;
            const size_t chosen = sample_row(row(pos), params_, draw_rng_, cand);
            x_[size_t(pos)] = cand[chosen].id;
        }
    } else {
        std::vector<std::pair<float, int64_t>> scored;  // (score, position)
        std::vector<int32_t> drawn(masked_.size());
        scored.reserve(masked_.size());
        for (size_t i = 0; i < masked_.size(); ++i) {
            const size_t chosen = sample_row(row(masked_[i]), params_, draw_rng_, cand);
            drawn[i] = cand[chosen].id;
            scored.emplace_back(score(cand, chosen, params_.algorithm, order_rng_), int64_t(i));
        }
        // The best scores first; equal scores keep position order.
        std::stable_sort(scored.begin(), scored.end(), [](const auto& a, const auto& c) { return a.first > c.first; });
        for (int64_t k = 0; k < std::min(transfer, M); ++k) {
            const size_t i = size_t(scored[size_t(k)].second);
            x_[size_t(masked_[i])] = drawn[i];
        }
    }
    int64_t left = 0;
    for (int32_t t : x_) left += t == mask_;
    const DiffusionProgress progress{block_, n_blocks_, step_, spb, left, x_};
    ++step_;
    prepare();
    return progress;
}

Result<std::vector<int32_t>> diffusion_generate(Session& session, std::span<const int32_t> prompt,
                                                const DiffusionParams& params, const DiffusionObserver& observe) {
    LOOM_TRY(DiffusionRun run, DiffusionRun::start(session.model(), prompt, params));
    while (!run.done()) {
        LOOM_TRY(TensorView logits, session.stateless(run.canvas(), run.rows()));
        const DiffusionProgress progress = run.step(logits);
        if (observe) observe(progress);
    }
    return run.canvas();
}

}  // namespace loom::runtime
