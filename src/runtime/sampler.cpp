// The sampling chain. Stage semantics follow llama.cpp's src/llama-sampler.cpp (llama-cpp-python 0.3.36's
// vendored copy) and its default chain in common/sampling.cpp; each stage below names the fact it takes.
// What loom does differently: candidates are ranked by (logit descending, id ascending), a strict total
// order, so every truncation is unique where llama.cpp's unstable partial sorts leave ties arbitrary; sums
// are in double; and the RNG is mt19937_64 with its own uniform, so draws are the same on every platform.
#include "runtime/sampler.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace loom::runtime {

namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

// The weight of a logit at T = 1 for top-p: expf as llama.cpp's softmax, summed by the callers in double.
double t1_weight(float logit, float max) { return std::exp(logit - max); }

// Mass histogram for top-p without top-k: kBuckets buckets of 1/16 logit below the maximum. Tokens more
// than kBucketRange below it share the last bucket; their mass is below 262,144 * exp(-32) ~ 3e-9 of the
// total, less than the gap between 1 and any float top_p < 1, so the cut never lands in that bucket.
constexpr int kBuckets = 512;
constexpr float kBucketRange = 32.0f;
constexpr float kBucketScale = float(kBuckets) / kBucketRange;

// Buckets are monotone in the logit (a lower logit never lands in an earlier bucket), so "bucket <= b" is a
// logit threshold and keeps a best-first prefix, ties included.
int bucket(float logit, float max) { return int(std::min((max - logit) * kBucketScale, float(kBuckets - 1))); }

// Best first: the higher logit, then the lower id. Candidates never hold NaN, so this is a strict total
// order and every selection below has one answer whatever the algorithm.
template <typename C>
bool better(const C& a, const C& b) {
    return a.logit > b.logit || (a.logit == b.logit && a.id < b.id);
}

// The ranking of top_logprobs, which sees raw logits: as better(), with NaN after every number.
bool ranks_before(float va, int32_t ia, float vb, int32_t ib) {
    const bool na = std::isnan(va), nb = std::isnan(vb);
    if (na != nb) return nb;
    if (!na && va != vb) return va > vb;
    return ia < ib;
}

Error no_token() {
    return Error::invalid("sampling: no token can be drawn: every logit is -inf or NaN after logit bias and penalties");
}

}  // namespace

uint64_t resolve_seed(uint64_t seed) {
    if (seed != kRandomSeed) return seed;
    std::random_device rd;
    uint64_t s = kRandomSeed;
    while (s == kRandomSeed) s = (uint64_t(rd()) << 32) | rd();
    return s;
}

Status SamplingParams::validate(int32_t n_vocab) const {
    // Every problem at once: a client fixing its request should not need one round trip per field.
    std::vector<std::string> bad;
    if (n_vocab <= 0) bad.push_back(fmt::format("vocabulary size out of range (expected > 0, got {})", n_vocab));
    if (!std::isfinite(temperature)) bad.push_back(fmt::format("temperature is not finite (got {})", temperature));
    if (!(top_p >= 0.0f && top_p <= 1.0f))
        bad.push_back(fmt::format("top_p out of range (expected 0 <= top_p <= 1, got {})", top_p));
    if (!(min_p >= 0.0f && min_p <= 1.0f))
        bad.push_back(fmt::format("min_p out of range (expected 0 <= min_p <= 1, got {})", min_p));
    if (!(std::isfinite(repeat_penalty) && repeat_penalty > 0.0f)) {
        bad.push_back(
            fmt::format("repeat_penalty out of range (expected a finite number > 0, got {})", repeat_penalty));
    }
    if (repeat_last_n < 0)
        bad.push_back(fmt::format("repeat_last_n out of range (expected >= 0, got {})", repeat_last_n));
    if (!std::isfinite(presence_penalty))
        bad.push_back(fmt::format("presence_penalty is not finite (got {})", presence_penalty));
    if (!std::isfinite(frequency_penalty))
        bad.push_back(fmt::format("frequency_penalty is not finite (got {})", frequency_penalty));
    int64_t n_banned = 0;
    for (const auto& [id, bias] : logit_bias) {
        if (id < 0 || id >= n_vocab) {
            bad.push_back(
                fmt::format("logit_bias: token id {} outside the vocabulary (expected 0 <= id < {})", id, n_vocab));
        } else if (std::isnan(bias) || bias == std::numeric_limits<float>::infinity()) {
            // +inf would turn the softmax into inf/inf = NaN; -inf is the documented way to ban.
            bad.push_back(fmt::format("logit_bias: token {}: bias is {} (expected a finite number or -inf)", id, bias));
        } else if (bias == kNegInf) {
            ++n_banned;
        }
    }
    if (n_vocab > 0 && n_banned == n_vocab)
        bad.push_back(fmt::format("logit_bias bans every one of the {} tokens", n_vocab));
    if (bad.empty()) return Ok{};
    return Error::invalid("sampling: {}", fmt::join(bad, "; "));
}

std::vector<TokenLogprob> top_logprobs(std::span<const float> logits, int k) {
    const int32_t n = int32_t(logits.size());
    k = std::clamp(k, 0, n);
    if (k == 0) return {};

    // log Z = max + log(sum exp(x - max)) in double. A NaN logit makes the sum NaN, and so every logprob;
    // so do all -inf (-inf - -inf) and a +inf logit (inf - inf): there is no distribution to describe.
    double max = -std::numeric_limits<double>::infinity();
    for (const float v : logits) max = std::max(max, double(v));
    double sum = 0.0;
    for (const float v : logits) sum += std::exp(double(v) - max);
    const double log_z = max + std::log(sum);

    // The best k by a bounded heap whose front is the worst kept; sort_heap leaves them best first.
    std::vector<int32_t> ids;
    ids.reserve(size_t(k));
    auto before = [&](int32_t a, int32_t b) { return ranks_before(logits[size_t(a)], a, logits[size_t(b)], b); };
    for (int32_t i = 0; i < n; ++i) {
        if (int32_t(ids.size()) < k) {
            ids.push_back(i);
            std::push_heap(ids.begin(), ids.end(), before);
        } else if (before(i, ids.front())) {
            std::pop_heap(ids.begin(), ids.end(), before);
            ids.back() = i;
            std::push_heap(ids.begin(), ids.end(), before);
        }
    }
    std::sort_heap(ids.begin(), ids.end(), before);

    std::vector<TokenLogprob> out;
    out.reserve(ids.size());
    for (const int32_t id : ids) out.push_back({id, double(logits[size_t(id)]) - log_z});
    return out;
}

Result<Sampler> Sampler::create(const SamplingParams& params, int32_t n_vocab) {
    LOOM_RETURN_IF_ERROR(params.validate(n_vocab));
    return Sampler(params, n_vocab);
}

Sampler::Sampler(const SamplingParams& params, int32_t n_vocab)
    : params_(params), n_vocab_(n_vocab), rng_(params.seed) {
    for (const auto& [id, bias] : params_.logit_bias) {
        if (bias != 0.0f) bias_.emplace_back(id, bias);
    }
}

void Sampler::accept(int32_t token) {
    LOOM_ASSERT(token >= 0 && token < n_vocab_, "Sampler::accept: token {} outside the vocabulary of {}", token,
                n_vocab_);
    const int32_t n = params_.repeat_last_n;
    if (n <= 0) return;
    if (int32_t(window_.size()) == n) {
        const int32_t old = window_.front();
        window_.pop_front();
        if (--count_[old] == 0) count_.erase(old);
    }
    window_.push_back(token);
    ++count_[token];
}

void Sampler::reset() {
    window_.clear();
    count_.clear();
    rng_.seed(params_.seed);
}

// Bias, then penalties (llama.cpp's chain: the logit_bias sampler comes first, then "penalties"). They
// touch only the biased ids and the window's distinct tokens, so the logits are copied (1 MiB at 262,144
// tokens) only when one of them applies; otherwise the stages read the caller's logits directly.
void Sampler::apply_bias_and_penalties(std::span<const float> logits) {
    const SamplingParams& p = params_;
    // llama.cpp (llama_sampler_penalties_apply): off when last_n == 0 or all three are neutral.
    const bool penalize = p.repeat_last_n > 0 && !count_.empty() &&
                          (p.repeat_penalty != 1.0f || p.frequency_penalty != 0.0f || p.presence_penalty != 0.0f);
    if (bias_.empty() && !penalize) {
        x_ = logits;
        return;
    }
    work_.assign(logits.begin(), logits.end());
    x_ = work_;
    for (const auto& [id, bias] : bias_) work_[size_t(id)] += bias;
    if (!penalize) return;
    // For each distinct token in the window, once: logit <= 0 is multiplied by the repeat penalty, > 0
    // divided (so a penalty > 1 always lowers it); then count * frequency + presence is subtracted.
    for (const auto& [id, count] : count_) {
        float& l = work_[size_t(id)];
        l = l <= 0.0f ? l * p.repeat_penalty : l / p.repeat_penalty;
        l -= float(count) * p.frequency_penalty + float(count > 0) * p.presence_penalty;
    }
}

// top-k (llama_sampler_top_k_impl): keep min(k, n) best. A bounded heap scans the vocabulary once; the
// front is the worst kept, so most tokens cost one comparison against it.
void Sampler::select_top_k(int32_t k) {
    cand_.clear();
    for (int32_t i = 0; i < n_vocab_; ++i) {
        const float v = x_[size_t(i)];
        if (!(v > kNegInf)) continue;  // banned, or NaN: never a candidate
        if (int32_t(cand_.size()) < k) {
            cand_.push_back({v, i});
            std::push_heap(cand_.begin(), cand_.end(), better<Candidate>);
        } else if (v > cand_.front().logit) {  // equal loses: i is above every kept id
            std::pop_heap(cand_.begin(), cand_.end(), better<Candidate>);
            cand_.back() = {v, i};
            std::push_heap(cand_.begin(), cand_.end(), better<Candidate>);
        }
    }
    std::sort_heap(cand_.begin(), cand_.end(), better<Candidate>);
}

// top-p and min-p, as llama.cpp applies them in its default chain (top_k, typ_p, top_p, min_p, xtc,
// temperature): both come before temperature, so they see the T = 1 distribution.
//  - top-p (llama_sampler_top_p_apply): softmax over the current candidates (after top-k: not the whole
//    vocabulary), then keep the shortest best-first prefix whose cumulative probability is >= p, at least
//    one token (min_keep is 0 in the common params); if rounding never reaches p, keep all.
//  - min-p (llama_sampler_min_p_apply): keep logit >= max_logit + logf(p), i.e. prob >= p * max prob.
// Both keep a best-first prefix, and top-p keeps the top token, so min-p's maximum is the same either way
// and the result is the shorter prefix: cutting by min-p first gives the same set, provided top-p still
// normalizes over every candidate. This is the path after top-k (a few sorted candidates).
void Sampler::truncate_sorted() {
    const float max = cand_[0].logit;
    double z = 0.0;
    if (params_.top_p < 1.0f) {
        for (const Candidate& c : cand_) z += t1_weight(c.logit, max);
    }
    if (params_.min_p > 0.0f) {
        const float min_logit = max + std::log(params_.min_p);
        std::erase_if(cand_, [&](const Candidate& c) { return c.logit < min_logit; });
    }
    if (params_.top_p < 1.0f) {
        const double target = double(params_.top_p) * z;
        double cum = 0.0;
        for (size_t i = 0; i < cand_.size(); ++i) {
            cum += t1_weight(cand_[i].logit, max);
            if (cum >= target) {
                cand_.resize(i + 1);
                break;
            }
        }
    }
}

// No top-k: the candidates are the whole vocabulary, and sorting 262,144 tokens would cost more than the
// rest of the step. Both cuts keep a best-first prefix, i.e. every token above some logit, so tokens are
// pruned by value instead: min-p's threshold follows from the maximum. For top-p, one pass sums the
// normalizer and a histogram of probability mass by distance below the maximum; the buckets before the one
// where the cumulative mass reaches p are kept whole (unsorted: the draw does not need an order), and only
// the tokens of that bucket are sorted and walked, continuing the cumulative sum from the histogram.
void Sampler::select_without_top_k() {
    cand_.clear();
    float max = kNegInf;
    for (const float v : x_) max = std::max(max, v);  // NaN never wins: max(m, NaN) is m
    if (!(max > kNegInf)) return;
    if (max == kPosInf) return select_infinite();

    const float top_p = params_.top_p, min_p = params_.min_p;
    // Without min-p, the lowest float: -inf (banned) and NaN still fail `v >= min_logit`.
    const float min_logit = min_p > 0.0f ? max + std::log(min_p) : -std::numeric_limits<float>::max();
    if (top_p >= 1.0f) {
        for (int32_t i = 0; i < n_vocab_; ++i) {
            if (x_[size_t(i)] >= min_logit) cand_.push_back({x_[size_t(i)], i});
        }
        return;
    }

    std::array<double, kBuckets> mass{};
    double z = 0.0;
    for (const float v : x_) {
        if (!(v > kNegInf)) continue;
        const double w = t1_weight(v, max);
        z += w;
        if (v >= min_logit) mass[size_t(bucket(v, max))] += w;
    }
    const double target = double(top_p) * z;
    // The bucket where the cumulative mass reaches the target, and the mass before it. If it never does
    // (rounding, or min-p cut first), every bucket is kept whole: the min-p set.
    int cut = kBuckets;
    double before = 0.0;
    for (int b = 0; b < kBuckets; ++b) {
        if (before + mass[size_t(b)] >= target) {
            cut = b;
            break;
        }
        before += mass[size_t(b)];
    }
    // Whole buckets first, then the cut bucket's tokens, best first, after them.
    edge_.clear();
    for (int32_t i = 0; i < n_vocab_; ++i) {
        const float v = x_[size_t(i)];
        if (!(v >= min_logit)) continue;
        const int b = bucket(v, max);
        if (b < cut) cand_.push_back({v, i});
        else if (b == cut) edge_.push_back({v, i});
    }
    std::sort(edge_.begin(), edge_.end(), better<Candidate>);
    const size_t n_whole = cand_.size();
    cand_.insert(cand_.end(), edge_.begin(), edge_.end());
    double cum = before;
    for (size_t i = n_whole; i < cand_.size(); ++i) {
        cum += t1_weight(cand_[i].logit, max);
        if (cum >= target) {
            cand_.resize(i + 1);
            break;
        }
    }
}

// A +inf logit (a broken model; bias cannot be +inf) would make every softmax NaN. The limit of the
// distribution is what is left: the +inf tokens share all the probability.
void Sampler::select_infinite() {
    cand_.clear();
    for (int32_t i = 0; i < n_vocab_; ++i) {
        if (x_[size_t(i)] == kPosInf) cand_.push_back({0.0f, i});
    }
}

// Temperature (llama_sampler_temp_impl: logits divided by T) and the softmax of llama_sampler_dist_apply,
// unnormalized: exp((l - max) / T) in double.
void Sampler::weigh() {
    float max = kNegInf;
    for (const Candidate& c : cand_) max = std::max(max, c.logit);
    const double t = params_.temperature;
    weight_.resize(cand_.size());
    weight_sum_ = 0.0;
    for (size_t i = 0; i < cand_.size(); ++i) {
        weight_[i] = std::exp((double(cand_[i].logit) - double(max)) / t);
        weight_sum_ += weight_[i];
    }
}

Status Sampler::prepare(std::span<const float> logits) {
    LOOM_ASSERT(logits.size() == size_t(n_vocab_), "Sampler: {} logits for a vocabulary of {}", logits.size(),
                n_vocab_);
    apply_bias_and_penalties(logits);

    if (params_.temperature <= 0.0f) {
        // Greedy. llama.cpp gets there through the full chain (temperature <= 0 leaves only the first
        // maximum, and top-k/p and min-p always keep the maximum), so only bias and penalties matter.
        int32_t best = -1;
        float best_v = kNegInf;
        for (int32_t i = 0; i < n_vocab_; ++i) {
            if (x_[size_t(i)] > best_v) {  // strict: ties go to the lower id; -inf and NaN never win
                best_v = x_[size_t(i)];
                best = i;
            }
        }
        if (best < 0) return no_token();
        cand_.assign(1, {0.0f, best});
        weight_.assign(1, 1.0);
        weight_sum_ = 1.0;
        return Ok{};
    }

    if (params_.top_k > 0 && params_.top_k < n_vocab_) {
        select_top_k(params_.top_k);
        if (!cand_.empty() && cand_[0].logit == kPosInf) {
            select_infinite();
        } else if (!cand_.empty()) {
            truncate_sorted();
        }
    } else {
        select_without_top_k();
    }
    if (cand_.empty()) return no_token();
    weigh();
    return Ok{};
}

// A uniform double in [0, 1) from the top 53 bits: std::uniform_real_distribution's algorithm differs
// between standard libraries, and the same seed must give the same text everywhere.
double Sampler::uniform() { return double(rng_() >> 11) * 0x1.0p-53; }

Result<int32_t> Sampler::sample(std::span<const float> logits) {
    LOOM_RETURN_IF_ERROR(prepare(logits));
    if (params_.temperature <= 0.0f) return cand_[0].id;

    // One uniform per step whatever the candidates (llama.cpp's dist also draws for a single candidate), so
    // the RNG's position depends only on the number of steps. The walk (llama_sampler_dist_apply): the
    // first candidate whose running sum reaches u * total; zero weights are never picked.
    const double target = uniform() * weight_sum_;
    double run = 0.0;
    for (size_t i = 0; i < cand_.size(); ++i) {
        run += weight_[i];
        if (weight_[i] > 0.0 && run >= target) return cand_[i].id;
    }
    // Rounding left the target above the final running sum: the last candidate with weight.
    for (size_t i = cand_.size(); i-- > 0;) {
        if (weight_[i] > 0.0) return cand_[i].id;
    }
    return cand_[0].id;  // unreachable: the best candidate has weight exp(0) = 1
}

Result<std::vector<TokenProb>> Sampler::distribution(std::span<const float> logits) {
    LOOM_RETURN_IF_ERROR(prepare(logits));
    std::vector<TokenProb> out;
    out.reserve(cand_.size());
    for (size_t i = 0; i < cand_.size(); ++i) out.push_back({cand_[i].id, weight_[i] / weight_sum_});
    return out;
}

}  // namespace loom::runtime
