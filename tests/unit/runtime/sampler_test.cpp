// Sampler: each stage of the chain on a hand-computed case (through distribution(), which is exact), the
// whole chain against a naive full-sort implementation written here (including a 262,144-token vocabulary),
// draw frequencies against the distribution, determinism per seed, greedy, bans, penalties, parameter
// errors, and top_logprobs.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "runtime/sampler.h"

namespace loom::runtime {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();

// Params with every truncation off and temperature 1: the distribution is softmax(logits + adjustments).
SamplingParams plain() {
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    return p;
}

Sampler make(const SamplingParams& p, int32_t n_vocab) {
    Result<Sampler> s = Sampler::create(p, n_vocab);
    EXPECT_TRUE(s.ok()) << s.error().message();
    return std::move(s).value();
}

std::vector<TokenProb> dist_of(Sampler& s, const std::vector<float>& logits) {
    Result<std::vector<TokenProb>> d = s.distribution(logits);
    EXPECT_TRUE(d.ok()) << d.error().message();
    return d.ok() ? d.value() : std::vector<TokenProb>{};
}

std::vector<TokenProb> by_id(std::vector<TokenProb> d) {
    std::sort(d.begin(), d.end(), [](const TokenProb& a, const TokenProb& b) { return a.id < b.id; });
    return d;
}

// softmax(x / t) over the listed ids of x, in double.
std::vector<TokenProb> softmax_of(const std::vector<float>& x, const std::vector<int32_t>& ids, double t = 1.0) {
    double max = -INFINITY, z = 0.0;
    for (int32_t i : ids) max = std::max(max, double(x[size_t(i)]));
    std::vector<TokenProb> out;
    for (int32_t i : ids) {
        out.push_back({i, std::exp((double(x[size_t(i)]) - max) / t)});
        z += out.back().prob;
    }
    for (TokenProb& p : out) p.prob /= z;
    return out;
}

// Same ids and probabilities; the draw's order is not part of the contract, so both are compared by id.
void expect_dist(std::vector<TokenProb> got, std::vector<TokenProb> want, const std::string& what) {
    got = by_id(std::move(got));
    want = by_id(std::move(want));
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].id, want[i].id) << what << " i=" << i;
        EXPECT_NEAR(got[i].prob, want[i].prob, 1e-9) << what << " i=" << i;
    }
}

void expect_error(const Status& st, const std::vector<std::string>& needles) {
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.error().code(), ErrorCode::invalid_input);
    EXPECT_EQ(st.error().message().rfind("sampling: ", 0), 0u) << st.error().message();
    for (const std::string& n : needles)
        EXPECT_NE(st.error().message().find(n), std::string::npos) << st.error().message();
}

TEST(SamplerParams, DefaultsAreLlamaCppCommonDefaults) {
    const SamplingParams p;
    EXPECT_EQ(p.temperature, 0.8f);
    EXPECT_EQ(p.top_k, 40);
    EXPECT_EQ(p.top_p, 0.95f);
    EXPECT_EQ(p.min_p, 0.05f);
    EXPECT_EQ(p.repeat_penalty, 1.0f);
    EXPECT_EQ(p.repeat_last_n, 64);
    EXPECT_EQ(p.presence_penalty, 0.0f);
    EXPECT_EQ(p.frequency_penalty, 0.0f);
    EXPECT_TRUE(p.logit_bias.empty());
    EXPECT_TRUE(p.validate(32000).ok());
}

TEST(SamplerParams, RejectsEachOutOfRangeValue) {
    struct Case {
        void (*set)(SamplingParams&);
        std::string needle;
    };
    const Case cases[] = {
        {[](SamplingParams& p) { p.temperature = std::numeric_limits<float>::quiet_NaN(); }, "temperature"},
        {[](SamplingParams& p) { p.temperature = kInf; }, "temperature"},
        {[](SamplingParams& p) { p.top_p = -0.1f; }, "top_p out of range (expected 0 <= top_p <= 1, got -0.1)"},
        {[](SamplingParams& p) { p.top_p = 1.5f; }, "top_p"},
        {[](SamplingParams& p) { p.top_p = std::numeric_limits<float>::quiet_NaN(); }, "top_p"},
        {[](SamplingParams& p) { p.min_p = -1.0f; }, "min_p"},
        {[](SamplingParams& p) { p.min_p = 2.0f; }, "min_p"},
        {[](SamplingParams& p) { p.repeat_penalty = 0.0f; }, "repeat_penalty"},
        {[](SamplingParams& p) { p.repeat_penalty = -1.1f; }, "repeat_penalty"},
        {[](SamplingParams& p) { p.repeat_penalty = kInf; }, "repeat_penalty"},
        {[](SamplingParams& p) { p.repeat_last_n = -1; }, "repeat_last_n out of range (expected >= 0, got -1)"},
        {[](SamplingParams& p) { p.presence_penalty = std::numeric_limits<float>::quiet_NaN(); }, "presence_penalty"},
        {[](SamplingParams& p) { p.frequency_penalty = -kInf; }, "frequency_penalty"},
        {[](SamplingParams& p) { p.logit_bias[100] = 1.0f; },
         "token id 100 outside the vocabulary (expected 0 <= id < 100)"},
        {[](SamplingParams& p) { p.logit_bias[-1] = 1.0f; }, "token id -1"},
        {[](SamplingParams& p) { p.logit_bias[3] = std::numeric_limits<float>::quiet_NaN(); }, "token 3: bias is nan"},
        {[](SamplingParams& p) { p.logit_bias[3] = kInf; }, "token 3: bias is inf"},
    };
    for (const Case& c : cases) {
        SamplingParams p;
        c.set(p);
        expect_error(p.validate(100), {c.needle});
        EXPECT_FALSE(Sampler::create(p, 100).ok()) << c.needle;
    }
    expect_error(SamplingParams{}.validate(0), {"vocabulary size"});
}

TEST(SamplerParams, ListsEveryProblemAtOnce) {
    SamplingParams p;
    p.top_p = 2.0f;
    p.min_p = -1.0f;
    p.logit_bias[7] = 1.0f;
    expect_error(p.validate(5), {"top_p", "min_p", "token id 7"});
}

TEST(SamplerParams, BansAreLegalButNotEveryToken) {
    SamplingParams p;
    p.logit_bias = {{0, -kInf}, {1, -kInf}, {2, 0.5f}};
    EXPECT_TRUE(p.validate(3).ok());
    p.logit_bias[2] = -kInf;
    expect_error(p.validate(3), {"bans every one of the 3 tokens"});
    EXPECT_TRUE(p.validate(4).ok());
    p.temperature = 0.0f;  // legal: greedy; so are negative temperatures, as in llama.cpp
    p.top_k = -5;          // off
    EXPECT_TRUE(p.validate(4).ok());
}

TEST(SamplerGreedy, ArgmaxWhateverTemperatureAndTruncation) {
    const std::vector<float> logits = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f};
    for (float t : {0.0f, -1.0f}) {
        SamplingParams p;
        p.temperature = t;
        p.top_k = 3;
        p.top_p = 0.1f;
        p.min_p = 0.9f;
        Sampler s = make(p, 5);
        for (int i = 0; i < 10; ++i) EXPECT_EQ(*s.sample(logits), 1) << "ties go to the lower id";
        expect_dist(dist_of(s, logits), {{1, 1.0}}, "greedy distribution");
    }
}

TEST(SamplerGreedy, AppliesBiasAndPenalties) {
    const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 2.5f};
    SamplingParams p;
    p.temperature = 0.0f;
    p.logit_bias = {{1, -kInf}};
    Sampler s = make(p, 4);
    EXPECT_EQ(*s.sample(logits), 3);  // 1 banned
    p.repeat_penalty = 2.0f;          // 3: 2.5 / 2 = 1.25 < 2
    Sampler s2 = make(p, 4);
    s2.accept(3);
    EXPECT_EQ(*s2.sample(logits), 2);
}

TEST(SamplerStages, LogitBiasAddsToLogits) {
    const std::vector<float> logits = {0.0f, 1.0f, 2.0f, -1.0f};
    SamplingParams p = plain();
    p.logit_bias = {{0, 1.5f}, {2, -kInf}, {3, 0.25f}};
    Sampler s = make(p, 4);
    expect_dist(dist_of(s, logits), softmax_of({1.5f, 1.0f, 0.0f, -0.75f}, {0, 1, 3}), "bias");
}

TEST(SamplerStages, TopKKeepsTheBestKTiesToLowerId) {
    const std::vector<float> logits = {1.0f, 3.0f, 2.0f, 5.0f, 4.0f, 4.0f};
    SamplingParams p = plain();
    p.top_k = 2;
    Sampler s = make(p, 6);
    expect_dist(dist_of(s, logits), softmax_of(logits, {3, 4}), "k=2");  // 4 and 5 tie: 4 kept
    p.top_k = 3;
    Sampler s3 = make(p, 6);
    expect_dist(dist_of(s3, logits), softmax_of(logits, {3, 4, 5}), "k=3");
    p.top_k = 100;  // more than the vocabulary: everything
    Sampler s100 = make(p, 6);
    expect_dist(dist_of(s100, logits), softmax_of(logits, {0, 1, 2, 3, 4, 5}), "k>n");
}

// Logits whose softmax is exactly `probs` (up to rounding).
std::vector<float> logits_of(const std::vector<double>& probs) {
    std::vector<float> x;
    for (double q : probs) x.push_back(float(std::log(q)));
    return x;
}

TEST(SamplerStages, TopPKeepsTheSmallestPrefixReachingP) {
    // By id: 0.15, 0.5, 0.05, 0.3. Best first: 1 (0.5), 3 (0.3), 0 (0.15), 2 (0.05).
    const std::vector<float> logits = logits_of({0.15, 0.5, 0.05, 0.3});
    const struct {
        float top_p;
        std::vector<int32_t> kept;
    } cases[] = {
        {0.0f, {1}}, {0.3f, {1}}, {0.75f, {1, 3}}, {0.85f, {1, 3, 0}}, {0.99f, {1, 3, 0, 2}},
    };
    for (const auto& c : cases) {
        SamplingParams p = plain();
        p.top_p = c.top_p;
        Sampler s = make(p, 4);
        expect_dist(dist_of(s, logits), softmax_of(logits, c.kept), "top_p=" + std::to_string(c.top_p));
    }
}

TEST(SamplerStages, TopPNormalizesOverTheTopKCandidates) {
    // 0.4, 0.3, 0.2, 0.1. After top-k = 2 the softmax is 4/7, 3/7: top-p 0.55 keeps one token; over the
    // whole vocabulary 0.4 < 0.55 and it keeps two.
    const std::vector<float> logits = logits_of({0.4, 0.3, 0.2, 0.1});
    SamplingParams p = plain();
    p.top_p = 0.55f;
    Sampler all = make(p, 4);
    expect_dist(dist_of(all, logits), softmax_of(logits, {0, 1}), "no top-k");
    p.top_k = 2;
    Sampler k2 = make(p, 4);
    expect_dist(dist_of(k2, logits), softmax_of(logits, {0}), "top-k 2");
}

TEST(SamplerStages, MinPIsRelativeToTheTopProbability) {
    // 0.5, 0.3, 0.15, 0.05: min_p 0.2 keeps p >= 0.1 (not p >= 0.2).
    const std::vector<float> logits = logits_of({0.5, 0.3, 0.15, 0.05});
    SamplingParams p = plain();
    p.min_p = 0.2f;
    Sampler s = make(p, 4);
    expect_dist(dist_of(s, logits), softmax_of(logits, {0, 1, 2}), "min_p 0.2");
    p.min_p = 0.5f;  // >= 0.25: two
    Sampler s5 = make(p, 4);
    expect_dist(dist_of(s5, logits), softmax_of(logits, {0, 1}), "min_p 0.5");
    p.min_p = 1.0f;  // the top token only
    Sampler s1 = make(p, 4);
    expect_dist(dist_of(s1, logits), softmax_of(logits, {0}), "min_p 1");
}

TEST(SamplerStages, TemperatureScalesAfterTruncation) {
    const std::vector<float> logits = logits_of({0.5, 0.3, 0.15, 0.05});
    for (double t : {0.5, 1.0, 2.0}) {
        SamplingParams p = plain();
        p.temperature = float(t);
        Sampler s = make(p, 4);
        expect_dist(dist_of(s, logits), softmax_of(logits, {0, 1, 2, 3}, t), "no truncation");
        // top-p 0.75 and min-p 0.4 cut at T = 1 whatever T is: {0, 1} (0.3 >= 0.2, 0.15 < 0.2)
        p.top_p = 0.75f;
        Sampler tp = make(p, 4);
        expect_dist(dist_of(tp, logits), softmax_of(logits, {0, 1}, t), "top_p");
        p.top_p = 1.0f;
        p.min_p = 0.4f;
        Sampler mp = make(p, 4);
        expect_dist(dist_of(mp, logits), softmax_of(logits, {0, 1}, t), "min_p");
    }
}

TEST(SamplerStages, RepeatPresenceAndFrequencyPenalties) {
    const std::vector<float> logits = {2.0f, -2.0f, 1.0f, 0.5f, 0.0f};
    SamplingParams p = plain();
    p.repeat_penalty = 2.0f;
    p.presence_penalty = 0.25f;
    p.frequency_penalty = 0.5f;
    Sampler s = make(p, 5);
    for (int32_t t : {0, 1, 2, 2, 2}) s.accept(t);
    // 0: 2 / 2 - 0.5 - 0.25; 1: -2 * 2 - 0.5 - 0.25; 2: 1 / 2 - 1.5 - 0.25; 3, 4 untouched.
    const std::vector<float> want = {0.25f, -4.75f, -1.25f, 0.5f, 0.0f};
    expect_dist(dist_of(s, logits), softmax_of(want, {0, 1, 2, 3, 4}), "penalties");
}

TEST(SamplerStages, PenaltiesCoverOnlyTheWindow) {
    const std::vector<float> logits = {1.0f, 1.0f, 1.0f, 1.0f};
    SamplingParams p = plain();
    p.repeat_penalty = 4.0f;
    p.repeat_last_n = 2;
    Sampler s = make(p, 4);
    for (int32_t t : {0, 1, 2}) s.accept(t);  // 0 has left the window
    expect_dist(dist_of(s, logits), softmax_of({1.0f, 0.25f, 0.25f, 1.0f}, {0, 1, 2, 3}), "window");
    s.accept(2);  // window {2, 2}: counted twice, divided once
    expect_dist(dist_of(s, logits), softmax_of({1.0f, 1.0f, 0.25f, 1.0f}, {0, 1, 2, 3}), "window 2");

    p.repeat_last_n = 0;  // off: accepted tokens change nothing
    Sampler off = make(p, 4);
    for (int32_t t : {0, 1, 2}) off.accept(t);
    expect_dist(dist_of(off, logits), softmax_of(logits, {0, 1, 2, 3}), "last_n 0");
}

TEST(SamplerDraw, BannedTokenIsNeverDrawn) {
    std::vector<float> logits(50, 0.0f);
    logits[7] = 10.0f;  // would be drawn almost always
    SamplingParams p;
    p.logit_bias = {{7, -kInf}};
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.temperature = 5.0f;
    Sampler s = make(p, 50);
    for (int i = 0; i < 20000; ++i) ASSERT_NE(*s.sample(logits), 7);
    // Also when the rest are -inf but one, and with the candidates unsorted (no truncation).
    std::vector<float> only(50, -kInf);
    only[7] = 0.0f;
    only[31] = -100.0f;
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(*s.sample(only), 31);
}

TEST(SamplerDraw, FrequenciesMatchTheDistribution) {
    // With a fixed seed the outcome is fixed; the bound (8 binomial standard deviations per token) would
    // hold for any seed in practice, so the test checks the draw, not luck.
    std::mt19937 gen(5);
    std::normal_distribution<float> normal(0.0f, 1.5f);
    std::vector<float> logits(300);
    for (float& x : logits) x = normal(gen);
    for (const SamplingParams& base : {plain(), SamplingParams{}}) {
        SamplingParams p = base;
        p.seed = 1234;
        Sampler s = make(p, 300);
        const std::vector<TokenProb> want = dist_of(s, logits);
        ASSERT_GT(want.size(), 3u);
        std::vector<int> hits(300, 0);
        const int n = 60000;
        for (int i = 0; i < n; ++i) ++hits[size_t(*s.sample(logits))];
        int total = 0;
        for (const TokenProb& w : want) {
            const double f = double(hits[size_t(w.id)]) / n;
            EXPECT_NEAR(f, w.prob, 8.0 * std::sqrt(w.prob * (1.0 - w.prob) / n) + 1e-4) << "id " << w.id;
            total += hits[size_t(w.id)];
        }
        EXPECT_EQ(total, n) << "a token outside the distribution was drawn";
    }
}

TEST(SamplerDraw, SameSeedSameTokensAndResetReplays) {
    std::mt19937 gen(9);
    std::normal_distribution<float> normal(0.0f, 2.0f);
    std::vector<std::vector<float>> steps(200, std::vector<float>(1000));
    for (auto& l : steps)
        for (float& x : l) x = normal(gen);
    SamplingParams p;
    p.seed = 42;
    p.repeat_penalty = 1.3f;
    auto run = [&](Sampler& s) {
        std::vector<int32_t> out;
        for (const auto& l : steps) {
            out.push_back(*s.sample(l));
            s.accept(out.back());
        }
        return out;
    };
    Sampler a = make(p, 1000), b = make(p, 1000);
    const std::vector<int32_t> ta = run(a);
    EXPECT_EQ(ta, run(b));
    a.reset();
    EXPECT_EQ(ta, run(a)) << "reset must forget history and re-seed";
    p.seed = 43;
    Sampler c = make(p, 1000);
    EXPECT_NE(ta, run(c));
}

TEST(SamplerDraw, InfiniteLogitsShareAllTheProbability) {
    const std::vector<float> logits = {1.0f, kInf, 3.0f, kInf, -kInf};
    for (int32_t top_k : {0, 2, 40}) {
        SamplingParams p;
        p.top_k = top_k;
        Sampler s = make(p, 5);
        expect_dist(dist_of(s, logits), {{1, 0.5}, {3, 0.5}}, "top_k " + std::to_string(top_k));
        for (int i = 0; i < 100; ++i) {
            const int32_t t = *s.sample(logits);
            ASSERT_TRUE(t == 1 || t == 3);
        }
    }
    SamplingParams g;
    g.temperature = 0.0f;
    Sampler greedy = make(g, 5);
    EXPECT_EQ(*greedy.sample(logits), 1);
}

TEST(SamplerDraw, ErrorWhenNothingCanBeDrawn) {
    const std::vector<float> logits = {-kInf, std::numeric_limits<float>::quiet_NaN(), -kInf};
    for (float t : {0.0f, 0.8f}) {
        SamplingParams p;
        p.temperature = t;
        Sampler s = make(p, 3);
        Result<int32_t> r = s.sample(logits);
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().message().find("no token can be drawn"), std::string::npos);
        EXPECT_FALSE(s.distribution(logits).ok());
    }
}

// The chain written the obvious way: sort everything, cut, renormalize. The Sampler must give the same set
// and probabilities whatever its shortcuts (heap top-k, min-p pruning, growing partial sorts).
std::vector<TokenProb> naive_chain(const std::vector<float>& x, const SamplingParams& p) {
    std::vector<int32_t> ids;
    for (int32_t i = 0; i < int32_t(x.size()); ++i)
        if (x[size_t(i)] > -kInf) ids.push_back(i);
    std::sort(ids.begin(), ids.end(),
              [&](int32_t a, int32_t b) { return x[size_t(a)] != x[size_t(b)] ? x[size_t(a)] > x[size_t(b)] : a < b; });
    if (p.top_k > 0 && size_t(p.top_k) < ids.size()) ids.resize(size_t(p.top_k));
    const float max = x[size_t(ids[0])];
    if (p.top_p < 1.0f) {
        double z = 0.0, cum = 0.0;  // T = 1 weights in float (expf, as llama.cpp), sums in double
        for (int32_t i : ids) z += std::exp(x[size_t(i)] - max);
        for (size_t j = 0; j < ids.size(); ++j) {
            cum += std::exp(x[size_t(ids[j])] - max);
            if (cum >= double(p.top_p) * z) {
                ids.resize(j + 1);
                break;
            }
        }
    }
    if (p.min_p > 0.0f) {
        const float min_logit = max + std::log(p.min_p);
        std::erase_if(ids, [&](int32_t i) { return x[size_t(i)] < min_logit; });
    }
    std::sort(ids.begin(), ids.end());
    return softmax_of(x, ids, p.temperature);
}

TEST(SamplerChain, MatchesNaiveFullSort) {
    for (int32_t n : {10, 1000, 262144}) {
        std::mt19937 gen{uint32_t(n)};
        std::normal_distribution<float> normal(0.0f, 3.0f);
        std::vector<float> x(static_cast<size_t>(n));
        for (float& v : x) v = normal(gen);
        for (int32_t i = 0; i < n; i += 7) x[size_t(i)] = std::round(x[size_t(i)]);  // ties
        x[size_t(n / 2)] = -kInf;
        const struct {
            int32_t top_k;
            float top_p, min_p, temperature;
        } grid[] = {
            {40, 0.95f, 0.05f, 0.8f}, {0, 0.95f, 0.05f, 0.8f}, {0, 0.9f, 0.0f, 1.0f}, {0, 0.999f, 0.0f, 1.5f},
            {0, 1.0f, 0.01f, 0.7f},   {0, 1.0f, 0.0f, 1.0f},   {5, 1.0f, 0.0f, 1.0f}, {1000, 0.5f, 0.0f, 2.0f},
            {3, 0.0f, 0.0f, 1.0f},    {0, 0.3f, 0.5f, 0.3f},   {7, 1.0f, 1.0f, 1.0f},
        };
        for (const auto& g : grid) {
            SamplingParams p = plain();
            p.top_k = g.top_k;
            p.top_p = g.top_p;
            p.min_p = g.min_p;
            p.temperature = g.temperature;
            Sampler s = make(p, n);
            expect_dist(dist_of(s, x), naive_chain(x, p),
                        "n=" + std::to_string(n) + " k=" + std::to_string(g.top_k) + " p=" + std::to_string(g.top_p) +
                            " min_p=" + std::to_string(g.min_p));
        }
    }
}

TEST(SamplerLogprobs, HandComputed) {
    const std::vector<float> logits = {0.0f, std::log(2.0f), std::log(2.0f), -kInf};  // 1/5, 2/5, 2/5, 0
    const std::vector<TokenLogprob> top = top_logprobs(logits, 10);
    ASSERT_EQ(top.size(), 4u);
    const int32_t ids[] = {1, 2, 0, 3};
    const double lp[] = {std::log(0.4), std::log(0.4), std::log(0.2)};
    for (int i = 0; i < 3; ++i) {
        EXPECT_EQ(top[size_t(i)].id, ids[i]);
        EXPECT_NEAR(top[size_t(i)].logprob, lp[i], 1e-7);
    }
    EXPECT_EQ(top[3].id, 3);
    EXPECT_EQ(top[3].logprob, -std::numeric_limits<double>::infinity());
    EXPECT_EQ(top_logprobs(logits, 2).size(), 2u);
    EXPECT_TRUE(top_logprobs(logits, 0).empty());
    EXPECT_TRUE(top_logprobs(logits, -3).empty());
}

TEST(SamplerLogprobs, LargeVocabularyInDouble) {
    std::mt19937 gen(3);
    std::normal_distribution<float> normal(0.0f, 4.0f);
    std::vector<float> x(262144);
    for (float& v : x) v = normal(gen);
    const std::vector<TokenLogprob> top = top_logprobs(x, 20);
    ASSERT_EQ(top.size(), 20u);
    std::vector<float> sorted = x;
    std::sort(sorted.begin(), sorted.end(), std::greater<>());
    double z = 0.0;
    for (float v : x) z += std::exp(double(v) - double(sorted[0]));
    for (size_t i = 0; i < top.size(); ++i) {
        EXPECT_EQ(x[size_t(top[i].id)], sorted[i]);
        EXPECT_NEAR(top[i].logprob, double(sorted[i]) - double(sorted[0]) - std::log(z), 1e-12);
    }
}

TEST(SamplerLogprobs, NanMakesEveryLogprobNanAndRanksLast) {
    const std::vector<float> logits = {std::numeric_limits<float>::quiet_NaN(), 1.0f, 2.0f};
    const std::vector<TokenLogprob> top = top_logprobs(logits, 3);
    ASSERT_EQ(top.size(), 3u);
    EXPECT_EQ(top[0].id, 2);
    EXPECT_EQ(top[1].id, 1);
    EXPECT_EQ(top[2].id, 0);
    for (const TokenLogprob& t : top) EXPECT_TRUE(std::isnan(t.logprob));
}

TEST(SamplerSeed, RandomSeedIsResolved) {
    EXPECT_EQ(resolve_seed(7), 7u);
    EXPECT_NE(resolve_seed(kRandomSeed), kRandomSeed);
}

}  // namespace
}  // namespace loom::runtime
