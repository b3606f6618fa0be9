// Vocab::load: defaults per model, keys overriding them, validation errors that name the key and the value,
// llama.cpp's text-based fix-ups (control, unused, EOG set), and the default model's vocabulary.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/default_model.h"
#include "unit/tokenizer/test_vocab.h"

namespace loom::tokenizer {
namespace {

using testing::bpe_skeleton;
using testing::spm_skeleton;
using testing::TestVocab;

std::string load_error(const TestVocab& tv) {
    auto v = tv.load();
    return v.ok() ? std::string("(loaded)") : v.error().message();
}

TEST(VocabTest, SpmDefaults) {
    TestVocab tv = spm_skeleton();
    auto v = tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ(v->type(), VocabType::spm);
    EXPECT_EQ(v->bos(), 1);
    EXPECT_EQ(v->eos(), 2);
    EXPECT_EQ(v->unk(), 0);
    EXPECT_TRUE(v->add_bos());
    EXPECT_FALSE(v->add_eos());
    EXPECT_TRUE(v->add_space_prefix());
    EXPECT_EQ(v->byte_token(0x41), 3 + 0x41);
    EXPECT_EQ(v->token_byte(3 + 0xA9), 0xA9);
    EXPECT_TRUE(v->is_eog(2));  // eos, and "</s>" is an EOG text
    EXPECT_FALSE(v->is_eog(1));
    EXPECT_FALSE(v->is_eog(-1));
    EXPECT_FALSE(v->is_eog(100000));
}

TEST(VocabTest, KeysOverrideDefaults) {
    TestVocab tv = spm_skeleton();
    tv.extra = {{"bos_token_id", uint32_t(2)},
                {"eos_token_id", uint32_t(1)},
                {"add_bos_token", false},
                {"add_eos_token", true},
                {"add_space_prefix", false}};
    auto v = tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ(v->bos(), 2);
    EXPECT_EQ(v->eos(), 1);
    EXPECT_FALSE(v->add_bos());
    EXPECT_TRUE(v->add_eos());
    EXPECT_FALSE(v->add_space_prefix());
}

TEST(VocabTest, BpeDefaultsFollowThePreTokenizer) {
    TestVocab tv = bpe_skeleton("llama-bpe");
    tv.merges = {"a b"};
    auto v = tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ(v->type(), VocabType::bpe);
    EXPECT_EQ(v->pre(), PreTokenizer::llama3);
    EXPECT_TRUE(v->add_bos());  // llama-bpe adds BOS, ignores merges for whole-token words
    EXPECT_TRUE(v->ignore_merges());
    EXPECT_TRUE(v->clean_spaces());
    EXPECT_EQ(v->merge_rank("a", "b"), 0);
    EXPECT_EQ(v->merge_rank("b", "a"), -1);

    tv.pre = "qwen2";
    v = tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_FALSE(v->add_bos());
    EXPECT_FALSE(v->clean_spaces());

    tv.pre = "";  // missing: llama.cpp's "default" regexes
    v = tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ(v->pre(), PreTokenizer::default_bpe);
}

TEST(VocabTest, ErrorsNameTheKeyAndValue) {
    TestVocab tv = spm_skeleton();
    tv.model = "bert";
    EXPECT_NE(load_error(tv).find("tokenizer.ggml.model: unsupported tokenizer model 'bert'"), std::string::npos)
        << load_error(tv);

    tv = bpe_skeleton("gpt2");  // the GPT-2 pre-tokenizer is spelled "gpt-2"; llama.cpp rejects "gpt2" too
    tv.merges = {"a b"};
    EXPECT_NE(load_error(tv).find("tokenizer.ggml.pre: unknown pre-tokenizer 'gpt2'"), std::string::npos)
        << load_error(tv);

    tv = bpe_skeleton();
    EXPECT_NE(load_error(tv).find("tokenizer.ggml.merges"), std::string::npos) << load_error(tv);
    tv.merges = {"ab"};
    EXPECT_NE(load_error(tv).find("tokenizer.ggml.merges[0]: 'ab' is not two tokens"), std::string::npos)
        << load_error(tv);

    tv = spm_skeleton();
    tv.scores.pop_back();
    EXPECT_NE(load_error(tv).find("tokenizer.ggml.scores: 258 elements, expected 259"), std::string::npos)
        << load_error(tv);

    tv = spm_skeleton();
    tv.types.push_back(1);
    EXPECT_NE(load_error(tv).find("tokenizer.ggml.token_type: 260 elements, expected 259"), std::string::npos)
        << load_error(tv);

    tv = spm_skeleton();
    tv.types[5] = 9;
    EXPECT_NE(load_error(tv).find("tokenizer.ggml.token_type[5]: token type 9"), std::string::npos) << load_error(tv);

    tv = spm_skeleton();
    tv.extra = {{"eos_token_id", uint32_t(259)}};
    EXPECT_NE(load_error(tv).find("tokenizer.ggml.eos_token_id: token id 259 outside the vocabulary (0..258)"),
              std::string::npos)
        << load_error(tv);

    tv = spm_skeleton();
    tv.add("<s>");
    EXPECT_NE(load_error(tv).find("token 259 repeats the text of token 1 ('<s>')"), std::string::npos)
        << load_error(tv);

    tv = spm_skeleton();
    tv.tokens[3] = "<0xZZ>";
    EXPECT_NE(load_error(tv).find("byte token '<0xZZ>' is not of the form <0xHH>"), std::string::npos)
        << load_error(tv);

    tv = TestVocab{};
    EXPECT_NE(load_error(tv).find("the vocabulary is empty"), std::string::npos) << load_error(tv);

    tv = spm_skeleton();
    tv.extra = {{"add_bos_token", uint32_t(1)}};  // a bool key of another type
    EXPECT_NE(load_error(tv).find("tokenizer.ggml.add_bos_token"), std::string::npos) << load_error(tv);
}

TEST(VocabTest, TextFixUpsAndEndOfGeneration) {
    TestVocab tv = spm_skeleton();
    const int32_t im_end = tv.add("<|im_end|>");  // stored as normal: llama.cpp makes it control and EOG
    const int32_t unused = tv.add("<unused7>", 0, TokenType::control);
    const int32_t fim_pad = tv.add("<|fim_pad|>");
    const int32_t channel = tv.add("<|channel|>", 0, TokenType::control);
    auto v = tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_TRUE(v->attr(im_end) & kAttrControl);
    EXPECT_TRUE(v->is_eog(im_end));
    EXPECT_EQ(v->eot(), im_end);
    EXPECT_TRUE(v->attr(unused) & kAttrUnused);
    EXPECT_TRUE(v->is_eog(fim_pad));
    EXPECT_EQ(v->attr(channel), uint32_t(kAttrUserDefined));  // gpt-oss: always rendered
    const std::vector<int32_t> want{2, im_end, fim_pad};
    EXPECT_EQ(v->eog_ids(), want);
}

TEST(VocabTest, PiecesFollowTokenTypes) {
    TestVocab tv = spm_skeleton();
    const int32_t hello = tv.add("\xE2\x96\x81hello");
    const int32_t ud = tv.add("<ud>", 0, TokenType::user_defined);
    const int32_t unused = tv.add("<gone>", 0, TokenType::unused);
    auto v = tv.load();
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->piece(hello, false), " hello");
    EXPECT_EQ(v->piece(3 + 0x0A, false), "\n");
    EXPECT_EQ(v->piece(1, false), "");  // control: only when special
    EXPECT_EQ(v->piece(1, true), "<s>");
    EXPECT_EQ(v->piece(0, false), "");  // unknown
    EXPECT_EQ(v->piece(ud, false), "<ud>");
    EXPECT_EQ(v->piece(unused, true), "");

    TestVocab bt = bpe_skeleton();
    bt.merges = {"\xC4\xA0 h"};
    bt.add("\xC4\xA0h");         // "Ġh": space + h
    bt.add("\xC3\x83\xC2\xA9");  // "Ã©": GPT-2's characters for the bytes C3 A9 (é)
    auto bv = bt.load();
    ASSERT_TRUE(bv.ok()) << bv.error().message();
    EXPECT_EQ(bv->piece(256, false), " h");
    EXPECT_EQ(bv->piece(257, false), "\xC3\xA9");
    EXPECT_EQ(bv->piece(0x20, false), " ");
}

TEST(VocabTest, DefaultModelIsGemma3) {
    auto path = default_model_path();
    if (!path || !std::filesystem::exists(*path)) GTEST_SKIP() << "default model absent: run scripts/setup.sh";
    auto f = formats::GgufFile::open(*path);
    ASSERT_TRUE(f.ok()) << f.error().message();
    auto v = Vocab::load(*f);
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ(v->type(), VocabType::spm);
    EXPECT_EQ(v->n_tokens(), 262144);
    EXPECT_EQ(v->bos(), 2);
    EXPECT_EQ(v->eos(), 1);
    EXPECT_TRUE(v->add_bos());
    EXPECT_FALSE(v->add_space_prefix());
    EXPECT_EQ(v->text(106), "<end_of_turn>");
    EXPECT_TRUE(v->is_eog(1));
    EXPECT_TRUE(v->is_eog(106));
    EXPECT_FALSE(v->is_eog(105));  // <start_of_turn>
    EXPECT_EQ(v->eot(), 106);
}

}  // namespace
}  // namespace loom::tokenizer
