// The run subcommand: prompt text (or ids) → tokens → generate → streaming UTF-8-safe text on stdout,
// cut at stop strings; speed figures on stderr at the end. A diffusion model instead fills a canvas of masks over
// its steps (runtime/diffusion.h), shown filling in on a terminal, and prints the text when it is done.
#include "cli/run.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/model_options.h"
#include "cli/output_format_options.h"
#include "runtime/diffusion.h"
#include "runtime/generate.h"
#include "runtime/stop_strings.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace loom::cli {
namespace {

struct RunOptions {
    ModelOptions model;
    std::string prompt = "The history of the printing press";
    std::string prompt_file, tokens;
    bool parse_special = true;
    bool show_prompt = true;
    bool quiet = false;
    std::vector<std::string> stop;
    OutputFormatOptions output;  // --grammar-file, --json-schema
    runtime::DiffusionSettings diffusion;
    runtime::GenerateOptions gen = [] {
        runtime::GenerateOptions g;
        g.n_predict = 128;  // bounded by default, so the README's command ends
        return g;
    }();
};

// The generated part of a canvas as text, up to the first end-of-generation token.
std::string canvas_text(const tokenizer::Vocab& vocab, std::span<const int32_t> generated) {
    tokenizer::StreamingDecoder decoder(vocab);
    const auto& eog = vocab.eog_ids();
    std::string text;
    for (int32_t t : generated) {
        if (std::find(eog.begin(), eog.end(), t) != eog.end()) break;
        text += decoder.push(t);
    }
    return text + decoder.flush();
}

Status run_diffusion(RunOptions& o, const runtime::Model& model, const tokenizer::Vocab& vocab,
                     std::span<const int32_t> prompt, const std::string& prompt_text) {
    if (o.gen.n_predict < 1)
        return Error::invalid("{} generates a canvas of fixed length: give -n (positions to fill)", model.arch().name);
    int rounded = 0;
    LOOM_TRY(runtime::DiffusionParams d,
             runtime::plan_diffusion(o.diffusion, int64_t(prompt.size()), o.gen.n_predict, &rounded));
    if (rounded != o.diffusion.steps && d.block_length > 0 && !o.quiet) {
        const int64_t n_filled = (d.max_length - int64_t(prompt.size()) + d.block_length - 1) / d.block_length;
        fmt::print(stderr, "loom: {} diffusion steps: {} for each of the {} blocks of {} positions\n", rounded,
                   rounded / n_filled, n_filled, d.block_length);
    }
    const auto& s = o.gen.sampling;
    d.temperature = s.temperature;
    d.top_k = s.top_k;
    d.top_p = s.top_p;
    d.seed = runtime::resolve_seed(s.seed);
    LOOM_TRY(runtime::SessionOptions so, o.model.session_options(model, d.max_length));
    LOOM_TRY(auto session, runtime::Session::create(model, so));
    if (o.show_prompt) fmt::print("{}", prompt_text);
    std::fflush(stdout);
    const bool live = !o.quiet && isatty(STDERR_FILENO);
    const auto t0 = std::chrono::steady_clock::now();
    int passes = 0;
    LOOM_TRY(std::vector<int32_t> canvas,
             runtime::diffusion_generate(*session, prompt, d, [&](const runtime::DiffusionProgress& p) {
                 ++passes;
                 if (!live) return;
                 std::string preview = canvas_text(vocab, p.canvas.subspan(prompt.size()));
                 for (char& ch : preview)
                     if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
                 if (preview.size() > 100) preview = preview.substr(preview.size() - 100);
                 fmt::print(stderr, "\r\x1b[2Kblock {}/{} step {}/{}, {} masked: {}", p.block + 1, p.n_blocks,
                            p.step + 1, p.steps_per_block, p.n_masked, preview);
             }));
    if (live) fmt::print(stderr, "\r\x1b[2K");
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const std::string text = canvas_text(vocab, std::span<const int32_t>(canvas).subspan(prompt.size()));
    fmt::print("{}\n", text);
    std::fflush(stdout);  // the text before the summary on stderr
    if (!o.quiet)
        fmt::print(stderr,
                   "\nloom: diffusion over {} positions ({} prompt): {} passes in {:.2f} s ({:.2f} steps/s, "
                   "{:.1f} tok/s of canvas), seed {}\n",
                   d.max_length, prompt.size(), passes, secs, passes / secs,
                   double(d.max_length - int64_t(prompt.size())) / secs, d.seed);
    return Ok();
}

Status run(RunOptions& o) {
    LOOM_TRY(auto model, o.model.load_model());
    LOOM_TRY(tokenizer::Vocab vocab, tokenizer::Vocab::load(model->file()));
    tokenizer::Tokenizer tok(vocab);
    std::vector<int32_t> prompt;
    std::string prompt_text = o.prompt;
    if (!o.prompt_file.empty()) {
        std::ifstream in(o.prompt_file, std::ios::binary);
        if (!in) return Error::io("{}: cannot open the prompt file", o.prompt_file);
        std::stringstream ss;
        ss << in.rdbuf();
        prompt_text = ss.str();
    }
    if (!o.tokens.empty()) {
        LOOM_TRY(prompt, parse_token_list(o.tokens));
        prompt_text = tok.decode(prompt);
    } else {
        LOOM_TRY(prompt, tok.encode(prompt_text, /*add_special=*/true, o.parse_special));
    }
    if (model->diffusion()) {
        if (!o.output.grammar_file.empty() || !o.output.json_schema.empty())
            return Error::unsupported("--grammar-file / --json-schema: not available for diffusion models");
        return run_diffusion(o, *model, vocab, prompt, prompt_text);
    }
    LOOM_TRY(runtime::SessionOptions so, o.model.session_options(*model));
    so.n_batch = o.gen.n_batch;
    LOOM_TRY(auto session, runtime::Session::create(*model, so));
    o.gen.eog = vocab.eog_ids();
    LOOM_RETURN_IF_ERROR(o.output.apply(vocab, int32_t(model->n_vocab()), o.gen));
    LOOM_RETURN_IF_ERROR(o.gen.sampling.validate(int32_t(model->n_vocab())));
    o.gen.sampling.seed = runtime::resolve_seed(o.gen.sampling.seed);

    if (o.show_prompt) {
        fmt::print("{}", prompt_text);
        std::fflush(stdout);
    }
    tokenizer::StreamingDecoder decoder(vocab);
    runtime::StopMatcher stops(o.stop);
    auto emit = [](const std::string& s) {
        if (s.empty()) return;
        std::fwrite(s.data(), 1, s.size(), stdout);
        std::fflush(stdout);
    };
    LOOM_TRY(runtime::GenerateStats st, runtime::generate(*session, prompt, o.gen, [&](int32_t token) {
                 runtime::StopResult r = stops.feed(decoder.push(token));
                 emit(r.text);
                 return !r.stopped;
             }));
    if (!stops.stopped()) emit(stops.feed(decoder.flush()).text + stops.flush().text);
    fmt::print("\n");
    if (!o.quiet) {
        const double decode_tps = st.n_generated > 1 ? double(st.n_generated - 1) / st.generate_seconds : 0.0;
        fmt::print(stderr,
                   "\nloom: prompt {} tokens in {:.2f} s ({:.1f} tok/s), generated {} tokens ({:.1f} tok/s), seed {}\n",
                   st.n_prompt, st.prompt_seconds, double(st.n_prompt) / st.prompt_seconds, st.n_generated, decode_tps,
                   o.gen.sampling.seed);
    }
    return Ok();
}

}  // namespace

void add_run_command(CLI::App& app) {
    auto o = std::make_shared<RunOptions>();
    CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt, streaming it to stdout");
    o->model.add_to(*cmd);
    cmd->add_option("-p,--prompt", o->prompt, "Prompt text")->capture_default_str();
    cmd->add_option("-f,--file", o->prompt_file, "Read the prompt from a file");
    cmd->add_option("--tokens", o->tokens, "Prompt as token ids (e.g. 2,651,1234) instead of text");
    add_generation_options(*cmd, o->gen, o->stop);
    o->output.add_to(*cmd);
    cmd->add_flag("!--no-special", o->parse_special, "Treat special-token text in the prompt as plain text");
    cmd->add_flag("!--no-display-prompt", o->show_prompt, "Do not echo the prompt");
    cmd->add_flag("-q,--quiet", o->quiet, "No speed summary on stderr");
    auto& d = o->diffusion;
    cmd->add_option("--diffusion-steps", d.steps, "Diffusion models: denoising passes in all")->capture_default_str();
    cmd->add_option("--diffusion-block-length", d.block_length,
                    "Diffusion models: positions per block of the block schedule")
        ->capture_default_str();
    cmd->add_option("--diffusion-eps", d.eps, "Diffusion models: > 0 picks the timestep schedule with this eps");
    cmd->add_option("--diffusion-algorithm", d.algorithm,
                    "Diffusion models: which positions unmask first: confidence, entropy, margin, random, origin")
        ->capture_default_str();
    cmd->callback([o] {
        if (auto st = run(*o); !st.ok()) {
            fmt::print(stderr, "loom: {}\n", st.error().message());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace loom::cli
