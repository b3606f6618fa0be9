// Shared model options and their parsing.
#include "cli/model_options.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/default_model.h"

namespace loom::cli {

void ModelOptions::add_to(CLI::App& cmd) {
    cmd.add_option("-m,--model", model,
                   "GGUF model file, or a Hugging Face model directory (config.json, *.safetensors, tokenizer files) "
                   "(default: the default model, see `loom inspect`)");
    cmd.add_option("-t,--threads", n_threads, "Threads (0 = every core)")->capture_default_str();
    cmd.add_option("-c,--ctx-size", n_ctx,
                   fmt::format("Context size in tokens (KV cache positions); 0: {}, or the model's training context "
                               "when smaller. Above the training context: allowed, with a warning",
                               kDefaultCtx))
        ->capture_default_str();
    cmd.add_option("--kv-type", kv_type, "KV cache type: f16 or f32")->capture_default_str();
    cmd.add_option("--backend", backend, "Kernels: cpu (fast) or ref (scalar reference)")->capture_default_str();
    cmd.add_option("--arch-file", arch_file, "Use this .arch.toml instead of archs/<general.architecture>.arch.toml");
    cmd.add_option("--load", load, "How weights reach memory: map (mmap), populate (mmap, prefaulted), read (copy)")
        ->capture_default_str();
    cmd.add_option(
           "--pack", pack,
           "Matmul weights in the CPU kernels' packed layouts where they have one (same results, faster): on, off")
        ->capture_default_str();
    cmd.add_option(
        "--quantize", quantize,
        "A Hugging Face directory's weights quantized at load to this type (q8_0, q4_0, q4_k, q6_k, ...; "
        "norms, routers and 1-D tensors stay as loaded, output.weight gets q6_k as llama-quantize gives it)");
}

void add_generation_options(CLI::App& cmd, runtime::GenerateOptions& gen, std::vector<std::string>& stop) {
    auto& s = gen.sampling;
    cmd.add_option("-n,--n-predict", gen.n_predict, "Tokens to generate (-1 = until end of generation)")
        ->capture_default_str();
    cmd.add_option("-b,--batch-size", gen.n_batch, "Prompt tokens per forward pass")->capture_default_str();
    cmd.add_option("--temp", s.temperature, "Temperature (0 = greedy)")->capture_default_str();
    cmd.add_option("--top-k", s.top_k, "Top-k (0 = off)")->capture_default_str();
    cmd.add_option("--top-p", s.top_p, "Top-p (1 = off)")->capture_default_str();
    cmd.add_option("--min-p", s.min_p, "Min-p (0 = off)")->capture_default_str();
    cmd.add_option("--repeat-penalty", s.repeat_penalty, "Repetition penalty (1 = off)")->capture_default_str();
    cmd.add_option("--repeat-last-n", s.repeat_last_n, "Tokens the penalties look back at")->capture_default_str();
    cmd.add_option("--presence-penalty", s.presence_penalty, "Presence penalty")->capture_default_str();
    cmd.add_option("--frequency-penalty", s.frequency_penalty, "Frequency penalty")->capture_default_str();
    cmd.add_option("-s,--seed", s.seed, "Sampling seed (same seed, same text)")->capture_default_str();
    cmd.add_option("--stop", stop, "Stop when this text is generated (repeatable); it is not printed");
}

Result<std::unique_ptr<runtime::Model>> ModelOptions::load_model() const {
    runtime::LoadOptions lo;
    lo.arch_file = arch_file;
    if (load == "map") lo.mode = formats::LoadMode::map;
    else if (load == "populate") lo.mode = formats::LoadMode::populate;
    else if (load == "read") lo.mode = formats::LoadMode::read;
    else return Error::invalid("--load '{}': use map, populate or read", load);
    if (pack != "on" && pack != "off") return Error::invalid("--pack '{}': use on or off", pack);
    lo.pack = pack == "on" && backend == "cpu";  // the reference kernels read the GGUF layout only
    lo.quantize = quantize;
    std::string path = model;
    if (path.empty()) {
        LOOM_TRY(path, default_model_path());
    }
    progress(fmt::format("loading {}", path));
    if (isatty(STDERR_FILENO)) {
        lo.progress = [path](uint64_t done, uint64_t total) {
            progress(fmt::format("loading {}: {:3d}% ({} / {} MiB)", path,
                                 int(100 * done / std::max<uint64_t>(total, 1)), done >> 20, total >> 20));
        };
    }
    auto m = runtime::Model::load(path, lo);
    progress_done();
    return m;
}

Result<runtime::SessionOptions> ModelOptions::session_options(const runtime::Model& model, int64_t need,
                                                              const std::string& need_what) const {
    runtime::SessionOptions so;
    so.n_threads = n_threads;
    if (n_ctx < 0)
        return Error::invalid("-c {}: a context size is a number of positions, at least 1 (0: the default)", n_ctx);
    const int64_t train = model.n_ctx_train();
    so.n_ctx = n_ctx > 0 ? n_ctx : std::min(kDefaultCtx, train);
    std::string what = fmt::format("-c {}", n_ctx);
    if (need > so.n_ctx) so.n_ctx = need, what = need_what;
    // Positions past the training context are extrapolation (rope angles the model never saw), which a user may
    // want to measure or try; so it is allowed, and said.
    if (so.n_ctx > train) {
        so.n_ctx_over_train = true;
        fmt::print(stderr,
                   "loom: warning: {} needs a context of {} positions, above the {} the model was trained for; output "
                   "past position {} may degrade\n",
                   what, so.n_ctx, train, train);
    }
    auto t = dtype_from_name(kv_type);
    if (!t || (*t != DType::f16 && *t != DType::f32)) return Error::invalid("--kv-type '{}': use f16 or f32", kv_type);
    so.kv_type = *t;
    if (backend == "cpu") so.backend = kernels::Backend::cpu;
    else if (backend == "ref") so.backend = kernels::Backend::ref;
    else return Error::invalid("--backend '{}': use cpu or ref", backend);
    return so;
}

Result<std::vector<int32_t>> parse_token_list(const std::string& text) {
    std::vector<int32_t> out;
    std::string cur;
    auto flush = [&]() -> Status {
        if (cur.empty()) return Ok();
        char* end = nullptr;
        const long long v = std::strtoll(cur.c_str(), &end, 10);
        if (*end != '\0' || v < 0 || v > INT32_MAX) return Error::invalid("token list: '{}' is not a token id", cur);
        out.push_back(int32_t(v));
        cur.clear();
        return Ok();
    };
    for (char c : text) {
        if (c == ',' || c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '[' || c == ']') {
            LOOM_RETURN_IF_ERROR(flush());
        } else {
            cur.push_back(c);
        }
    }
    LOOM_RETURN_IF_ERROR(flush());
    if (out.empty()) return Error::invalid("token list is empty");
    return out;
}

Result<std::vector<int32_t>> read_token_file(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Error::io("{}: cannot open", path);
    std::stringstream ss;
    ss << in.rdbuf();
    auto r = parse_token_list(ss.str());
    if (!r.ok()) return std::move(r).error().with_context(path);
    return r;
}

void progress(const std::string& what) {
    if (isatty(STDERR_FILENO)) fmt::print(stderr, "\r{}...", what);
}

void progress_done() {
    if (isatty(STDERR_FILENO)) fmt::print(stderr, "\r\033[K");
}

}  // namespace loom::cli
