// A SentencePiece tokenizer.model with the Hugging Face files beside it gives, through the directory loader's
// tokenizer step (runtime::add_tokenizer_metadata, RawVocab::from_spm), the tokenizer keys llama.cpp's converter
// writes, key for key: (1) sentencepiece's own test model with added tokens, vocab_size padding and special-token
// files, against what the pinned converter made of the same directory (tests/data/tokenizer/spm/PROVENANCE.md);
// (2) Gemma 3's vocabulary, as a tokenizer.model and JSON files written here from the default model's GGUF, against
// that GGUF, and the same ids over the tokenizer corpus.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <nlohmann/json.hpp>

#include "arch/hf_map.h"
#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "runtime/hf_metadata.h"
#include "tokenizer/tokenizer.h"
#include "unit/test_env.h"
#include "unit/tokenizer/corpus.h"
#include "unit/tokenizer/spm_bytes.h"
#include "unit/tokenizer/vocab_keys.h"

namespace loom::tokenizer {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using formats::GgufValue;
using vocab_check::expect_same_ids;
using vocab_check::expect_same_keys;
using vocab_check::tokenizer_keys;
using vocab_check::vocab_of;

// A family map that reads tokenizer.model with this add_space_prefix.
arch::HfMap spm_map(std::optional<bool> add_space_prefix) {
    arch::HfMap m;
    m.sentencepiece = arch::HfSentencePiece{add_space_prefix};
    return m;
}

TEST(SpmVocab, SameKeysAsThePinnedConverter) {
    const std::string dir = tokenizer_data_dir() + "/spm/dir";
    auto config = runtime::read_hf_config(dir);
    ASSERT_TRUE(config.ok()) << config.error().message();
    formats::GgufWriter w;
    auto s = runtime::add_tokenizer_metadata(dir, *config, spm_map(std::nullopt), w);
    ASSERT_TRUE(s.ok()) << s.error().message();
    auto ref = formats::GgufFile::open(tokenizer_data_dir() + "/spm/reference.gguf");
    ASSERT_TRUE(ref.ok()) << ref.error().message();
    expect_same_keys(tokenizer_keys(w), tokenizer_keys(*ref));

    auto got = vocab_of(w);
    ASSERT_TRUE(got.ok()) << got.error().message();
    auto want = Vocab::load(*ref);
    ASSERT_TRUE(want.ok()) << want.error().message();
    expect_same_ids(*got, *want, corpus().size());  // most texts have a character this small vocabulary lacks
}

// Gemma 3's GGUF as the Hugging Face files it was converted from: every token a piece of tokenizer.model; the
// control and user-defined ones listed again in tokenizer_config.json's added_tokens_decoder (as Gemma 3's are),
// which is what gives them their type and score -1000: their pieces are written with score 0 and user-defined
// pieces would otherwise count as normal, so a missed step shows. Special ids and flags come the way Gemma 3's
// files give them: texts in tokenizer_config.json found among tokenizer.json's added tokens, its post-processor.
void write_gemma3_like(const formats::GgufFile& f, const std::string& dir) {
    auto tokens = f.get_string_array("tokenizer.ggml.tokens");
    auto scores = f.get_array<float>("tokenizer.ggml.scores");
    auto types = f.get_array<int32_t>("tokenizer.ggml.token_type");
    ASSERT_TRUE(tokens.ok() && scores.ok() && types.ok());
    auto id = [&](const char* k) { return *f.get_int(std::string("tokenizer.ggml.") + k); };
    auto text = [&](int64_t i) { return std::string((*tokens)[size_t(i)]); };
    const int64_t unk = id("unknown_token_id");

    testutil::ProtoBytes model;
    json decoder = json::object(), added = json::array();
    for (size_t i = 0; i < tokens->size(); ++i) {
        const int32_t t = (*types)[i];
        const bool listed = t == 3 || t == 4;
        model.bytes(1, testutil::spm_piece((*tokens)[i], listed ? 0.f : (*scores)[i], int64_t(i) == unk ? 2 : t));
        if (!listed) continue;
        decoder[std::to_string(i)] = {{"content", text(int64_t(i))}, {"special", t == 3}};
        if (t == 3) added.push_back({{"id", i}, {"content", text(int64_t(i))}, {"special", true}});
    }
    testutil::ProtoBytes trainer, normalizer;
    trainer.uint(3, 2).uint(35, 1).uint(40, uint64_t(unk)).uint(41, uint64_t(id("bos_token_id")));
    normalizer.uint(3, 0);
    model.bytes(2, trainer.str()).bytes(3, normalizer.str());
    std::ofstream(dir + "/tokenizer.model", std::ios::binary) << model.str();

    const std::string bos = text(id("bos_token_id")), eos = text(id("eos_token_id"));
    json cfg = {{"added_tokens_decoder", decoder},
                {"bos_token", bos},
                {"eos_token", eos},
                {"unk_token", text(unk)},
                {"pad_token", text(id("padding_token_id"))},
                {"add_bos_token", *f.get<bool>("tokenizer.ggml.add_bos_token")},
                {"add_eos_token", *f.get<bool>("tokenizer.ggml.add_eos_token")}};
    if (auto t = f.get_string("tokenizer.chat_template"); t.ok()) cfg["chat_template"] = std::string(*t);
    std::ofstream(dir + "/tokenizer_config.json") << cfg.dump();
    const std::string b = json(bos).dump();
    const json post = json::parse(fmt::format(
        R"({{"type": "TemplateProcessing", "single": [{{"SpecialToken": {{"id": {0}}}}}, {{"Sequence": {{"id": "A"}}}}],
             "pair": [{{"SpecialToken": {{"id": {0}}}}}, {{"Sequence": {{"id": "A"}}}}, {{"SpecialToken": {{"id": {0}}}}},
                      {{"Sequence": {{"id": "B"}}}}]}})",
        b));
    std::ofstream(dir + "/tokenizer.json") << json{{"added_tokens", added}, {"post_processor", post}}.dump();
    // config.json's eos_token_id is a list in Gemma 3's: SpecialVocab takes integers only.
    json config = json::object();
    config["architectures"] = json::array({"Gemma3ForCausalLM"});
    config["vocab_size"] = tokens->size();
    config["bos_token_id"] = id("bos_token_id");
    config["eos_token_id"] = json::array({id("eos_token_id"), 106});
    std::ofstream(dir + "/config.json") << config.dump();
}

TEST(SpmVocab, Gemma3DirectoryGivesItsGgufKeysAndIds) {
    auto path = default_model_path();
    if (!path.ok()) GTEST_SKIP() << path.error().message();
    auto f = formats::GgufFile::open(*path);
    ASSERT_TRUE(f.ok()) << f.error().message();
    const std::string dir = test::scratch_path("spm-gemma3");
    fs::remove_all(dir);
    fs::create_directories(dir);
    write_gemma3_like(*f, dir);
    auto config = runtime::read_hf_config(dir);
    ASSERT_TRUE(config.ok()) << config.error().message();
    formats::GgufWriter w;
    auto s = runtime::add_tokenizer_metadata(dir, *config, spm_map(false), w);
    ASSERT_TRUE(s.ok()) << s.error().message();
    expect_same_keys(tokenizer_keys(w), tokenizer_keys(*f));

    auto got = vocab_of(w);
    ASSERT_TRUE(got.ok()) << got.error().message();
    auto want = Vocab::load(*f);
    ASSERT_TRUE(want.ok());
    expect_same_ids(*got, *want, corpus().size());
    fs::remove_all(dir);
}

}  // namespace
}  // namespace loom::tokenizer
