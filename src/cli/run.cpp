// The run subcommand: prompt text (or ids) → tokens → generate → streaming UTF-8-safe text on stdout,
// cut at stop strings; speed figures on stderr at the end.
#include "cli/run.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/model_options.h"
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
    runtime::GenerateOptions gen = [] {
        runtime::GenerateOptions g;
        g.n_predict = 128;  // bounded by default, so the README's command ends
        return g;
    }();
};

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
    LOOM_TRY(runtime::SessionOptions so, o.model.session_options(*model));
    LOOM_TRY(auto session, runtime::Session::create(*model, so));
    o.gen.eog = vocab.eog_ids();
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
    auto& s = o->gen.sampling;
    cmd->add_option("-p,--prompt", o->prompt, "Prompt text")->capture_default_str();
    cmd->add_option("-f,--file", o->prompt_file, "Read the prompt from a file");
    cmd->add_option("--tokens", o->tokens, "Prompt as token ids (e.g. 2,651,1234) instead of text");
    cmd->add_option("-n,--n-predict", o->gen.n_predict, "Tokens to generate (-1 = until end of generation)")
        ->capture_default_str();
    cmd->add_option("-b,--batch-size", o->gen.n_batch, "Prompt tokens per forward pass")->capture_default_str();
    cmd->add_option("--temp", s.temperature, "Temperature (0 = greedy)")->capture_default_str();
    cmd->add_option("--top-k", s.top_k, "Top-k (0 = off)")->capture_default_str();
    cmd->add_option("--top-p", s.top_p, "Top-p (1 = off)")->capture_default_str();
    cmd->add_option("--min-p", s.min_p, "Min-p (0 = off)")->capture_default_str();
    cmd->add_option("--repeat-penalty", s.repeat_penalty, "Repetition penalty (1 = off)")->capture_default_str();
    cmd->add_option("--repeat-last-n", s.repeat_last_n, "Tokens the penalties look back at")->capture_default_str();
    cmd->add_option("--presence-penalty", s.presence_penalty, "Presence penalty")->capture_default_str();
    cmd->add_option("--frequency-penalty", s.frequency_penalty, "Frequency penalty")->capture_default_str();
    cmd->add_option("-s,--seed", s.seed, "Sampling seed (same seed, same text)")->capture_default_str();
    cmd->add_option("--stop", o->stop, "Stop when this text is generated (repeatable); it is not printed");
    cmd->add_flag("!--no-special", o->parse_special, "Treat special-token text in the prompt as plain text");
    cmd->add_flag("!--no-display-prompt", o->show_prompt, "Do not echo the prompt");
    cmd->add_flag("-q,--quiet", o->quiet, "No speed summary on stderr");
    cmd->callback([o] {
        if (auto st = run(*o); !st.ok()) {
            fmt::print(stderr, "loom: {}\n", st.error().message());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace loom::cli
