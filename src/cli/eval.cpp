// The eval subcommand: tokens → cached (or stateless) forward passes with logits at every position →
// log-softmax in double → top-K per position as JSON lines on stdout. --dump writes named intermediates
// of the pass to a GGUF file for layer-by-layer comparison.
#include "cli/eval.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/model_options.h"
#include "core/glob.h"
#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "runtime/sampler.h"

namespace loom::cli {
namespace {

struct EvalOptions {
    ModelOptions model;
    std::string tokens, tokens_file;
    int top_k = 10;
    int64_t n_batch = 512;
    bool stateless = false;
    std::string dump, dump_file = "loom-dump.gguf";
};

std::vector<std::string> split(const std::string& s, char sep) {
    std::vector<std::string> out;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i)
        if (i == s.size() || s[i] == sep) {
            if (i > start) out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    return out;
}

Status run_eval(const EvalOptions& o) {
    std::vector<int32_t> tokens;
    if (!o.tokens.empty()) {
        LOOM_TRY(tokens, parse_token_list(o.tokens));
    } else if (!o.tokens_file.empty()) {
        LOOM_TRY(tokens, read_token_file(o.tokens_file));
    } else {
        return Error::invalid("eval: no tokens to score: give --tokens or --tokens-file");
    }
    if (o.top_k < 1) return Error::invalid("--top-k {}: must be at least 1 (alternatives listed per token)", o.top_k);
    LOOM_TRY(auto model, o.model.load_model());
    LOOM_TRY(runtime::SessionOptions so,
             o.model.session_options(*model, int64_t(tokens.size()), fmt::format("{} tokens", tokens.size())));
    // Dumps come from one pass over every token, so the memory must take them at once.
    so.n_batch = o.dump.empty() ? std::max<int64_t>(1, o.n_batch) : std::max<int64_t>(1, int64_t(tokens.size()));
    LOOM_TRY(auto session, runtime::Session::create(*model, so));

    std::vector<std::string> patterns = split(o.dump, ',');
    formats::GgufWriter dump;
    int64_t n_dumped = 0;
    if (!patterns.empty()) {
        session->set_dump([&](const std::string& name, const TensorView& t) {
            if (std::none_of(patterns.begin(), patterns.end(), [&](auto& p) { return glob_match(p, name); })) return;
            const TensorView d = t.as_2d();
            std::vector<float> values(size_t(d.n_elements()));
            for (int64_t r = 0; r < d.n_rows(); ++r)
                std::copy_n(d.row<float>(r), d.row_length(), values.begin() + r * d.row_length());
            std::vector<int64_t> shape(t.shape.begin(), t.shape.begin() + t.rank);
            dump.add_tensor_f32(name, shape, values);
            ++n_dumped;
        });
    }

    // Piece text for the JSON: the vocabulary's own spelling of the token.
    std::vector<std::string_view> pieces;
    if (auto p = model->file().get_string_array("tokenizer.ggml.tokens"); p.ok()) pieces.assign(p->begin(), p->end());
    auto print_rows = [&](const TensorView& logits, int64_t first) {
        for (int64_t r = 0; r < logits.n_rows(); ++r) {
            const int64_t pos = first + r;
            nlohmann::json line;
            line["pos"] = pos;
            line["token"] = tokens[size_t(pos)];
            nlohmann::json top = nlohmann::json::array();
            for (const auto& [id, lp] :
                 runtime::top_logprobs({logits.row<float>(r), size_t(logits.row_length())}, o.top_k)) {
                top.push_back({{"id", id},
                               {"logprob", lp},
                               {"text", size_t(id) < pieces.size() ? std::string(pieces[size_t(id)]) : std::string()}});
            }
            line["top"] = std::move(top);
            fmt::print("{}\n", line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
        }
    };

    // A diffusion model has only the whole-sequence (bidirectional) pass.
    if (o.stateless || model->diffusion()) {
        LOOM_TRY(TensorView logits, session->stateless(tokens));
        print_rows(logits, 0);
    } else {
        // Dumps name one pass's tensors, so with --dump the whole sequence is one pass.
        const int64_t step = patterns.empty() ? std::max<int64_t>(1, o.n_batch) : int64_t(tokens.size());
        for (int64_t first = 0; first < int64_t(tokens.size()); first += step) {
            const int64_t n = std::min<int64_t>(step, int64_t(tokens.size()) - first);
            auto batch = runtime::Batch::sequence({tokens.data() + first, size_t(n)}, int32_t(first), 0, true);
            LOOM_TRY(TensorView logits, session->decode(batch));
            print_rows(logits, first);
        }
    }
    if (!patterns.empty()) {
        LOOM_RETURN_IF_ERROR(dump.write(o.dump_file));
        fmt::print(stderr, "loom: dumped {} tensors to {}\n", n_dumped, o.dump_file);
    }
    return Ok();
}

}  // namespace

void add_eval_command(CLI::App& app) {
    auto o = std::make_shared<EvalOptions>();
    CLI::App* cmd = app.add_subcommand("eval", "Top-K next-token logprobs at every position, as JSON lines");
    o->model.add_to(*cmd);
    cmd->add_option("--tokens", o->tokens, "Token ids, e.g. 1,2,3");
    cmd->add_option("--tokens-file", o->tokens_file, "A file of token ids (comma or whitespace separated)");
    cmd->add_option("--top-k", o->top_k, "Logprobs per position")->capture_default_str();
    cmd->add_option("-b,--batch-size", o->n_batch, "Tokens per forward pass")->capture_default_str();
    cmd->add_flag("--stateless", o->stateless,
                  "Recompute without a KV cache (the oracle path; always so for a diffusion model)");
    cmd->add_option("--dump", o->dump, "Write intermediates whose names match these globs (e.g. 'l0.*,logits')");
    cmd->add_option("--dump-file", o->dump_file, "Where --dump writes (GGUF, f32)")->capture_default_str();
    cmd->callback([o] {
        if (auto s = run_eval(*o); !s.ok()) {
            fmt::print(stderr, "loom: {}\n", s.error().message());
            throw CLI::RuntimeError(1);
        }
    });
}

}  // namespace loom::cli
