// Sampler::sample at a 262,144-token vocabulary (Gemma 3's), per decode step: the default chain (top-k 40),
// top-k off with min-p pruning, top-k off with top-p only (the growing partial sort), and greedy.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "runtime/sampler.h"

namespace {

using loom::runtime::Sampler;
using loom::runtime::SamplingParams;

constexpr int32_t kVocab = 262144;

std::vector<float> random_logits() {
    std::mt19937 gen(1);
    std::normal_distribution<float> normal(0.0f, 3.0f);
    std::vector<float> x(kVocab);
    for (float& v : x) v = normal(gen);
    return x;
}

void run(benchmark::State& state, SamplingParams p) {
    const std::vector<float> logits = random_logits();
    Sampler s = Sampler::create(p, kVocab).value();
    for (int32_t t = 0; t < 64; ++t) s.accept(t * 37);
    for (auto _ : state) benchmark::DoNotOptimize(s.sample(logits).value());
    // Bytes each step must read at least: the logits once.
    state.SetBytesProcessed(int64_t(state.iterations()) * kVocab * int64_t(sizeof(float)));
}

void BM_default_chain(benchmark::State& state) {
    SamplingParams p;
    p.repeat_penalty = 1.1f;
    run(state, p);
}
void BM_no_top_k_min_p(benchmark::State& state) {
    SamplingParams p;
    p.top_k = 0;
    run(state, p);
}
void BM_no_top_k_top_p_only(benchmark::State& state) {
    SamplingParams p;
    p.top_k = 0;
    p.min_p = 0.0f;
    run(state, p);
}
void BM_greedy(benchmark::State& state) {
    SamplingParams p;
    p.temperature = 0.0f;
    run(state, p);
}

BENCHMARK(BM_default_chain)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_no_top_k_min_p)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_no_top_k_top_p_only)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_greedy)->Unit(benchmark::kMicrosecond);

}  // namespace
