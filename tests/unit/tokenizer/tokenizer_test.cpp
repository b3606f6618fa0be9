// Tokenizer on small vocabularies with hand-computed ids: SentencePiece merges by score (ties leftmost),
// byte fallback, space prefix rules, special-token splitting, byte-level BPE merges by rank, the
// pre-tokenizers, invalid UTF-8, the input cap, decoding, and the streaming decoder.
#include <gtest/gtest.h>

#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"
#include "unit/tokenizer/test_vocab.h"

namespace loom::tokenizer {
namespace {

using testing::bpe_skeleton;
using testing::encode;
using testing::spm_skeleton;
using testing::TestVocab;
using Ids = std::vector<int32_t>;

const std::string kSp = "\xE2\x96\x81";  // ▁

// <unk> <s> </s>, bytes, then pieces for "hello": merges he(-3) ll(-2) lo(-4) llo(-1) hello(-0.5) ▁hello(-0.1).
struct HelloVocab {
    TestVocab tv = spm_skeleton();
    int32_t sp, h, e, l, o, he, ll, lo, llo, hello, sp_hello, ab, bc, a, b, c, ud;
    HelloVocab() {
        sp = tv.add(kSp, -5);
        h = tv.add("h", -5), e = tv.add("e", -5), l = tv.add("l", -5), o = tv.add("o", -5);
        he = tv.add("he", -3), ll = tv.add("ll", -2), lo = tv.add("lo", -4), llo = tv.add("llo", -1);
        hello = tv.add("hello", -0.5f), sp_hello = tv.add(kSp + "hello", -0.1f);
        a = tv.add("a", -5), b = tv.add("b", -5), c = tv.add("c", -5);
        ab = tv.add("ab", -1), bc = tv.add("bc", -1);  // equal scores: the leftmost pair merges first
        ud = tv.add("<ud>", 0, TokenType::user_defined);
    }
};

TEST(SpmTest, MergesByScore) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    const Tokenizer t(*v);
    // "▁hello": ll, then llo, then he, then hello, then ▁hello.
    EXPECT_EQ(encode(t, "hello"), (Ids{1, hv.sp_hello}));
    EXPECT_EQ(encode(t, "hello", false), (Ids{hv.sp_hello}));
    EXPECT_EQ(encode(t, "abc", false), (Ids{hv.sp, hv.ab, hv.c}));
    EXPECT_EQ(encode(t, "", true), (Ids{1}));
    EXPECT_EQ(encode(t, "", false), (Ids{}));
    // Two spaces: ▁▁hello has no ▁▁ token.
    EXPECT_EQ(encode(t, " hello", false), (Ids{hv.sp, hv.sp_hello}));
}

TEST(SpmTest, ByteFallbackKeepsEveryByte) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok());
    const Tokenizer t(*v);
    // é is no token: its two bytes.
    EXPECT_EQ(encode(t, "\xC3\xA9", false), (Ids{hv.sp, 3 + 0xC3, 3 + 0xA9}));
    // Invalid UTF-8 is never an error for SPM. As in llama.cpp a lead byte 0xF_ claims 4 bytes, so
    // "\xFF" "b\x80" is one symbol, and no token: three byte tokens.
    const Ids bad = encode(t,
                           "a\xFF"
                           "b\x80",
                           false);
    EXPECT_EQ(bad, (Ids{hv.sp, hv.a, 3 + 0xFF, 3 + 'b', 3 + 0x80}));
    EXPECT_EQ(t.decode(bad),
              "a\xFF"
              "b\x80");
}

TEST(SpmTest, SpecialTokensAndSpacePrefix) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok());
    const Tokenizer t(*v);
    // Control tokens in text only with parse_special; the text after a special gets the space prefix.
    EXPECT_EQ(encode(t, "<s>hello", false, true), (Ids{1, hv.sp_hello}));
    const Ids plain = encode(t, "<s>", false, false);
    EXPECT_EQ(plain.size(), 4u);  // ▁ < s > as bytes or pieces, never the control token
    EXPECT_EQ(std::count(plain.begin(), plain.end(), 1), 0);
    // User-defined tokens are always split out.
    EXPECT_EQ(encode(t, "hello<ud>hello", false, false), (Ids{hv.sp_hello, hv.ud, hv.sp_hello}));
}

TEST(SpmTest, NoSpacePrefixWhenTheVocabSaysSo) {
    HelloVocab hv;
    hv.tv.extra = {{"add_space_prefix", false}};
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok());
    const Tokenizer t(*v);
    EXPECT_EQ(encode(t, "hello", false), (Ids{hv.hello}));
    EXPECT_EQ(encode(t, "hello hello", false), (Ids{hv.hello, hv.sp_hello}));
}

TEST(SpmTest, Errors) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok());
    Tokenizer t(*v);
    t.set_max_input_bytes(4);
    auto r = t.encode("hello", true, false);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code(), ErrorCode::out_of_range);
    EXPECT_NE(r.error().message().find("5 bytes exceeds the limit of 4"), std::string::npos);

    TestVocab nb;  // no byte tokens
    nb.add("<unk>", 0, TokenType::unknown);
    nb.add("<s>", 0, TokenType::control);
    nb.add("</s>", 0, TokenType::control);
    nb.add(kSp);
    auto v2 = nb.load();
    ASSERT_TRUE(v2.ok());
    const Tokenizer t2(*v2);
    auto r2 = t2.encode("x", false, false);
    ASSERT_FALSE(r2.ok());
    EXPECT_NE(r2.error().message().find("no byte token for 0x78"), std::string::npos) << r2.error().message();
}

TEST(SpmTest, Decode) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok());
    const Tokenizer t(*v);
    // The first piece loses the space prefix; with a BOS in front it does not (llama.cpp's rule).
    EXPECT_EQ(t.decode(Ids{hv.sp_hello, hv.sp_hello}), "hello hello");
    EXPECT_EQ(t.decode(Ids{1, hv.sp_hello}), " hello");
    EXPECT_EQ(t.decode(Ids{1, hv.sp_hello}, {.remove_special = true}), " hello");
    EXPECT_EQ(t.decode(Ids{1, hv.sp_hello}, {.unparse_special = true}), "<s> hello");
    EXPECT_EQ(t.token_to_piece(1), "");
    EXPECT_EQ(t.token_to_piece(1, true), "<s>");
}

// Byte-level BPE: id = byte for the 256 GPT-2 characters, then he ll hell hello Ġw by rank.
struct BpeVocab {
    TestVocab tv;
    int32_t he, ll, hell, hello, gw;
    explicit BpeVocab(std::string pre = "gpt-2") : tv(bpe_skeleton(std::move(pre))) {
        tv.merges = {"h e", "l l", "he ll", "hell o", "\xC4\xA0 w"};
        he = tv.add("he"), ll = tv.add("ll"), hell = tv.add("hell"), hello = tv.add("hello"), gw = tv.add("\xC4\xA0w");
        tv.add("<|endoftext|>", 0, TokenType::control);
    }
};

TEST(BpeTest, MergesByRank) {
    BpeVocab bv;
    auto v = bv.tv.load();
    ASSERT_TRUE(v.ok()) << v.error().message();
    const Tokenizer t(*v);
    EXPECT_EQ(encode(t, "hello world"), (Ids{bv.hello, bv.gw, 'o', 'r', 'l', 'd'}));
    EXPECT_EQ(t.decode(encode(t, "hello world")), "hello world");
    // parse_special: <|endoftext|> is a control token.
    EXPECT_EQ(encode(t, "x<|endoftext|>", false, true), (Ids{'x', bv.gw + 1}));
}

TEST(BpeTest, InvalidUtf8) {
    BpeVocab bv;
    auto v = bv.tv.load();
    ASSERT_TRUE(v.ok());
    const Tokenizer t(*v);
    // A byte that starts no sequence is U+FFFD (EF BF BD), as in llama.cpp.
    EXPECT_EQ(encode(t, "\xFF"), (Ids{0xEF, 0xBF, 0xBD}));
    // A lenient decode keeps an overlong form's value: C0 80 is U+0000.
    EXPECT_EQ(encode(t, "\xC0\x80"), (Ids{0x00}));
    // Above U+10FFFF: llama.cpp throws; loom reports an error.
    auto r = t.encode("a\xF5\x80\x80\x80", false, false);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("beyond U+10FFFF"), std::string::npos) << r.error().message();
}

TEST(BpeTest, CleanSpacesOnDecode) {
    BpeVocab bv;
    auto v = bv.tv.load();
    ASSERT_TRUE(v.ok());
    const Tokenizer t(*v);
    auto ids = [](std::string_view s) {
        Ids r;
        for (char c : s) r.push_back(uint8_t(c));
        return r;
    };
    EXPECT_EQ(t.decode(ids("a , b . c ' d 's 't 're")), "a, b. c'd's 't're");
    BpeVocab q("qwen2");  // qwen2 keeps spaces
    auto qv = q.tv.load();
    ASSERT_TRUE(qv.ok());
    EXPECT_EQ(Tokenizer(*qv).decode(ids("a , b")), "a , b");
}

std::vector<std::string> split(PreTokenizer p, std::string_view text) {
    auto pt = Pretokenizer::make(p);
    EXPECT_TRUE(pt.ok());
    const auto cpts = decode_utf8_lenient(text);
    auto lens = (*pt)->split(cpts);
    EXPECT_TRUE(lens.ok());
    std::vector<std::string> words;
    size_t at = 0;
    for (size_t n : *lens) {
        std::string w;
        for (size_t i = at; i < at + n; ++i) append_utf8(w, cpts[i]);
        words.push_back(w);
        at += n;
    }
    return words;
}

TEST(PretokenizeTest, Llama3) {
    using W = std::vector<std::string>;
    EXPECT_EQ(split(PreTokenizer::llama3, "Hello world's 12345\n\n  x"),
              (W{"Hello", " world", "'s", " ", "123", "45", "\n\n", " ", " x"}));
    EXPECT_EQ(split(PreTokenizer::qwen2, "abc 123"), (W{"abc", " ", "1", "2", "3"}));
    EXPECT_EQ(split(PreTokenizer::gpt2, "I'M here  now"), (W{"I", "'", "M", " here", " ", " now"}));
}

TEST(PretokenizeTest, Gemma4SplitsOnlyNewlineRuns) {
    using W = std::vector<std::string>;
    EXPECT_EQ(split(PreTokenizer::gemma4, "a b\n\n c\r\nd\xE2\x80\xA8\n"),
              (W{"a b", "\n\n", " c\r", "\n", "d\xE2\x80\xA8", "\n"}));
}

TEST(PretokenizeTest, ClassesComeFromUnicode151) {
    using W = std::vector<std::string>;
    // U+2EBF0 is a letter since Unicode 15.1 (PCRE2 10.42's tables predate it): one word with the letters.
    EXPECT_EQ(split(PreTokenizer::gpt2,
                    "ab\xF0\xAE\xAF\xB0"
                    "c 12"),
              (W{"ab\xF0\xAE\xAF\xB0"
                 "c",
                 " 12"}));
    EXPECT_EQ(char_class(0x2EBF0), CharClass::letter);
    EXPECT_EQ(char_class(0x1C89), CharClass::undefined);  // assigned only in Unicode 16
    EXPECT_TRUE(is_whitespace(0x85));
    EXPECT_FALSE(is_whitespace(0x1C));
    // Each class representative is what PCRE2 must see it as.
    EXPECT_EQ(class_representative('a'), uint32_t('a'));
    EXPECT_EQ(class_representative(0x4E00), 0x00E0u);
    EXPECT_EQ(class_representative(0x0661), 0x00B2u);
    EXPECT_EQ(class_representative(0x3000), 0x2000u);
    EXPECT_EQ(class_representative(0x0085), 0x2000u);
}

TEST(StreamingDecoderTest, NeverEmitsHalfACharacter) {
    HelloVocab hv;
    auto v = hv.tv.load();
    ASSERT_TRUE(v.ok());
    StreamingDecoder d(*v);
    EXPECT_EQ(d.push(hv.hello), "hello");
    EXPECT_EQ(d.push(3 + 0xE2), "");  // € is E2 82 AC
    EXPECT_EQ(d.pending(), 1u);
    EXPECT_EQ(d.push(3 + 0x82), "");
    EXPECT_EQ(d.push(3 + 0xAC), "\xE2\x82\xAC");
    EXPECT_EQ(d.pending(), 0u);
    EXPECT_EQ(d.push(1), "");                     // control: not rendered
    EXPECT_EQ(d.push(3 + 0xFF), "\xEF\xBF\xBD");  // can never be valid
    EXPECT_EQ(d.push(3 + 0xF0), "");
    EXPECT_EQ(d.push(hv.a),
              "\xEF\xBF\xBD"
              "a");  // the held byte cannot be completed any more
    EXPECT_EQ(d.push(3 + 0xC3), "");
    EXPECT_EQ(d.flush(), "\xEF\xBF\xBD");
    EXPECT_EQ(d.pending(), 0u);

    StreamingDecoder special(*v, true);
    EXPECT_EQ(special.push(1), "<s>");
}

}  // namespace
}  // namespace loom::tokenizer
