// loom's tokenizer against llama.cpp's ids, recorded by tools/record_tokenizer_goldens.py over a corpus of
// multilingual text, code, emoji, whitespace, numbers, special-token look-alikes, invalid UTF-8 and random
// strings (tests/data/tokenizer/PROVENANCE.md). Every case must match: 0 mismatches.
#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "synth/synth_model.h"
#include "tokenizer/tokenizer.h"
#include "unit/test_env.h"
#include "unit/tokenizer/corpus.h"
#include "unit/tokenizer/gz_lines.h"

namespace loom::tokenizer {
namespace {

// Where a vocabulary's GGUF lives: the default model for gemma3; gemma4-synth made here by `loom synth`'s
// code from its spec (as it was for the goldens); else the vocab-only files that scripts/setup.sh writes into
// <models dir>/vocab/.
std::string vocab_path(const std::string& name) {
    if (name == "gemma3") {
        auto p = default_model_path();
        return p ? *p : std::string();
    }
    if (name == "gemma4-synth") {
        static const std::string path = [] {
            synth::SynthOptions o;
            o.spec_path = tokenizer_data_dir() + "/gemma4-synth.toml";
            o.out_path = test::scratch_path("gemma4-synth.gguf");
            o.n_threads = 1;
            auto r = synth::synthesize(o);
            EXPECT_TRUE(r.ok()) << r.error().message();
            return r.ok() ? o.out_path : std::string();
        }();
        return path;
    }
    auto dir = models_dir();
    return dir ? *dir + "/vocab/" + name + ".gguf" : std::string();
}

std::string show(std::span<const int32_t> ids) {
    std::string s;
    for (int32_t id : ids) s += (s.empty() ? "" : " ") + std::to_string(id);
    return s;
}

// The vocabulary of a golden file, or a skip when set-up has not made it.
#define LOAD_VOCAB_OR_SKIP(name, vocab)                                                                    \
    const std::string path = vocab_path((name));                                                           \
    if (path.empty() || !std::filesystem::exists(path))                                                    \
        GTEST_SKIP() << "vocabulary " << (name) << " not found at '" << path << "': run scripts/setup.sh"; \
    auto f = formats::GgufFile::open(path);                                                                \
    ASSERT_TRUE(f.ok()) << f.error().message();                                                            \
    auto vocab = Vocab::load(*f); /* NOLINT(bugprone-macro-parentheses): declares the caller's name */     \
    ASSERT_TRUE((vocab).ok()) << (vocab).error().message()

class Golden : public testing::TestWithParam<const char*> {};

TEST_P(Golden, MatchesLlamaCpp) {
    const std::string name = GetParam();
    LOAD_VOCAB_OR_SKIP(name, vocab);
    const Tokenizer tok(*vocab);
    const auto& texts = corpus();
    ASSERT_FALSE(texts.empty()) << "no corpus in " << tokenizer_data_dir();
    const auto cases = read_gz_lines(tokenizer_data_dir() + "/" + name + ".ids.gz");
    ASSERT_FALSE(cases.empty());

    size_t mismatches = 0, n_ids = 0;
    for (const std::string& line : cases) {
        const size_t colon = line.find(':');
        std::istringstream head(line.substr(0, colon)), tail(line.substr(colon + 1));
        size_t index;
        int add, parse;
        head >> index >> add >> parse;
        std::vector<int32_t> want;
        for (int32_t id; tail >> id;) want.push_back(id);
        n_ids += want.size();
        ASSERT_LT(index, texts.size());
        auto got = tok.encode(texts[index], add != 0, parse != 0);
        const bool same = got.ok() && *got == want;
        if (!same && ++mismatches <= 10) {
            ADD_FAILURE() << name << " text " << index << " add=" << add << " parse=" << parse << " "
                          << nlohmann::json(texts[index]).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace)
                          << "\n  llama.cpp: " << show(want)
                          << "\n  loom:      " << (got.ok() ? show(*got) : got.error().message());
        }
    }
    EXPECT_EQ(mismatches, 0u) << "of " << cases.size() << " cases (" << n_ids << " ids)";
    std::printf("[ %s ] %zu cases, %zu ids, %zu mismatches\n", name.c_str(), cases.size(), n_ids, mismatches);
}

INSTANTIATE_TEST_SUITE_P(Vocabs, Golden,
                         testing::Values("gemma3", "llama3", "deepseek-v3", "qwen2", "qwen35", "llama3-pre-gpt-2",
                                         "llama3-pre-deepseek-llm", "llama3-pre-deepseek-coder", "llama3-pre-default",
                                         "llama3-pre-starcoder", "llama3-pre-falcon", "gemma4", "gemma4-synth"),
                         [](const auto& info) {
                             std::string s = info.param;
                             for (char& c : s)
                                 if (!isalnum(uint8_t(c))) c = '_';
                             return s;
                         });

// Every token: its piece (specials as text) tokenized again, as llama.cpp does it. Most ids come back as
// themselves; the recorded exceptions (e.g. byte tokens of a character that is a token, or pieces that
// merge differently) must give llama.cpp's ids.
class RoundTrip : public testing::TestWithParam<const char*> {};

TEST_P(RoundTrip, EveryTokenAsLlamaCpp) {
    const std::string name = GetParam();
    LOAD_VOCAB_OR_SKIP(name, vocab);
    const Tokenizer tok(*vocab);
    const auto lines = read_gz_lines(tokenizer_data_dir() + "/" + name + ".roundtrip.gz");
    ASSERT_FALSE(lines.empty());
    ASSERT_EQ(lines[0], "n_tokens " + std::to_string(vocab->n_tokens()));
    std::map<int32_t, std::vector<int32_t>> exceptions;
    for (size_t i = 1; i < lines.size(); ++i) {
        const size_t colon = lines[i].find(':');
        std::istringstream tail(lines[i].substr(colon + 1));
        auto& ids = exceptions[std::stoi(lines[i].substr(0, colon))];
        for (int32_t id; tail >> id;) ids.push_back(id);
    }
    size_t mismatches = 0;
    for (int32_t id = 0; id < vocab->n_tokens(); ++id) {
        auto it = exceptions.find(id);
        const std::vector<int32_t> want = it == exceptions.end() ? std::vector<int32_t>{id} : it->second;
        auto got = tok.encode(tok.token_to_piece(id, true), false, true);
        if ((!got.ok() || *got != want) && ++mismatches <= 10)
            ADD_FAILURE() << name << " token " << id << " '" << vocab->text(id) << "'\n  llama.cpp: " << show(want)
                          << "\n  loom:      " << (got.ok() ? show(*got) : got.error().message());
    }
    EXPECT_EQ(mismatches, 0u);
    std::printf("[ %s ] %d tokens, %zu not themselves after a round trip (as llama.cpp), %zu mismatches\n",
                name.c_str(), vocab->n_tokens(), exceptions.size(), mismatches);
}

INSTANTIATE_TEST_SUITE_P(Vocabs, RoundTrip,
                         testing::Values("gemma3", "llama3", "deepseek-v3", "qwen2", "qwen35", "gemma4",
                                         "gemma4-synth"),
                         [](const auto& info) {
                             std::string s = info.param;
                             for (char& c : s)
                                 if (!isalnum(uint8_t(c))) c = '_';
                             return s;
                         });

}  // namespace
}  // namespace loom::tokenizer
