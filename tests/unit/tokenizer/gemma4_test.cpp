// tokenizer.ggml.model "gemma4" (BPE over raw UTF-8 with spaces as ▁, <0xHH> byte fallback): defaults and
// fix-ups as llama.cpp sets them, merges across escaped spaces, newline runs taken whole, byte fallback (and
// refusing text a vocabulary cannot spell), special tokens, decoding; then Gemma 4's real vocabulary when
// scripts/setup.sh has put it in place (its EOG set and detokenized texts as llama.cpp gives them).
#include <gtest/gtest.h>

#include <filesystem>

#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "tokenizer/tokenizer.h"
#include "unit/tokenizer/test_vocab.h"

namespace loom::tokenizer {
namespace {

using testing::encode;
using testing::gemma4_skeleton;
using testing::TestVocab;
using Ids = std::vector<int32_t>;

const std::string kSp = "\xE2\x96\x81";  // ▁
constexpr int32_t kPad = 0, kEos = 1, kBos = 2, kTurn = 4, kTurnEnd = 5, kToolResponse = 6, kCloseS = 7;
constexpr int32_t byte_id(uint8_t b) { return 8 + b; }

void set_key(TestVocab& tv, const std::string& key, formats::GgufValue value) {
    for (auto& [k, v] : tv.extra)
        if (k == key) {
            v = std::move(value);
            return;
        }
    tv.extra.emplace_back(key, std::move(value));
}

// The skeleton with pieces for "hello world" and newline runs. Merges by rank: h e, l l, he ll, hell o,
// ▁ w, ▁w o, \n \n.
struct HelloVocab {
    TestVocab tv;
    int32_t sp, h, e, l, o, w, r, d, x, he, ll, hell, hello, sp_w, sp_wo, nl, nl2, nl3, dot;
    explicit HelloVocab(TestVocab base = gemma4_skeleton()) : tv(std::move(base)) {
        sp = tv.add(kSp, -1000);
        h = tv.add("h", -1000), e = tv.add("e", -1000), l = tv.add("l", -1000), o = tv.add("o", -1000);
        w = tv.add("w", -1000), r = tv.add("r", -1000), d = tv.add("d", -1000), x = tv.add("x", -1000);
        he = tv.add("he", -1000), ll = tv.add("ll", -1000), hell = tv.add("hell", -1000);
        hello = tv.add("hello", -1000), sp_w = tv.add(kSp + "w", -1000), sp_wo = tv.add(kSp + "wo", -1000);
        nl = tv.add("\n", -1000), nl2 = tv.add("\n\n", -1000), nl3 = tv.add("\n\n\n", -1000);
        dot = tv.add(".", -1000);
        tv.merges = {"h e", "l l", "he ll", "hell o", kSp + " w", kSp + "w o", "\n \n"};
    }
};

TEST(Gemma4VocabTest, DefaultsAndFixupsAsLlamaCpp) {
    HelloVocab hv;
    hv.tv.pre = "qwen2";                     // ignored: gemma4 always gets its own pre-tokenizer
    set_key(hv.tv, "add_bos_token", false);  // overridden: llama.cpp always adds BOS for it
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ(v->type(), VocabType::bpe);
    EXPECT_EQ(v->pre(), PreTokenizer::gemma4);
    EXPECT_EQ(v->pre_name(), "gemma4");
    EXPECT_TRUE(v->escape_spaces());
    EXPECT_TRUE(v->add_bos());
    EXPECT_FALSE(v->add_eos());
    EXPECT_FALSE(v->add_space_prefix());
    EXPECT_FALSE(v->ignore_merges());
    EXPECT_TRUE(v->clean_spaces());
    EXPECT_EQ(v->bos(), kBos);
    EXPECT_EQ(v->eos(), kEos);
    EXPECT_EQ(v->pad(), kPad);
    EXPECT_EQ(v->byte_token(0x41), byte_id(0x41));
    EXPECT_EQ(v->merge_rank(kSp, "w"), 4);
    // End of generation: <eos>, and <turn|> and <|tool_response> by their text; </s> is an ordinary token
    // in a vocabulary with <|tool_response>.
    EXPECT_EQ(v->eog_ids(), (Ids{kEos, kTurnEnd, kToolResponse}));
    EXPECT_EQ(v->attr(kCloseS), uint32_t(kAttrNormal));
    EXPECT_EQ(v->attr(kToolResponse), uint32_t(kAttrUserDefined | kAttrControl));
    EXPECT_EQ(v->piece(kToolResponse, false), "");
    EXPECT_EQ(v->piece(kToolResponse, true), "<|tool_response>");
    EXPECT_EQ(v->piece(hv.sp_wo, false), " wo");
}

TEST(Gemma4VocabTest, ByteFallbackIsOnlyTheHexTokens) {
    // SPM would take the one-character token "A" for byte 0x41; gemma4 looks for <0x41> only.
    TestVocab tv;
    tv.model = "gemma4";
    tv.add("<bos>", 0, TokenType::control);
    tv.add("A");
    tv.merges = {"A A"};
    tv.extra = {{"bos_token_id", uint32_t(0)}};
    auto v = tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ(v->byte_token(0x41), kNoToken);
    tv.model = "llama";
    v = tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    EXPECT_EQ(v->byte_token(0x41), 1);
}

TEST(Gemma4VocabTest, Errors) {
    TestVocab tv = gemma4_skeleton();
    auto v = tv.load();
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.error().message().find("tokenizer.ggml.merges: missing (a gemma4 vocabulary needs its merges)"),
              std::string::npos)
        << v.error().message();

    tv.merges = {"h e"};
    tv.extra.erase(tv.extra.begin());  // bos_token_id
    v = tv.load();
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.error().message().find(
                  "tokenizer.ggml.bos_token_id: missing (the gemma4 pre-tokenizer always adds a BOS token)"),
              std::string::npos)
        << v.error().message();

    tv = gemma4_skeleton();
    tv.merges = {"h e"};
    tv.model = "gemma5";
    v = tv.load();
    ASSERT_FALSE(v.ok());
    EXPECT_NE(v.error().message().find("unsupported tokenizer model 'gemma5' (loom supports: llama, gpt2, gemma4)"),
              std::string::npos)
        << v.error().message();
}

TEST(Gemma4TokenizerTest, SpacesAreEscapedAndMergedAcross) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    const Tokenizer t(*v);
    // "hello▁world" is one word: ▁ merges with what follows it.
    EXPECT_EQ(encode(t, "hello world"), (Ids{kBos, hv.hello, hv.sp_wo, hv.r, hv.l, hv.d}));
    EXPECT_EQ(encode(t, "hello world", false), (Ids{hv.hello, hv.sp_wo, hv.r, hv.l, hv.d}));
    EXPECT_EQ(encode(t, " hello  wo", false), (Ids{hv.sp, hv.hello, hv.sp, hv.sp_wo}));
    // A ▁ in the text is the same character as an escaped space.
    EXPECT_EQ(encode(t, kSp + "wo", false), (Ids{hv.sp_wo}));
    EXPECT_EQ(encode(t, "", true), (Ids{kBos}));
}

TEST(Gemma4TokenizerTest, NewlineRunsAreWordsTakenWholeWhenTokens) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    const Tokenizer t(*v);
    // Merges alone would give \n\n + \n; a newline-only word that is a token is taken as it is.
    EXPECT_EQ(encode(t, "hello\n\n\nhello", false), (Ids{hv.hello, hv.nl3, hv.hello}));
    // Not a token: merged as any word (leftmost pair first).
    EXPECT_EQ(encode(t, "\n\n\n\n", false), (Ids{hv.nl2, hv.nl2}));
    // Newlines split words; a word of other characters merges as usual.
    EXPECT_EQ(encode(t, "he\nllo", false), (Ids{hv.he, hv.nl, hv.ll, hv.o}));
}

TEST(Gemma4TokenizerTest, ByteFallback) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    const Tokenizer t(*v);
    EXPECT_EQ(encode(t, "h\xC3\xA9\t", false), (Ids{hv.h, byte_id(0xC3), byte_id(0xA9), byte_id('\t')}));
    // Invalid UTF-8 is U+FFFD (EF BF BD), decided after the spaces are escaped, as llama.cpp does.
    EXPECT_EQ(encode(t, "\xFF", false), (Ids{byte_id(0xEF), byte_id(0xBF), byte_id(0xBD)}));
    EXPECT_EQ(encode(t, "\xC3 w", false), (Ids{byte_id(0xEF), byte_id(0xBF), byte_id(0xBD), hv.sp_w}));
    EXPECT_EQ(t.decode(encode(t, "h\xC3\xA9", false)), "h\xC3\xA9");
}

TEST(Gemma4TokenizerTest, MissingByteTokenIsAnError) {
    // llama.cpp drops a byte it has no <0xHH> token for, losing text; loom refuses.
    TestVocab tv;
    tv.model = "gemma4";
    tv.add("<bos>", 0, TokenType::control);
    const int32_t a = tv.add("a"), aa = tv.add("aa");
    tv.merges = {"a a"};
    tv.extra = {{"bos_token_id", uint32_t(0)}};
    auto v = tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    const Tokenizer t(*v);
    EXPECT_EQ(encode(t, "aaa"), (Ids{0, aa, a}));
    auto r = t.encode("ab", true, false);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("the vocabulary has no byte token for 0x62 (needed for 'b')"), std::string::npos)
        << r.error().message();
}

TEST(Gemma4TokenizerTest, SpecialTokens) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    const Tokenizer t(*v);
    EXPECT_EQ(encode(t, "<|turn>hello<turn|>", true, true), (Ids{kBos, kTurn, hv.hello, kTurnEnd}));
    // A space after a special is an escaped space of the next fragment.
    EXPECT_EQ(encode(t, "<turn|> wo", false, true), (Ids{kTurnEnd, hv.sp_wo}));
    // Without parse_special, control tokens are text; so is <|tool_response>, user-defined but made control
    // by its EOG text.
    for (const char* s : {"<|turn>", "<|tool_response>"}) {
        EXPECT_EQ(encode(t, s, false, false).size(), std::string_view(s).size()) << s;  // one id per character
        EXPECT_EQ(encode(t, s, false, true).size(), 1u) << s;
    }
}

TEST(Gemma4TokenizerTest, Decode) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    const Tokenizer t(*v);
    const Ids ids{kBos, hv.hello, hv.sp_wo, hv.r, hv.l, hv.d, kTurnEnd};
    EXPECT_EQ(t.decode(ids), "hello world");
    EXPECT_EQ(t.decode(ids, {.remove_special = false, .unparse_special = true}), "<bos>hello world<turn|>");
    EXPECT_EQ(t.decode(ids, {.remove_special = true, .unparse_special = true}), "hello world<turn|>");
    // No space prefix to strip; clean_spaces as llama.cpp (" ." -> ".").
    EXPECT_EQ(t.decode(Ids{hv.sp, hv.x, hv.sp, hv.dot, hv.sp, hv.sp}), " x.  ");
    EXPECT_EQ(t.decode(Ids{byte_id(0xC3), byte_id(0xA9), hv.nl2}), "\xC3\xA9\n\n");
}

TEST(Gemma4TokenizerTest, Gpt2ModelWithTheGemma4PreTokenizer) {
    // tokenizer.ggml.pre "gemma4" (or "granite-embed-multi-311m") on a gpt2 vocabulary selects the same
    // tokenizer in llama.cpp.
    HelloVocab g4;
    TestVocab base = gemma4_skeleton();
    base.model = "gpt2";
    base.pre = "granite-embed-multi-311m";
    set_key(base, "add_bos_token", false);
    HelloVocab gpt2(base);
    auto a = g4.tv.load();
    auto b = gpt2.tv.load();
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_TRUE(b->escape_spaces());
    EXPECT_TRUE(b->add_bos());
    const Tokenizer ta(*a), tb(*b);
    for (const char* s : {"hello world\n\n\n", " \xC3\xA9<|turn>wo", "\xFFhello"})
        EXPECT_EQ(encode(ta, s, true, true), encode(tb, s, true, true)) << s;
}

// Gemma 4's real vocabulary (llama.cpp's models/ggml-vocab-gemma-4.gguf, put in place by scripts/setup.sh).
TEST(Gemma4RealVocab, AsLlamaCpp) {
    auto dir = models_dir();
    const std::string path = dir ? *dir + "/vocab/gemma4.gguf" : std::string();
    if (path.empty() || !std::filesystem::exists(path))
        GTEST_SKIP() << "vocabulary gemma4 not found at '" << path << "': run scripts/setup.sh";
    auto f = formats::GgufFile::open(path);
    ASSERT_TRUE(f.ok()) << f.error().message();
    auto v = Vocab::load(*f);
    ASSERT_TRUE(v.ok()) << v.error().message();
    const Tokenizer t(*v);
    EXPECT_EQ(v->n_tokens(), 262144);
    // llama_vocab_is_eog over every id: <eos>, <|tool_response>, <turn|>.
    EXPECT_EQ(v->eog_ids(), (Ids{1, 50, 106}));
    EXPECT_EQ(v->bos(), 2);
    EXPECT_TRUE(v->add_bos());
    // llama_tokenize (parse_special) and llama_detokenize (remove_special, unparse_special) of these texts.
    struct Case {
        const char* text;
        Ids ids;
        const char* plain;     // remove_special and unparse_special off
        const char* rendered;  // both on
    };
    const Case cases[] = {
        {"Hello , world . It 's ok",
         {2, 9259, 1031, 1902, 783, 1030, 756, 236751, 7546},
         "Hello, world. It's ok",
         "Hello, world. It's ok"},
        {"<|turn>user\nHi there<turn|>\n<|turn>model\n",
         {2, 105, 2364, 107, 10979, 993, 106, 107, 105, 4368, 107},
         "user\nHi there\nmodel\n",
         "<|turn>user\nHi there<turn|>\n<|turn>model\n"},
        {"\xC3\xA9\xF0\x9F\xA6\x99 x\t\ty  ",
         {2, 236859, 478, 397, 404, 391, 1123, 255969, 236762, 138},
         "\xC3\xA9\xF0\x9F\xA6\x99 x\t\ty  ",
         "\xC3\xA9\xF0\x9F\xA6\x99 x\t\ty  "},
        {"<|tool_response>x<tool_response|>",
         {2, 50, 236781, 51},
         "x<tool_response|>",
         "<|tool_response>x<tool_response|>"},
    };
    for (const Case& c : cases) {
        EXPECT_EQ(encode(t, c.text, true, true), c.ids) << c.text;
        EXPECT_EQ(t.decode(c.ids), c.plain) << c.text;
        EXPECT_EQ(t.decode(c.ids, {.remove_special = true, .unparse_special = true}), c.rendered) << c.text;
    }
}

}  // namespace
}  // namespace loom::tokenizer
