// Attention, conv1d and delta-net micro-benchmarks, reference and CPU side by side.
// Decode (1 token over a long cache) reports GB/s of K/V bytes read; prefill (512 tokens, causal) reports
// GFLOP/s over the visible (query, slot) pairs, 2·(d_head + d_v) flops each. Decode cycles through enough
// copies of the cache ("layers") that every iteration reads from DRAM, as a real decode step does.
//   build/<dir>/bench/attention_bench [--benchmark_filter=Decode]
#include <benchmark/benchmark.h>

#include <cmath>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "core/half.h"
#include "core/thread_pool.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/registry.h"

namespace loom::kernels {
namespace {

constexpr int64_t kColdBytes = 256ll << 20;  // decode spreads its caches over this much memory

// The pool for `threads` workers (1: inline on the calling thread).
ThreadPool* pool(int64_t threads) {
    static ThreadPool p(int(std::max(1u, std::thread::hardware_concurrency())));
    return threads > 1 ? &p : nullptr;
}

struct Setup {
    int64_t n_tok = 0, n_kv = 0, n_head = 0, n_head_kv = 0, d = 0;
    int64_t n_copies = 1;
    std::vector<float> q, out;
    std::vector<uint16_t> kv;  // n_copies × (K then V), f16
    std::vector<int32_t> q_pos, kv_pos;
    int64_t kv_elems() const { return n_kv * n_head_kv * d; }
    AttentionArgs args(int64_t copy) {
        AttentionArgs a;
        a.q = TensorView::dense(q.data(), DType::f32, {n_tok, n_head, d});
        uint16_t* base = kv.data() + copy * 2 * kv_elems();
        a.k = TensorView::dense(base, DType::f16, {n_kv, n_head_kv, d});
        a.v = TensorView::dense(base + kv_elems(), DType::f16, {n_kv, n_head_kv, d});
        a.out = TensorView::dense(out.data(), DType::f32, {n_tok, n_head, d});
        a.q_pos = TensorView::dense(q_pos.data(), DType::i32, {n_tok});
        a.kv_pos = TensorView::dense(kv_pos.data(), DType::i32, {n_kv});
        a.scale = 1.f / std::sqrt(float(d));
        return a;
    }
};

Setup make_setup(int64_t n_tok, int64_t n_kv, int64_t n_head, int64_t n_head_kv, int64_t d, bool cold) {
    Setup s;
    s.n_tok = n_tok, s.n_kv = n_kv, s.n_head = n_head, s.n_head_kv = n_head_kv, s.d = d;
    const int64_t bytes = 2 * s.kv_elems() * 2;
    s.n_copies = cold ? std::max<int64_t>(1, kColdBytes / bytes) : 1;
    std::mt19937 rng(1);
    std::normal_distribution<float> nd(0.f, 1.f);
    s.q.resize(size_t(n_tok * n_head * d));
    for (float& x : s.q) x = nd(rng);
    s.out.resize(s.q.size());
    s.kv.resize(size_t(s.n_copies * 2 * s.kv_elems()));
    std::vector<uint16_t> one(static_cast<size_t>(2 * s.kv_elems()));
    for (auto& h : one) h = f32_to_f16(nd(rng));
    for (int64_t c = 0; c < s.n_copies; ++c) std::memcpy(s.kv.data() + c * one.size(), one.data(), one.size() * 2);
    s.kv_pos.resize(size_t(n_kv));
    for (int64_t j = 0; j < n_kv; ++j) s.kv_pos[size_t(j)] = int32_t(j);
    s.q_pos.resize(size_t(n_tok));
    for (int64_t i = 0; i < n_tok; ++i) s.q_pos[size_t(i)] = int32_t(n_kv - n_tok + i);
    return s;
}

// args: n_kv, d_head, n_head, n_head_kv, threads
void run_decode(benchmark::State& st, Backend b) {
    const int64_t n_kv = st.range(0), d = st.range(1), n_head = st.range(2), n_head_kv = st.range(3);
    const int64_t threads = st.range(4);
    Setup s = make_setup(1, n_kv, n_head, n_head_kv, d, true);
    const OpTable* t = op_table(b);
    Stream stream;
    stream.backend = b;
    stream.pool = b == Backend::cpu ? pool(threads) : nullptr;
    int64_t copy = 0;
    for (auto _ : st) {
        const Status ok = t->attention(s.args(copy), stream);
        if (!ok.ok()) st.SkipWithError(ok.error().message().c_str());
        copy = (copy + 1) % s.n_copies;
    }
    const double bytes = double(2 * s.kv_elems() * 2);
    st.counters["GB/s"] = benchmark::Counter(bytes * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// args: n_tok (= n_kv), d_head, n_head, n_head_kv, threads
void run_prefill(benchmark::State& st, Backend b) {
    const int64_t n = st.range(0), d = st.range(1), n_head = st.range(2), n_head_kv = st.range(3);
    const int64_t threads = st.range(4);
    Setup s = make_setup(n, n, n_head, n_head_kv, d, false);
    const OpTable* t = op_table(b);
    Stream stream;
    stream.backend = b;
    stream.pool = b == Backend::cpu ? pool(threads) : nullptr;
    for (auto _ : st) {
        const Status ok = t->attention(s.args(0), stream);
        if (!ok.ok()) st.SkipWithError(ok.error().message().c_str());
    }
    const double pairs = double(n) * double(n + 1) / 2;  // causal: token i sees i + 1 slots
    const double flops = pairs * double(n_head) * 2.0 * double(2 * d);
    st.counters["GFLOP/s"] = benchmark::Counter(flops * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_AttentionDecodeCpu(benchmark::State& st) { run_decode(st, Backend::cpu); }
void BM_AttentionDecodeRef(benchmark::State& st) { run_decode(st, Backend::ref); }
void BM_AttentionPrefillCpu(benchmark::State& st) { run_prefill(st, Backend::cpu); }
void BM_AttentionPrefillRef(benchmark::State& st) { run_prefill(st, Backend::ref); }

void decode_args(benchmark::internal::Benchmark* b, bool quick) {
    b->ArgNames({"n_kv", "d", "n_head", "n_head_kv", "threads"});
    for (int64_t threads : {1, 2}) {
        if (quick && threads > 1) continue;
        for (int64_t n_kv : {512, 4096}) {
            if (quick && n_kv > 512) continue;
            for (int64_t d : {64, 128})
                for (auto [h, hkv] : {std::pair{32, 4}, {8, 1}}) b->Args({n_kv, d, h, hkv, threads});
        }
    }
    b->Unit(benchmark::kMicrosecond)->UseRealTime();
}

void prefill_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"n_tok", "d", "n_head", "n_head_kv", "threads"});
    for (int64_t threads : {1, 2})
        for (int64_t d : {64, 128})
            for (auto [h, hkv] : {std::pair{32, 4}, {8, 1}}) b->Args({512, d, h, hkv, threads});
    b->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_AttentionDecodeRef)->Apply([](auto* b) { decode_args(b, true); });
BENCHMARK(BM_AttentionDecodeCpu)->Apply([](auto* b) { decode_args(b, false); });
// The reference prefill takes seconds per call: only the smallest shape, once.
BENCHMARK(BM_AttentionPrefillRef)
    ->Args({512, 64, 8, 1, 1})
    ->ArgNames({"n_tok", "d", "n_head", "n_head_kv", "threads"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_AttentionPrefillCpu)->Apply(prefill_args);

// ---- delta net (Qwen3.5-like: 32 value heads over 16 key heads, d = 128) ---------------------------

// args: n_tok, threads
void run_delta(benchmark::State& st, Backend b) {
    const int64_t n_tok = st.range(0), threads = st.range(1), n_hk = 16, n_hv = 32, d = 128;
    std::mt19937 rng(2);
    std::normal_distribution<float> nd(0.f, 0.1f);
    auto vec = [&](int64_t n) {
        std::vector<float> x(static_cast<size_t>(n));
        for (float& v : x) v = nd(rng);
        return x;
    };
    std::vector<float> q = vec(n_tok * n_hk * d), k = vec(n_tok * n_hk * d), v = vec(n_tok * n_hv * d);
    std::vector<float> g(size_t(n_tok * n_hv), -0.1f), beta(size_t(n_tok * n_hv), 0.5f), state = vec(n_hv * d * d);
    std::vector<float> out(size_t(n_tok * n_hv * d));
    DeltaNetArgs a{TensorView::dense(q.data(), DType::f32, {n_tok, n_hk, d}),
                   TensorView::dense(k.data(), DType::f32, {n_tok, n_hk, d}),
                   TensorView::dense(v.data(), DType::f32, {n_tok, n_hv, d}),
                   TensorView::dense(g.data(), DType::f32, {n_tok, n_hv}),
                   TensorView::dense(beta.data(), DType::f32, {n_tok, n_hv}),
                   TensorView::dense(state.data(), DType::f32, {n_hv, d, d}),
                   TensorView::dense(out.data(), DType::f32, {n_tok, n_hv, d}),
                   1.f / std::sqrt(float(d))};
    Stream stream;
    stream.backend = b;
    stream.pool = b == Backend::cpu ? pool(threads) : nullptr;
    const OpTable* t = op_table(b);
    for (auto _ : st) {
        const Status ok = t->delta_net(a, stream);
        if (!ok.ok()) st.SkipWithError(ok.error().message().c_str());
    }
    // Per token and state element: decay, two dots, one update: 7 flops; the state is read and written.
    const double flops = double(n_tok) * double(n_hv * d * d) * 7;
    st.counters["GFLOP/s"] = benchmark::Counter(flops * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

void BM_DeltaNetCpu(benchmark::State& st) { run_delta(st, Backend::cpu); }
void BM_DeltaNetRef(benchmark::State& st) { run_delta(st, Backend::ref); }
BENCHMARK(BM_DeltaNetRef)->Args({1, 1})->ArgNames({"n_tok", "threads"})->Unit(benchmark::kMicrosecond)->UseRealTime();
BENCHMARK(BM_DeltaNetCpu)
    ->ArgsProduct({{1, 512}, {1, 2}})
    ->ArgNames({"n_tok", "threads"})
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

// ---- the machine's read bandwidth, for scale ---------------------------------------------------------

void BM_ReadBandwidth(benchmark::State& st) {
    const int64_t n = kColdBytes / 4;
    std::vector<float> x(static_cast<size_t>(n), 1.f);
    std::vector<double> part(64);
    if (!pool(2)) {
        st.SkipWithError("needs 2 threads");
        return;
    }
    for (auto _ : st) {
        pool(2)->parallel_for(
            n, 4096,
            [&](int64_t b, int64_t e, int th) {
                float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
                for (int64_t i = b; i + 4 <= e; i += 4)
                    s0 += x[size_t(i)], s1 += x[size_t(i + 1)], s2 += x[size_t(i + 2)], s3 += x[size_t(i + 3)];
                part[size_t(th)] += s0 + s1 + s2 + s3;
            },
            1);
        benchmark::DoNotOptimize(part.data());
    }
    st.counters["GB/s"] =
        benchmark::Counter(double(n) * 4 * double(st.iterations()) / 1e9, benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ReadBandwidth)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace loom::kernels
