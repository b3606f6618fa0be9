// The bench subcommand. As llama-bench: pp = one pass over n_prompt random tokens from an empty cache;
// tg = n_gen single-token passes from an empty cache; a warm-up pass first; mean ± sd over repetitions.
#include "cli/bench.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <tuple>

#include "cli/model_options.h"
#include "formats/gguf_reader.h"

namespace loom::cli {
namespace {

struct BenchOptions {
    ModelOptions model;
    int64_t n_prompt = 512, n_gen = 128;
    int reps = 5;
};

double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Resident memory of this process in MiB (Linux), 0 when unknown.
double rss_mib() {
    std::ifstream in("/proc/self/status");
    std::string key;
    while (in >> key) {
        if (key == "VmRSS:") {
            double kb = 0;
            in >> kb;
            return kb / 1024.0;
        }
        std::getline(in, key);
    }
    return 0;
}

std::string mean_sd(const std::vector<double>& v) {
    const double mean = std::accumulate(v.begin(), v.end(), 0.0) / double(v.size());
    double var = 0;
    for (double x : v) var += (x - mean) * (x - mean);
    const double sd = v.size() > 1 ? std::sqrt(var / double(v.size() - 1)) : 0.0;
    return fmt::format("{:.2f} ± {:.2f}", mean, sd);
}

Status run_bench(const BenchOptions& o) {
    const auto t_load = std::chrono::steady_clock::now();
    LOOM_TRY(auto model, o.model.load_model());
    const double load_s = seconds_since(t_load);
    if (o.n_prompt < 0 || o.n_gen < 0)
        return Error::invalid("-p {} -n {}: token counts cannot be negative (0 skips that test)", o.n_prompt, o.n_gen);
    LOOM_TRY(runtime::SessionOptions so, o.model.session_options(*model, std::max(o.n_prompt, o.n_gen),
                                                                 fmt::format("-p {} -n {}", o.n_prompt, o.n_gen)));
    LOOM_TRY(auto session, runtime::Session::create(*model, so));

    std::mt19937 rng(42);
    std::uniform_int_distribution<int32_t> pick(0, int32_t(model->n_vocab() - 1));
    auto random_tokens = [&](int64_t n) {
        std::vector<int32_t> t(static_cast<size_t>(n));
        for (auto& x : t) x = pick(rng);
        return t;
    };
    using Test = std::function<Result<double>()>;
    Test pp = [&]() -> Result<double> {
        LOOM_RETURN_IF_ERROR(session->truncate(0));
        const auto toks = random_tokens(o.n_prompt);
        const auto t0 = std::chrono::steady_clock::now();
        LOOM_RETURN_IF_ERROR(session->decode(runtime::Batch::sequence(toks, 0)));
        return double(o.n_prompt) / seconds_since(t0);
    };
    // A diffusion model has one kind of pass, a bidirectional denoising step over the whole canvas: "pp" times it
    // (steps/s = t/s over the canvas length); it has no token-by-token generation to time.
    int64_t n_gen = o.n_gen;
    if (model->diffusion()) {
        pp = [&]() -> Result<double> {
            const auto toks = random_tokens(o.n_prompt);
            const auto t0 = std::chrono::steady_clock::now();
            LOOM_RETURN_IF_ERROR(session->stateless(toks));
            return double(o.n_prompt) / seconds_since(t0);
        };
        n_gen = 0;
    }
    Test tg = [&]() -> Result<double> {
        LOOM_RETURN_IF_ERROR(session->truncate(0));
        const auto toks = random_tokens(o.n_gen);
        const auto t0 = std::chrono::steady_clock::now();
        for (int64_t i = 0; i < o.n_gen; ++i)
            LOOM_RETURN_IF_ERROR(session->decode(runtime::Batch::sequence({&toks[size_t(i)], 1}, int32_t(i))));
        return double(o.n_gen) / seconds_since(t0);
    };

    std::string type = "?";
    if (auto ft = model->file().get_int("general.file_type"); ft.ok()) type = fmt::format("file type {}", *ft);
    fmt::print("model: {} ({}), {:.2f} GiB of weights, {:.2f} B params, arch {}\n", model->file().source(), type,
               double(model->weight_bytes()) / (1 << 30), double(model->n_params()) / 1e9, model->arch().name);
    const exec::Memory& mem = session->memory();
    fmt::print("threads: {}, backend: {}, kv cache: {} ({:.1f} MiB for {} positions), load: {:.2f} s ({})\n",
               session->n_threads(), o.model.backend, o.model.kv_type, double(mem.kv_bytes_per_seq()) / (1 << 20),
               so.n_ctx, load_s, o.model.load);
    if (mem.has_recurrent())
        fmt::print("recurrent state: {:.2f} MiB per sequence (beside {:.1f} MiB of KV cache at {} positions)\n",
                   double(mem.state_bytes_per_seq()) / (1 << 20), double(mem.kv_bytes_per_seq()) / (1 << 20), so.n_ctx);
    if (model->n_packed() > 0)
        fmt::print("packed weights: {} tensors, {:.0f} MiB (file pages released: {:.0f} MiB)\n", model->n_packed(),
                   double(model->packed_bytes()) / (1 << 20), double(model->released_bytes()) / (1 << 20));
    fmt::print("| test   |            t/s |\n|--------|---------------:|\n");
    if (model->diffusion())
        fmt::print("diffusion model: pp{} is one denoising step over a canvas of {} tokens; no tg\n", o.n_prompt,
                   o.n_prompt);
    const std::tuple<const char*, int64_t, Test> tests[] = {{"pp", o.n_prompt, pp}, {"tg", n_gen, tg}};
    for (const auto& [name, n, fn] : tests) {
        if (n <= 0) continue;
        LOOM_RETURN_IF_ERROR(fn());  // warm-up: page in the weights, size the arena
        std::vector<double> rates;
        for (int r = 0; r < std::max(1, o.reps); ++r) {
            LOOM_TRY(double rate, fn());
            rates.push_back(rate);
        }
        fmt::print("| {}{:<4} | {:>14} |\n", name, n, mean_sd(rates));
    }
    fmt::print("resident memory: {:.0f} MiB\n", rss_mib());
    return Ok();
}

}  // namespace

void add_bench_command(CLI::App& app) {
    auto o = std::make_shared<BenchOptions>();
    CLI::App* cmd = app.add_subcommand("bench", "Prompt processing and generation speed (like llama-bench)");
    o->model.add_to(*cmd);
    cmd->add_option("-p,--n-prompt", o->n_prompt, "Prompt tokens (0 = skip)")->capture_default_str();
    cmd->add_option("-n,--n-gen", o->n_gen, "Generated tokens (0 = skip)")->capture_default_str();
    cmd->add_option("-r,--repetitions", o->reps, "Repetitions")->capture_default_str();
    cmd->callback([o] {
        if (auto s = run_bench(*o); !s.ok()) {
            fmt::print(stderr, "loom: {}\n", s.error().message());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace loom::cli
