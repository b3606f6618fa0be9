// ggml_ops_check: loom's CPU conv1d and delta_net against ggml's GGML_OP_SSM_CONV and GGML_OP_GATED_DELTA_NET,
// bit for bit. Links the pinned llama.cpp's libggml (tools/llama_ref/build.sh builds it) and loom's own library,
// runs both on the same seeded inputs (1 and 2 threads each) and prints, per case and CPU variant, the number
// of differing floats and the largest |difference| of the outputs and the new state. A developer tool, not
// run in CI (CI has no llama.cpp build).
//
// Build (after tools/llama_ref/build.sh and `cmake --build build/release`), from the repository root:
//   L=~/.cache/loom/llama.cpp-0.3.36; S=$L/llama_cpp_python-0.3.36/vendor/llama.cpp
//   g++ -std=c++20 -O2 -Wall -Wextra -o build/ggml_ops_check tools/llama_ref/ggml_ops_check.cpp -Isrc
//       -I$S/ggml/include build/release/libloom.a -L$L/build/bin -Wl,-rpath,$L/build/bin
//       -lggml -lggml-base -lggml-cpu -lfmt -pthread
// Run:
//   build/ggml_ops_check            exit 0 when every non-portable variant equals ggml bit for bit (the
//                                   portable variant is listed, not required: the AVX2 order needs FMA)
//   build/ggml_ops_check --bench    also times delta_net at decode (n_tok 1) and prefill (n_tok 512) shapes
// The exact order reproduced is that of the ggml build on the machine that runs this; ggml is compiled with
// -march=native, so recheck after rebuilding llama.cpp with another compiler or on another CPU.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/thread_pool.h"
#include "ggml-cpu.h"
#include "ggml.h"
#include "kernels/registry.h"

namespace {

using loom::DType;
using loom::TensorView;
using loom::ThreadPool;
using loom::kernels::Backend;
using loom::kernels::Conv1dArgs;
using loom::kernels::DeltaNetArgs;
using loom::kernels::OpTable;
using loom::kernels::Stream;

std::vector<float> normal(size_t n, std::mt19937& rng, float sigma = 1.f) {
    std::normal_distribution<float> d(0.f, sigma);
    std::vector<float> v(n);
    for (float& x : v) x = d(rng);
    return v;
}

void l2_rows(std::vector<float>& x, int64_t d) {
    for (size_t r = 0; r < x.size() / size_t(d); ++r) {
        double ss = 0;
        for (int64_t e = 0; e < d; ++e) ss += double(x[r * d + e]) * x[r * d + e];
        for (int64_t e = 0; e < d; ++e) x[r * d + e] /= float(std::sqrt(ss));
    }
}

// A ggml context big enough for one op's tensors; graphs run with a caller-owned work buffer.
struct Ggml {
    ggml_context* ctx;
    explicit Ggml(size_t bytes) {
        ggml_init_params p{bytes, nullptr, false};
        ctx = ggml_init(p);
    }
    ~Ggml() { ggml_free(ctx); }
    ggml_tensor* tensor(const std::vector<float>& v, std::initializer_list<int64_t> ne) {
        std::vector<int64_t> n(ne);
        ggml_tensor* t = ggml_new_tensor(ctx, GGML_TYPE_F32, int(n.size()), n.data());
        std::memcpy(t->data, v.data(), v.size() * 4);
        return t;
    }
};

// Computes the graph ending in `out` with n_threads; `reps` > 1 times it (returns seconds per run, best of reps).
double compute(ggml_tensor* out, ggml_context* ctx, int n_threads, int reps = 1) {
    ggml_cgraph* gf = ggml_new_graph(ctx);
    ggml_build_forward_expand(gf, out);
    ggml_threadpool_params tp = ggml_threadpool_params_default(n_threads);
    ggml_threadpool* pool = ggml_threadpool_new(&tp);
    ggml_cplan plan = ggml_graph_plan(gf, n_threads, pool);
    std::vector<uint8_t> work(plan.work_size);
    plan.work_data = work.data();
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        if (ggml_graph_compute(gf, &plan) != GGML_STATUS_SUCCESS) {
            std::fprintf(stderr, "ggml_graph_compute failed\n");
            std::exit(2);
        }
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    ggml_threadpool_free(pool);
    return best;
}

struct Diff {
    size_t n_diff = 0;
    float max_abs = 0.f;
    void add(const std::vector<float>& a, const float* b) {
        for (size_t i = 0; i < a.size(); ++i)
            if (std::memcmp(&a[i], &b[i], 4) != 0) {  // bits, so that −0 against +0 counts too
                ++n_diff;
                max_abs = std::max(max_abs, std::fabs(a[i] - b[i]));
            }
    }
};

bool g_failed = false;

void report(const char* op, const std::string& what, const OpTable& var, int n_threads, const Diff& d) {
    const bool required = std::strstr(var.variant, "portable") == nullptr;
    std::printf("%-10s %-34s %-16s thr=%d  differing=%-6zu max|diff|=%.3g%s\n", op, what.c_str(), var.variant,
                n_threads, d.n_diff, double(d.max_abs), d.n_diff && required ? "  FAIL" : "");
    if (d.n_diff && required) g_failed = true;
}

// The fastest of `reps` runs of loom's `run` (each after `reset` restores its inputs), in seconds; a failed run
// ends the tool.
template <class Reset, class Run>
double best_of(int reps, const char* op, Reset reset, Run run) {
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
        reset();
        const auto t0 = std::chrono::steady_clock::now();
        if (!run().ok()) {
            std::fprintf(stderr, "loom %s failed\n", op);
            std::exit(2);
        }
        best = std::min(best, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    return best;
}

// ---- delta_net -------------------------------------------------------------------------------------

struct DeltaCase {
    int64_t n_tok, n_hk, n_hv, d;
    std::vector<float> q, k, v, g, beta, state;
    DeltaCase(int64_t n_tok_, int64_t n_hk_, int64_t n_hv_, int64_t d_, uint32_t seed)
        : n_tok(n_tok_), n_hk(n_hk_), n_hv(n_hv_), d(d_) {
        std::mt19937 rng(seed);
        q = normal(size_t(n_tok * n_hk * d), rng);
        k = normal(size_t(n_tok * n_hk * d), rng);
        l2_rows(q, d);
        l2_rows(k, d);
        v = normal(size_t(n_tok * n_hv * d), rng);
        g = normal(size_t(n_tok * n_hv), rng);
        beta = normal(size_t(n_tok * n_hv), rng);
        for (float& x : g) x = -std::log1p(std::exp(x));  // −softplus: log decay <= 0
        for (float& x : beta) x = 1.f / (1.f + std::exp(-x));
        state = normal(size_t(n_hv * d * d), rng, 0.1f);
    }
    std::string name() const {
        return "n_tok=" + std::to_string(n_tok) + " heads=" + std::to_string(n_hk) + "/" + std::to_string(n_hv) +
               " d=" + std::to_string(d);
    }
    // ggml: out = [attention scores [d, n_hv, n_tok] | new state [d, d, n_hv]], the same memory order as
    // loom's out [n_tok, n_hv, d_v] and state [n_hv, d_v, d_k].
    std::vector<float> run_ggml(int n_threads, int reps = 1, double* seconds = nullptr) const {
        Ggml gg(size_t(64) << 20 | (size_t(n_tok * n_hv * d + n_hv * d * d) * 4 * 4));
        ggml_tensor* tq = gg.tensor(q, {d, n_hk, n_tok, 1});
        ggml_tensor* tk = gg.tensor(k, {d, n_hk, n_tok, 1});
        ggml_tensor* tv = gg.tensor(v, {d, n_hv, n_tok, 1});
        ggml_tensor* tg = gg.tensor(g, {1, n_hv, n_tok, 1});
        ggml_tensor* tb = gg.tensor(beta, {1, n_hv, n_tok, 1});
        ggml_tensor* ts = gg.tensor(state, {d, d, n_hv, 1});
        ggml_tensor* out = ggml_gated_delta_net(gg.ctx, tq, tk, tv, tg, tb, ts, 1);
        const double s = compute(out, gg.ctx, n_threads, reps);
        if (seconds) *seconds = s;
        const float* o = static_cast<const float*>(out->data);
        return {o, o + ggml_nelements(out)};
    }
    // loom's result in the same packing (out, then the new state); the state is updated in a copy. With
    // reps > 1 the call is timed, each run from the initial state.
    std::vector<float> run_loom(const OpTable& var, ThreadPool* pool, int reps = 1, double* seconds = nullptr) const {
        std::vector<float> st = state, out(size_t(n_tok * n_hv * d));
        DeltaNetArgs a;
        a.q = TensorView::dense(q.data(), DType::f32, {n_tok, n_hk, d});
        a.k = TensorView::dense(k.data(), DType::f32, {n_tok, n_hk, d});
        a.v = TensorView::dense(v.data(), DType::f32, {n_tok, n_hv, d});
        a.g = TensorView::dense(g.data(), DType::f32, {n_tok, n_hv});
        a.beta = TensorView::dense(beta.data(), DType::f32, {n_tok, n_hv});
        a.state = TensorView::dense(st.data(), DType::f32, {n_hv, d, d});
        a.out = TensorView::dense(out.data(), DType::f32, {n_tok, n_hv, d});
        a.scale = 1.0f / sqrtf(float(d));  // ggml's scale, computed as ggml does
        Stream s;
        s.pool = pool;
        const double best = best_of(
            reps, "delta_net", [&] { std::copy(state.begin(), state.end(), st.begin()); },
            [&] { return var.delta_net(a, s); });
        if (seconds) *seconds = best;
        out.insert(out.end(), st.begin(), st.end());
        return out;
    }
};

// ---- conv1d ----------------------------------------------------------------------------------------

struct ConvCase {
    int64_t n_tok, n_ch, k;
    std::vector<float> x, w, state;  // loom's layouts: x [n_tok, n_ch], w [n_ch, K], state [K − 1, n_ch]
    ConvCase(int64_t n_tok_, int64_t n_ch_, int64_t k_, uint32_t seed) : n_tok(n_tok_), n_ch(n_ch_), k(k_) {
        std::mt19937 rng(seed);
        x = normal(size_t(n_tok * n_ch), rng);
        w = normal(size_t(n_ch * k), rng, 0.5f);
        state = normal(size_t((k - 1) * n_ch), rng);
    }
    std::string name() const {
        return "n_tok=" + std::to_string(n_tok) + " n_ch=" + std::to_string(n_ch) + " K=" + std::to_string(k);
    }
    // ggml's ssm_conv reads sx, ne [K − 1 + n_tok, n_ch]: per channel its carried inputs then this call's (the
    // concatenation llama.cpp builds); y, ne [n_ch, n_tok], is loom's [n_tok, n_ch]. ggml returns y only, so the
    // new state (a copy of the last K − 1 inputs) is appended from the inputs, to check loom's.
    std::vector<float> run_ggml(int n_threads) const {
        const int64_t n_win = k - 1 + n_tok;
        std::vector<float> sx(size_t(n_win * n_ch));
        for (int64_t c = 0; c < n_ch; ++c)
            for (int64_t u = 0; u < n_win; ++u)
                sx[size_t(c * n_win + u)] = u < k - 1 ? state[size_t(u * n_ch + c)] : x[size_t((u - k + 1) * n_ch + c)];
        Ggml gg(size_t(16) << 20);
        ggml_tensor* ts = gg.tensor(sx, {n_win, n_ch, 1});
        ggml_tensor* tc = gg.tensor(w, {k, n_ch});
        ggml_tensor* out = ggml_ssm_conv(gg.ctx, ts, tc);
        compute(out, gg.ctx, n_threads);
        const float* o = static_cast<const float*>(out->data);
        std::vector<float> r(o, o + ggml_nelements(out));
        for (int64_t i = 0; i < k - 1; ++i)
            for (int64_t c = 0; c < n_ch; ++c) r.push_back(sx[size_t(c * n_win + n_tok + i)]);
        return r;
    }
    // loom's y, then its new state. With reps > 1 the call is timed, each run from the initial state.
    std::vector<float> run_loom(const OpTable& var, ThreadPool* pool, int reps = 1, double* seconds = nullptr) const {
        std::vector<float> st = state, y(size_t(n_tok * n_ch));
        Conv1dArgs a;
        a.x = TensorView::dense(x.data(), DType::f32, {n_tok, n_ch});
        a.w = TensorView::dense(w.data(), DType::f32, {n_ch, k});
        a.state = TensorView::dense(st.data(), DType::f32, {k - 1, n_ch});
        a.y = TensorView::dense(y.data(), DType::f32, {n_tok, n_ch});
        Stream s;
        s.pool = pool;
        const double best = best_of(
            reps, "conv1d", [&] { std::copy(state.begin(), state.end(), st.begin()); },
            [&] { return var.conv1d(a, s); });
        if (seconds) *seconds = best;
        y.insert(y.end(), st.begin(), st.end());
        return y;
    }
};

void check_delta(const DeltaCase& c, ThreadPool& pool2) {
    const std::vector<float> want = c.run_ggml(1);
    Diff threads;
    threads.add(want, c.run_ggml(2).data());
    if (threads.n_diff) {
        std::printf("delta_net  %-34s ggml 1 vs 2 threads differ in %zu floats  FAIL\n", c.name().c_str(),
                    threads.n_diff);
        g_failed = true;
    }
    for (const OpTable& var : loom::kernels::variants(Backend::cpu))
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2}) {
            Diff d;
            d.add(want, c.run_loom(var, pool).data());
            report("delta_net", c.name(), var, pool ? pool->size() : 1, d);
        }
}

void check_conv(const ConvCase& c, ThreadPool& pool2) {
    const std::vector<float> want = c.run_ggml(1);
    Diff threads;
    threads.add(want, c.run_ggml(2).data());
    if (threads.n_diff) {
        std::printf("conv1d     %-34s ggml 1 vs 2 threads differ in %zu floats  FAIL\n", c.name().c_str(),
                    threads.n_diff);
        g_failed = true;
    }
    for (const OpTable& var : loom::kernels::variants(Backend::cpu))
        for (ThreadPool* pool : {static_cast<ThreadPool*>(nullptr), &pool2}) {
            Diff d;
            d.add(want, c.run_loom(var, pool).data());
            report("conv1d", c.name(), var, pool ? pool->size() : 1, d);
        }
}

void bench(ThreadPool& pool2) {
    std::printf("\ndelta_net timing (best of runs; heads 16/32, d_k = d_v = 128):\n");
    for (int64_t n_tok : {1, 512}) {
        const DeltaCase c(n_tok, 16, 32, 128, 99);
        const int reps = n_tok == 1 ? 200 : 5;
        for (int thr : {1, 2}) {
            double s = 0;
            c.run_ggml(thr, reps, &s);
            std::printf("  n_tok=%-4lld thr=%d  ggml            %9.1f us\n", (long long)n_tok, thr, s * 1e6);
            for (const OpTable& var : loom::kernels::variants(Backend::cpu)) {
                c.run_loom(var, thr == 1 ? nullptr : &pool2, reps, &s);
                std::printf("  n_tok=%-4lld thr=%d  loom %-10s %9.1f us\n", (long long)n_tok, thr, var.variant,
                            s * 1e6);
            }
        }
    }
    std::printf("conv1d timing (best of runs; 8192 channels, K = 4; loom only):\n");
    for (int64_t n_tok : {1, 512}) {
        const ConvCase c(n_tok, 8192, 4, 98);
        for (int thr : {1, 2})
            for (const OpTable& var : loom::kernels::variants(Backend::cpu)) {
                double s = 0;
                c.run_loom(var, thr == 1 ? nullptr : &pool2, n_tok == 1 ? 500 : 20, &s);
                std::printf("  n_tok=%-4lld thr=%d  loom %-10s %9.1f us\n", (long long)n_tok, thr, var.variant,
                            s * 1e6);
            }
    }
}

}  // namespace

int main(int argc, char** argv) {
    const bool do_bench = argc > 1 && std::strcmp(argv[1], "--bench") == 0;
    ggml_cpu_init();
    ThreadPool pool2(2);
    uint32_t seed = 1;
    // d = 128 and 32: whole 32-float steps of ggml_vec_dot_f32; 48, 23, 7: its scalar leftovers too.
    for (int64_t d : {128, 32, 48, 23, 7})
        for (int64_t n_tok : {1, 7}) check_delta(DeltaCase(n_tok, 2, 4, d, seed++), pool2);
    check_delta(DeltaCase(3, 16, 32, 128, seed++), pool2);
    // K = 4 (Qwen3.5, Mamba), 3 (LFM2); 2, 7, 13: the other tap groupings of ggml's compiled loop.
    for (int64_t k : {4, 3, 2, 7, 13})
        for (int64_t n_tok : {1, 5})
            for (int64_t n_ch : {96, 100}) check_conv(ConvCase(n_tok, n_ch, k, seed++), pool2);
    check_conv(ConvCase(9, 130, 20, seed++), pool2);  // K > 16: the driver's heap buffers
    if (do_bench) bench(pool2);
    std::printf("%s\n", g_failed ? "FAILED: a non-portable variant differs from ggml" : "OK: bit-identical to ggml");
    return g_failed ? 1 : 0;
}
