// A tokenizer.json BPE with byte fallback (Gemma 4's kind) gives, through the directory loader's tokenizer step
// (runtime::add_tokenizer_metadata with archs/gemma4.arch.toml's [hf] byte_fallback_bpe, RawVocab::
// from_hf_byte_fallback), the tokenizer keys of Gemma 4's GGUF vocabulary, key for key, and the same ids over the
// tokenizer corpus. The Hugging Face files are written here from that GGUF (llama.cpp's ggml-vocab-gemma-4.gguf,
// put in place by scripts/setup.sh), in two layouts: a current tokenizer_config.json (added_tokens_decoder, named,
// additional and extra special tokens) and a legacy one (no added_tokens_decoder; the tokenizer class's defaults and
// special_tokens_map.json). The pinned converter run over both directories (tools/make_hf_vocab_gguf.py, with
// transformers 4.57.6) writes that GGUF's keys too: tests/data/tokenizer/PROVENANCE.md.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "arch/arch_lookup.h"
#include "arch/hf_map.h"
#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "runtime/hf_metadata.h"
#include "unit/test_env.h"
#include "unit/tokenizer/vocab_keys.h"

namespace loom::tokenizer {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using vocab_check::expect_same_ids;
using vocab_check::expect_same_keys;
using vocab_check::tokenizer_keys;
using vocab_check::vocab_of;

enum class Layout { current, legacy };
void PrintTo(Layout l, std::ostream* os) { *os << (l == Layout::current ? "current" : "legacy"); }

// Gemma 4's real vocabulary, or "" (the test is skipped) when scripts/setup.sh has not put it in place.
std::string gemma4_vocab_path() {
    auto dir = models_dir();
    const std::string path = dir ? *dir + "/vocab/gemma4.gguf" : std::string();
    return !path.empty() && fs::exists(path) ? path : std::string();
}

// tokenizer.json, tokenizer_config.json, config.json (and for the legacy layout special_tokens_map.json) holding
// the vocabulary of `f` as a Hugging Face Gemma tokenizer stores it.
void write_gemma4_like(const formats::GgufFile& f, const std::string& dir, Layout layout) {
    const auto tokens = *f.get_string_array("tokenizer.ggml.tokens");
    const auto types = f.get_array<int32_t>("tokenizer.ggml.token_type")->to_vector();
    const auto merges = *f.get_string_array("tokenizer.ggml.merges");
    auto id = [&](const char* key) { return int64_t(*f.get<uint32_t>(std::string("tokenizer.ggml.") + key)); };
    auto text = [&](int64_t i) { return std::string(tokens[size_t(i)]); };

    json vocab = json::object();
    for (size_t i = 0; i < tokens.size(); ++i) vocab[std::string(tokens[i])] = i;
    json pairs = json::array();
    for (std::string_view m : merges) {
        const size_t sp = m.find(' ');
        pairs.push_back(json::array({std::string(m.substr(0, sp)), std::string(m.substr(sp + 1))}));
    }
    // Control and user-defined tokens are the added ones, all special; the five named ones aside, the control
    // tokens are additional special tokens (current layout: the first half listed, the rest named extras).
    const std::vector<int64_t> named = {id("bos_token_id"), id("eos_token_id"), id("unknown_token_id"),
                                        id("padding_token_id"), id("mask_token_id")};
    json added = json::array(), decoder = json::object(), additional = json::array(), extra = json::object();
    std::vector<std::string> others;
    for (size_t i = 0; i < tokens.size(); ++i) {
        if (types[i] != 3 && types[i] != 4) continue;
        const json entry = {{"content", std::string(tokens[i])},
                            {"lstrip", false},
                            {"normalized", false},
                            {"rstrip", false},
                            {"single_word", false},
                            {"special", true}};
        json with_id = entry;
        with_id["id"] = i;
        added.push_back(with_id);
        decoder[std::to_string(i)] = entry;
        if (types[i] == 3 && std::find(named.begin(), named.end(), int64_t(i)) == named.end())
            others.emplace_back(tokens[i]);
    }
    for (size_t k = 0; k < others.size(); ++k) {
        if (layout == Layout::legacy || k < others.size() / 2) additional.push_back(others[k]);
        else extra["extra_token_" + std::to_string(k)] = others[k];
    }
    const json tok = {
        {"version", "1.0"},
        {"truncation", nullptr},
        {"padding", nullptr},
        {"added_tokens", added},
        {"normalizer", {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", "\u2581"}}},
        {"pre_tokenizer",
         {{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", "MergedWithPrevious"}, {"invert", false}}},
        {"post_processor", nullptr},
        {"decoder",
         {{"type", "Sequence"},
          {"decoders", json::array({{{"type", "Replace"}, {"pattern", {{"String", "\u2581"}}}, {"content", " "}},
                                    {{"type", "ByteFallback"}},
                                    {{"type", "Fuse"}}})}}},
        {"model",
         {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", text(id("unknown_token_id"))},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", true},
          {"byte_fallback", true},
          {"ignore_merges", false},
          {"vocab", vocab},
          {"merges", pairs}}}};
    std::ofstream(dir + "/tokenizer.json") << tok.dump();

    json cfg = {{"tokenizer_class", "GemmaTokenizer"}, {"clean_up_tokenization_spaces", false}};
    json model_config = {{"architectures", json::array({"Gemma4ForCausalLM"})}, {"vocab_size", tokens.size()}};
    if (layout == Layout::current) {
        cfg["added_tokens_decoder"] = decoder;
        cfg["bos_token"] = text(id("bos_token_id"));
        cfg["eos_token"] = text(id("eos_token_id"));
        cfg["unk_token"] = text(id("unknown_token_id"));
        cfg["pad_token"] = text(id("padding_token_id"));
        cfg["mask_token"] = text(id("mask_token_id"));
        cfg["additional_special_tokens"] = additional;
        cfg["extra_special_tokens"] = extra;
        model_config["eos_token_id"] = json::array({id("eos_token_id"), 106});  // a list: SpecialVocab skips it
    } else {
        // GemmaTokenizerFast's defaults name <bos>, <eos>, <unk>, <pad>; SpecialVocab takes the ids from config.json.
        const json map = {{"mask_token", {{"content", text(id("mask_token_id"))}, {"special", true}}},
                          {"additional_special_tokens", additional}};
        std::ofstream(dir + "/special_tokens_map.json") << map.dump();
        for (const char* key : {"bos_token_id", "eos_token_id", "mask_token_id"}) model_config[key] = id(key);
        model_config["pad_token_id"] = id("padding_token_id");
        model_config["unk_token_id"] = id("unknown_token_id");
    }
    if (auto t = f.get_string("tokenizer.chat_template"); t.ok()) cfg["chat_template"] = std::string(*t);
    std::ofstream(dir + "/tokenizer_config.json") << cfg.dump();
    std::ofstream(dir + "/config.json") << model_config.dump();
}

class HfFallbackVocab : public testing::TestWithParam<Layout> {};

TEST_P(HfFallbackVocab, Gemma4DirectoryGivesItsGgufKeysAndIds) {
    const std::string path = gemma4_vocab_path();
    if (path.empty()) GTEST_SKIP() << "vocabulary gemma4 not found: run scripts/setup.sh";
    auto f = formats::GgufFile::open(path);
    ASSERT_TRUE(f.ok()) << f.error().message();
    // LOOM_KEEP_HF_VOCAB_DIR=DIR keeps the files there, for the converter (tools/make_hf_vocab_gguf.py).
    const char* keep = std::getenv("LOOM_KEEP_HF_VOCAB_DIR");
    const std::string name = GetParam() == Layout::current ? "gemma4-current" : "gemma4-legacy";
    const std::string dir = keep ? std::string(keep) + "/" + name : test::scratch_path("hf-fallback-" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    write_gemma4_like(*f, dir, GetParam());
    auto a = arch::load_arch_for("gemma4");
    ASSERT_TRUE(a.ok()) << a.error().message();
    ASSERT_TRUE(a->hf && a->hf->byte_fallback_bpe) << "gemma4.arch.toml has no [hf] byte_fallback_bpe";
    auto config = runtime::read_hf_config(dir);
    ASSERT_TRUE(config.ok()) << config.error().message();
    formats::GgufWriter w;
    auto s = runtime::add_tokenizer_metadata(dir, *config, *a->hf, w);
    ASSERT_TRUE(s.ok()) << s.error().message();
    expect_same_keys(tokenizer_keys(w), tokenizer_keys(*f));

    auto got = vocab_of(w);
    ASSERT_TRUE(got.ok()) << got.error().message();
    auto want = Vocab::load(*f);
    ASSERT_TRUE(want.ok());
    expect_same_ids(*got, *want, 2000);
    if (!keep) fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Layouts, HfFallbackVocab, testing::Values(Layout::current, Layout::legacy),
                         [](const auto& p) { return p.param == Layout::current ? "current" : "legacy"; });

// Llama checkpoints whose only tokenizer is a tokenizer.json BPE with byte fallback: the directories of
// tests/data/hf/byte-fallback-llama (tools/make_llama_fallback_dirs.py), one per way of naming the tokenizer class
// and its special tokens, each with the GGUF the pinned converter writes for it (reference.gguf: LlamaModel.set_vocab
// through tools/make_hf_vocab_gguf.py, transformers 4.57.6). archs/llama.arch.toml's [hf] gives its keys exactly:
// model "llama", pre "default", no merges, tokenizer_config.json's add_prefix_space, add_bos_token false for a
// 49152-token model, CodeLlama's eot; and the vocabularies tokenize alike.
class HfFallbackLlama : public testing::TestWithParam<const char*> {};

TEST_P(HfFallbackLlama, DirectoryGivesTheConvertersKeys) {
    const std::string dir = test::data_dir() + "/hf/byte-fallback-llama/" + GetParam();
    auto a = arch::load_arch_for("llama");
    ASSERT_TRUE(a.ok()) << a.error().message();
    ASSERT_TRUE(a->hf);
    auto config = runtime::read_hf_config(dir);
    ASSERT_TRUE(config.ok()) << config.error().message();
    formats::GgufWriter w;
    auto s = runtime::add_tokenizer_metadata(dir, *config, *a->hf, w);
    ASSERT_TRUE(s.ok()) << s.error().message();
    auto f = formats::GgufFile::open(dir + "/reference.gguf");
    ASSERT_TRUE(f.ok()) << f.error().message();
    expect_same_keys(tokenizer_keys(w), tokenizer_keys(*f));

    // CodeLlama's eot id (32010, the converter's fallback) lies beyond this small vocabulary, which loom refuses to
    // load; a real CodeLlama has 32016 tokens.
    if (std::string(GetParam()) == "codellama-tokenizer") return;
    auto got = vocab_of(w);
    ASSERT_TRUE(got.ok()) << got.error().message();
    auto want = Vocab::load(*f);
    ASSERT_TRUE(want.ok()) << want.error().message();
    expect_same_ids(*got, *want, 1000);
}

INSTANTIATE_TEST_SUITE_P(Classes, HfFallbackLlama,
                         testing::Values("llama-tokenizer", "fast-tokenizer", "mistral-legacy", "codellama-tokenizer"),
                         [](const auto& p) {
                             std::string name = p.param;
                             std::replace(name.begin(), name.end(), '-', '_');
                             return name;
                         });

// A small tokenizer.json of the same kind, for the reader's own rules and errors.
json small_tokenizer() {
    return json::parse(R"({
        "added_tokens": [{"id": 0, "content": "<pad>", "special": true}, {"id": 5, "content": "<extra>", "special": false},
                         {"id": 6, "content": "<ctl>", "special": true}],
        "decoder": {"type": "Sequence", "decoders": []},
        "model": {"type": "BPE", "byte_fallback": true,
                  "vocab": {"<pad>": 0, "<bos>": 1, "<0x0A>": 2, "a": 3, "a b": 4},
                  "merges": [["a", "b"], "a a", ["a b", "c"]]}})");
}

TEST(HfFallbackVocabReader, TypesScoresAddedTokensAndMerges) {
    const std::string tok = small_tokenizer().dump();
    const std::string cfg = R"({"tokenizer_class": "PreTrainedTokenizerFast", "added_tokens_decoder": {},
        "bos_token": "<bos>", "pad_token": "<pad>", "additional_special_tokens": ["<ctl>"]})";
    ByteFallbackBpe o;
    o.model = "m";
    o.merges = true;
    o.user_defined = {"a"};
    o.add_bos_token = true;
    auto r = RawVocab::from_hf_byte_fallback(HfTokenizerFiles{tok, cfg, "", ""}, o, "t.json");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->model, "m");
    EXPECT_EQ(r->tokens, (std::vector<std::string>{"<pad>", "<bos>", "<0x0A>", "a", "a b", "<extra>", "<ctl>"}));
    // control: pad, bos (config); byte; user-defined by the family; normal; added: user-defined,
    // control (additional special token).
    EXPECT_EQ(*r->types, (std::vector<int32_t>{3, 3, 6, 4, 1, 4, 3}));
    EXPECT_EQ(*r->scores, std::vector<float>(7, -1000.0f));
    // A space inside a pair's part is written as U+0120, as gguf-py's SpecialVocab does.
    EXPECT_EQ(*r->merges, (std::vector<std::string>{"a b", "a a", "a\u0120b c"}));
    EXPECT_EQ(r->add_bos, true);
}

TEST(HfFallbackVocabReader, MissingSpecialTokensAreAddedAfterTheVocabulary) {
    const std::string tok = small_tokenizer().dump();
    ByteFallbackBpe o;
    o.model = "m";
    const std::string cfg = R"({"tokenizer_class": "PreTrainedTokenizerFast", "added_tokens_decoder": {},
        "eos_token": "<eos>", "mask_token": {"content": "<mask>"}})";
    auto r = RawVocab::from_hf_byte_fallback(HfTokenizerFiles{tok, cfg, "", ""}, o, "t.json");
    ASSERT_TRUE(r.ok()) << r.error().message();
    ASSERT_EQ(r->tokens.size(), 9u);
    EXPECT_EQ(r->tokens[7], "<eos>");
    EXPECT_EQ(r->tokens[8], "<mask>");
    EXPECT_EQ((*r->types)[7], 3);
    EXPECT_EQ((*r->types)[8], 3);
}

TEST(HfFallbackVocabReader, LegacyConfigsTakeSpecialTokensMap) {
    const std::string tok = small_tokenizer().dump();
    ByteFallbackBpe o;
    o.model = "m";
    const std::string map = R"({"bos_token": "<bos>", "additional_special_tokens": ["<extra>"]})";
    // Without added_tokens_decoder the map's values win over the config's (transformers' from_pretrained); with it,
    // the map is not read.
    HfTokenizerFiles files{tok, R"({"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<pad>"})", "", ""};
    files.special_tokens_map_json = map;
    auto legacy = RawVocab::from_hf_byte_fallback(files, o, "t.json");
    ASSERT_TRUE(legacy.ok()) << legacy.error().message();
    EXPECT_EQ((*legacy->types)[0], 1);  // the config's <pad>, replaced by the map's <bos>
    EXPECT_EQ((*legacy->types)[1], 3);
    EXPECT_EQ((*legacy->types)[5], 3);
    files.tokenizer_config_json = R"({"tokenizer_class": "PreTrainedTokenizerFast", "added_tokens_decoder": {}})";
    auto current = RawVocab::from_hf_byte_fallback(files, o, "t.json");
    ASSERT_TRUE(current.ok()) << current.error().message();
    EXPECT_EQ((*current->types)[1], 1);
    EXPECT_EQ((*current->types)[5], 4);
}

// The special tokens a tokenizer class has of its own: transformers' __init__ defaults for the names the config
// does not give, and CodeLlama's infill tokens appended to the additional ones (null in the config: none).
TEST(HfFallbackVocabReader, TheTokenizerClassAddsItsSpecialTokens) {
    const std::string tok = small_tokenizer().dump();
    ByteFallbackBpe o;
    o.model = "m";
    auto tokens_of = [&](const std::string& cfg, const std::string& config = "") {
        auto r = RawVocab::from_hf_byte_fallback(HfTokenizerFiles{tok, cfg, "", config}, o, "t.json");
        EXPECT_TRUE(r.ok()) << r.error().message();
        if (!r.ok()) return std::vector<std::string>();
        std::vector<std::string> control;
        for (size_t i = 0; i < r->tokens.size(); ++i)
            if ((*r->types)[i] == 3) control.push_back(r->tokens[i]);
        return control;
    };
    // GemmaTokenizer: <pad> in the vocabulary; <eos> and <unk> appended (all_special_tokens' order: bos, eos, unk,
    // sep, pad, cls, mask, then the additional ones); the config's bos_token replaces <bos>.
    EXPECT_EQ(tokens_of(R"({"tokenizer_class": "GemmaTokenizer", "bos_token": "<ctl>"})"),
              (std::vector<std::string>{"<pad>", "<ctl>", "<eos>", "<unk>"}));
    // The same class named in its fast form, and from config.json's model_type when no file names one.
    EXPECT_EQ(tokens_of(R"({"tokenizer_class": "GemmaTokenizerFast"})"),
              tokens_of("{}", R"({"model_type": "gemma3"})"));
    EXPECT_EQ(tokens_of("{}", R"({"tokenizer_class": "GemmaTokenizer", "model_type": "llama"})"),
              tokens_of(R"({"tokenizer_class": "GemmaTokenizer"})"));
    EXPECT_EQ(tokens_of("{}", R"({"model_type": "mistral"})"), (std::vector<std::string>{"<s>", "</s>", "<unk>"}));
    EXPECT_EQ(tokens_of(R"({"tokenizer_class": "CodeLlamaTokenizer", "eot_token": null, "unk_token": "<pad>"})"),
              (std::vector<std::string>{"<pad>", "<s>", "</s>", "\u2581<PRE>", "\u2581<MID>", "\u2581<SUF>"}));

    auto error_of = [&](const std::string& cfg, const std::string& config) {
        auto r = RawVocab::from_hf_byte_fallback(HfTokenizerFiles{tok, cfg, "", config}, o, "t.json");
        return r.ok() ? std::string("(accepted)") : r.error().message();
    };
    EXPECT_NE(error_of(R"({"tokenizer_class": "BertTokenizer"})", "")
                  .find("t.json: tokenizer class 'BertTokenizer' (tokenizer_config.json) is not one loom knows"),
              std::string::npos);
    EXPECT_NE(error_of("{}", R"({"model_type": "gemma4"})")
                  .find("neither tokenizer_config.json nor config.json names a tokenizer_class, and loom does not "
                        "know which tokenizer class transformers uses for model_type 'gemma4'"),
              std::string::npos);
}

TEST(HfFallbackVocabReader, BadFilesAreErrors) {
    ByteFallbackBpe o;
    o.model = "m";
    auto error_of = [&](const json& tok, const std::string& cfg = R"({"tokenizer_class": "PreTrainedTokenizer"})") {
        const std::string text = tok.dump();
        auto r = RawVocab::from_hf_byte_fallback(HfTokenizerFiles{text, cfg, "", ""}, o, "t.json");
        return r.ok() ? std::string("(accepted)") : r.error().message();
    };
    json t = small_tokenizer();
    t["model"]["byte_fallback"] = false;
    EXPECT_NE(error_of(t).find("t.json: not a BPE tokenizer with byte fallback"), std::string::npos) << error_of(t);
    t = small_tokenizer();
    t["decoder"]["type"] = "ByteLevel";
    EXPECT_NE(error_of(t).find("not a BPE tokenizer with byte fallback"), std::string::npos) << error_of(t);
    t = small_tokenizer();
    t["model"]["vocab"].erase("a");
    EXPECT_NE(error_of(t).find("t.json: no token has id 3"), std::string::npos) << error_of(t);
    t = small_tokenizer();
    t["model"]["vocab"]["z"] = -2;
    EXPECT_NE(error_of(t).find("model.vocab['z']: bad id"), std::string::npos) << error_of(t);
    t = small_tokenizer();
    t["added_tokens"].push_back({{"content", "x"}});
    EXPECT_NE(error_of(t).find("added_tokens: an entry without a valid id and content"), std::string::npos);
    t = small_tokenizer();
    o.merges = true;
    t["model"]["merges"].push_back(json::array({"a"}));
    EXPECT_NE(error_of(t).find("model.merges[3]: neither"), std::string::npos) << error_of(t);
    EXPECT_NE(error_of(small_tokenizer(), "[1]").find("tokenizer_config.json: not a JSON object"), std::string::npos);
    const std::string not_json = "{";
    auto r = RawVocab::from_hf_byte_fallback(HfTokenizerFiles{not_json, "", "", ""}, o, "t.json");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("t.json: tokenizer.json: not a JSON object"), std::string::npos);
}

}  // namespace
}  // namespace loom::tokenizer
