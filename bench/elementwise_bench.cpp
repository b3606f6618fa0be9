// Element-wise micro-benchmarks at llama-1B-class sizes (d_model 2048, 16 heads of 128, d_ff 5632, 2048
// context), decode (1 token) and prefill (512 tokens): the reference, the CPU backend on one thread, and on
// the machine's threads. bytes_per_second counts the bytes each op must move (inputs read + output written):
//   rms_norm  x, w, y                     rope     x, y (pos and the angle table are negligible)
//   softmax   scores [16·n_tok, 2048], y   glu      gate, up, y  ([n_tok, 5632], silu)
// Prefill working sets (≥ 8 MB) exceed the caches; decode ones are cache-resident, so decode figures
// measure per-call overhead as much as bandwidth.
//   build/<dir>/bench/elementwise_bench [--benchmark_filter=rms_norm]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/registry.h"

namespace loom::kernels {
namespace {

constexpr int64_t kDModel = 2048, kNHead = 16, kDHead = 128, kDff = 5632, kNKv = 2048;

ThreadPool& pool() {
    static ThreadPool p(int(std::max(1u, std::thread::hardware_concurrency())));
    return p;
}

// impl: 0 = ref, 1 = cpu on the calling thread, 2 = cpu on the pool.
struct Runner {
    const OpTable* table;
    Stream stream;
    explicit Runner(int64_t impl) {
        table = op_table(impl == 0 ? Backend::ref : Backend::cpu);
        stream.backend = table->backend;
        stream.pool = impl == 2 ? &pool() : nullptr;
    }
};

std::vector<float> randn(int64_t n, uint32_t seed, float sigma = 1.f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> d(0.f, sigma);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = d(rng);
    return v;
}

void label(benchmark::State& st, const Runner& r, int64_t impl) {
    st.SetLabel(impl == 0   ? "ref"
                : impl == 1 ? std::string(r.table->variant) + " x1"
                            : std::string(r.table->variant) + " x" + std::to_string(pool().size()));
}

void BM_rms_norm(benchmark::State& st) {
    const int64_t impl = st.range(0), n_tok = st.range(1);
    Runner r(impl);
    auto x = randn(n_tok * kDModel, 1), w = randn(kDModel, 2), y = x;
    NormArgs a;
    a.x = TensorView::dense(x.data(), DType::f32, {n_tok, kDModel});
    a.w = TensorView::dense(w.data(), DType::f32, {kDModel});
    a.y = TensorView::dense(y.data(), DType::f32, {n_tok, kDModel});
    for (auto _ : st) {
        if (!r.table->norm(a, r.stream).ok()) st.SkipWithError("norm failed");
        benchmark::DoNotOptimize(y.data());
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * (2 * n_tok + 1) * kDModel * 4);
    label(st, r, impl);
}

void BM_rope(benchmark::State& st) {
    const int64_t impl = st.range(0), n_tok = st.range(1);
    Runner r(impl);
    auto x = randn(n_tok * kNHead * kDHead, 3), y = x;
    std::vector<int32_t> pos(static_cast<size_t>(n_tok));
    for (int64_t t = 0; t < n_tok; ++t) pos[size_t(t)] = int32_t(1000 + t);
    RopeArgs a;
    a.x = TensorView::dense(x.data(), DType::f32, {n_tok, kNHead, kDHead});
    a.y = TensorView::dense(y.data(), DType::f32, {n_tok, kNHead, kDHead});
    a.pos = TensorView::dense(pos.data(), DType::i32, {n_tok});
    a.mode = RopeMode::neox;
    a.n_rot = int(kDHead);
    a.freq_base = 500000.f;
    for (auto _ : st) {
        if (!r.table->rope(a, r.stream).ok()) st.SkipWithError("rope failed");
        benchmark::DoNotOptimize(y.data());
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * 2 * n_tok * kNHead * kDHead * 4);
    label(st, r, impl);
}

void BM_softmax(benchmark::State& st) {
    // Attention probabilities: scores [n_head, n_tok, n_kv] with a causal mask [n_tok, n_kv] (the last n_tok
    // positions of a 2048 context) shared by the heads.
    const int64_t impl = st.range(0), n_tok = st.range(1);
    Runner r(impl);
    auto x = randn(kNHead * n_tok * kNKv, 4, 3.f), y = x;
    std::vector<float> mask(static_cast<size_t>(n_tok * kNKv), 0.f);
    for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t j = kNKv - n_tok + t + 1; j < kNKv; ++j) mask[size_t(t * kNKv + j)] = -INFINITY;
    SoftmaxArgs a;
    a.x = TensorView::dense(x.data(), DType::f32, {kNHead, n_tok, kNKv});
    a.mask = TensorView::dense(mask.data(), DType::f32, {n_tok, kNKv});
    a.y = TensorView::dense(y.data(), DType::f32, {kNHead, n_tok, kNKv});
    a.scale = 1.f / std::sqrt(float(kDHead));
    for (auto _ : st) {
        if (!r.table->softmax(a, r.stream).ok()) st.SkipWithError("softmax failed");
        benchmark::DoNotOptimize(y.data());
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * 2 * kNHead * n_tok * kNKv * 4);
    label(st, r, impl);
}

void BM_glu(benchmark::State& st) {
    const int64_t impl = st.range(0), n_tok = st.range(1);
    Runner r(impl);
    auto g = randn(n_tok * kDff, 5, 2.f), u = randn(n_tok * kDff, 6), y = g;
    GluArgs a;
    a.act = UnaryOp::silu;
    a.gate = TensorView::dense(g.data(), DType::f32, {n_tok, kDff});
    a.up = TensorView::dense(u.data(), DType::f32, {n_tok, kDff});
    a.y = TensorView::dense(y.data(), DType::f32, {n_tok, kDff});
    for (auto _ : st) {
        if (!r.table->glu(a, r.stream).ok()) st.SkipWithError("glu failed");
        benchmark::DoNotOptimize(y.data());
    }
    st.SetBytesProcessed(int64_t(st.iterations()) * 3 * n_tok * kDff * 4);
    label(st, r, impl);
}

void shapes(benchmark::internal::Benchmark* b) {
    b->ArgNames({"impl", "n_tok"});
    for (int64_t n_tok : {1, 512})
        for (int64_t impl : {0, 1, 2}) b->Args({impl, n_tok});
    b->Unit(benchmark::kMicrosecond)->UseRealTime();  // wall time: the pool's threads count
}

BENCHMARK(BM_rms_norm)->Apply(shapes);
BENCHMARK(BM_rope)->Apply(shapes);
BENCHMARK(BM_softmax)->Apply(shapes);
BENCHMARK(BM_glu)->Apply(shapes);

}  // namespace
}  // namespace loom::kernels
