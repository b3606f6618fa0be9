// Tokenization throughput (MB/s of input text, single thread) on the default model's SentencePiece vocabulary
// and on the Llama 3 byte-level BPE vocabulary that scripts/setup.sh makes; a vocabulary that is absent is
// skipped. The text (~1 MB: prose, code, numbers, some CJK and emoji) is generated deterministically;
// LOOM_BENCH_TEXT_OUT=path writes it out so that another tokenizer (tools/bench_hf_tokenizers.py) can be
// timed on the same bytes.
//   build/release/bench/tokenizer_bench [--benchmark_filter=llama3]
// Measured on the 2-core dev machine (release, loaded by other jobs): loom 3.9 MiB/s (gemma3), 10.0 (llama3),
// 4.5 (deepseek-v3); HF tokenizers 0.23.3, one thread, same text and ids: 1.0-1.5 (llama3), 0.8-1.1 (deepseek-v3).
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "tokenizer/tokenizer.h"

namespace loom::tokenizer {
namespace {

const std::string& bench_text() {
    static const std::string text = [] {
        const char* words[] = {"the",       "of",      "and",   "to",      "in",    "is",     "that",
                               "for",       "it",      "with",  "as",      "was",   "on",     "tokenizer",
                               "inference", "engine",  "model", "weights", "don't", "it's",   "they're",
                               "Paris",     "München", "naïve", "café",    "東京",  "日本語", "🤖",
                               "42",        "3.14159", "2024",  "x[i]",    "+=",    "return", "std::vector<int>",
                               "{",         "}",       "(",     ")",       ";",     "=",      "->"};
        std::mt19937 rng(0x70C3);
        std::string t;
        while (t.size() < (1u << 20)) {
            const int n = 5 + int(rng() % 20);
            for (int i = 0; i < n; ++i) {
                if (i) t += rng() % 10 == 0 ? "  " : " ";
                t += words[rng() % std::size(words)];
            }
            t += rng() % 4 == 0 ? ".\n\n" : ". ";
        }
        if (const char* out = std::getenv("LOOM_BENCH_TEXT_OUT")) std::ofstream(out, std::ios::binary) << t;
        return t;
    }();
    return text;
}

struct Loaded {
    std::unique_ptr<Vocab> vocab;
    std::unique_ptr<Tokenizer> tok;
};

const Loaded* load(const std::string& name) {
    static std::map<std::string, Loaded> cache;
    auto it = cache.find(name);
    if (it != cache.end()) return it->second.tok ? &it->second : nullptr;
    Loaded& l = cache[name];
    std::string path;
    if (name == "gemma3") {
        if (auto p = default_model_path()) path = *p;
    } else if (auto d = models_dir()) {
        path = *d + "/vocab/" + name + ".gguf";
    }
    if (path.empty() || !std::filesystem::exists(path)) return nullptr;
    auto f = formats::GgufFile::open(path);
    if (!f) return nullptr;
    auto v = Vocab::load(*f);
    if (!v) return nullptr;
    l.vocab = std::make_unique<Vocab>(std::move(*v));
    l.tok = std::make_unique<Tokenizer>(*l.vocab);
    return &l;
}

void BM_Encode(benchmark::State& state, const std::string& name) {
    const Loaded* l = load(name);
    if (!l) {
        state.SkipWithError(("vocabulary " + name + " absent: run scripts/setup.sh").c_str());
        return;
    }
    const std::string& text = bench_text();
    size_t n_tokens = 0;
    for (auto _ : state) {
        auto ids = l->tok->encode(text, false, false);
        n_tokens = ids->size();
        benchmark::DoNotOptimize(ids);
    }
    state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(text.size()));
    state.counters["tokens"] = double(n_tokens);
}

BENCHMARK_CAPTURE(BM_Encode, gemma3, std::string("gemma3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, llama3, std::string("llama3"))->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_Encode, deepseek_v3, std::string("deepseek-v3"))->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace loom::tokenizer
