// SpmModel::parse: a hand-made tokenizer.model reads back field for field (and sentencepiece's own test model
// reads as SentencePiece reads it); hostile files are errors naming the file, the field and the byte offset;
// every cut of a valid file is either a whole message or an error, never a crash (ASan in the asan preset).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <ostream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenizer/spm_model.h"
#include "unit/tokenizer/corpus.h"
#include "unit/tokenizer/spm_bytes.h"

namespace loom::tokenizer {
namespace {

using testutil::ProtoBytes;
using testutil::spm_piece;

// Three pieces, a trainer_spec with negative and non-default ids, a normalizer_spec, and fields loom skips (an
// unknown varint, fixed64 and length-delimited field, a denormalizer_spec).
struct Valid {
    std::string bytes;
    std::vector<size_t> ends;  // where each top-level field ends
};

Valid valid_model() {
    ProtoBytes m;
    Valid v;
    m.bytes(1, spm_piece("<unk>", 0.f, 2));
    v.ends.push_back(m.size());
    m.bytes(1, spm_piece("\xE2\x96\x81the", -1.5f, 1));
    v.ends.push_back(m.size());
    m.bytes(1, spm_piece("<0x0A>", 0.f, 6));
    v.ends.push_back(m.size());
    ProtoBytes trainer;
    trainer.uint(3, 2).uint(35, 1).uint(40, 0).uint(41, uint64_t(-1)).uint(42, 2).uint(43, 7).bytes(45, "<unk>");
    m.bytes(2, trainer.str());
    v.ends.push_back(m.size());
    ProtoBytes normalizer;
    normalizer.bytes(1, "identity").bytes(2, std::string("\0\1\2", 3)).uint(3, 0).uint(4, 0);
    m.bytes(3, normalizer.str());
    v.ends.push_back(m.size());
    m.uint(99, 12345);
    v.ends.push_back(m.size());
    m.tag(98, 1).raw("12345678");
    v.ends.push_back(m.size());
    m.bytes(5, normalizer.str());
    v.ends.push_back(m.size());
    v.bytes = m.str();
    return v;
}

TEST(SpmModel, ReadsFieldByField) {
    auto m = SpmModel::parse(valid_model().bytes, "t.model");
    ASSERT_TRUE(m.ok()) << m.error().message();
    ASSERT_EQ(m->pieces.size(), 3u);
    EXPECT_EQ(m->pieces[0].piece, "<unk>");
    EXPECT_EQ(m->pieces[0].type, SpmPiece::Type::unknown);
    EXPECT_EQ(m->pieces[1].piece, "\xE2\x96\x81the");
    EXPECT_EQ(m->pieces[1].score, -1.5f);
    EXPECT_EQ(m->pieces[1].type, SpmPiece::Type::normal);
    EXPECT_EQ(m->pieces[2].type, SpmPiece::Type::byte);
    EXPECT_EQ(m->model_type, 2);
    EXPECT_TRUE(m->byte_fallback);
    EXPECT_EQ(m->unk_id, 0);
    EXPECT_EQ(m->bos_id, -1);  // a negative int32 is ten bytes on the wire
    EXPECT_EQ(m->eos_id, 2);
    EXPECT_EQ(m->pad_id, 7);
    EXPECT_FALSE(m->add_dummy_prefix);
    EXPECT_FALSE(m->remove_extra_whitespaces);
    EXPECT_TRUE(m->escape_whitespaces);  // absent: the schema's default
}

// sentencepiece's test model (tests/data/tokenizer/spm/PROVENANCE.md), as its Python package reads it:
// 1000 pieces, <unk> <s> </s> first, unigram, the schema's default ids.
TEST(SpmModel, ReadsSentencePiecesOwnTestModel) {
    std::ifstream in(tokenizer_data_dir() + "/spm/dir/tokenizer.model", std::ios::binary);
    ASSERT_TRUE(in);
    std::stringstream ss;
    ss << in.rdbuf();
    auto m = SpmModel::parse(ss.str(), "test_model.model");
    ASSERT_TRUE(m.ok()) << m.error().message();
    ASSERT_EQ(m->pieces.size(), 1000u);
    EXPECT_EQ(m->pieces[0].piece, "<unk>");
    EXPECT_EQ(m->pieces[0].type, SpmPiece::Type::unknown);
    EXPECT_EQ(m->pieces[2].piece, "</s>");
    EXPECT_EQ(m->pieces[2].type, SpmPiece::Type::control);
    EXPECT_EQ(m->pieces[7].piece, "\xE2\x96\x81the");
    EXPECT_EQ(m->model_type, 1);
    EXPECT_EQ(m->unk_id, 0);
    EXPECT_EQ(m->bos_id, 1);
    EXPECT_EQ(m->eos_id, 2);
}

struct Bad {
    const char* name;
    std::string bytes;
    std::vector<std::string> expect;  // parts of the message
};

std::vector<Bad> bad_models() {
    const std::string piece = ProtoBytes().bytes(1, spm_piece("a", 0.f, 1)).str();
    std::vector<Bad> v;
    v.push_back({"TruncatedVarint", std::string("\x0a\x85", 2), {"ModelProto @0x1: varint cut off"}});
    v.push_back({"LengthPastEnd",
                 ProtoBytes().tag(1, 2).varint(100).raw("abc").str(),
                 {"ModelProto @0x1: field 1: length 100 runs past the end of its message (3 bytes left)"}});
    v.push_back({"HugeLength",
                 ProtoBytes().tag(1, 2).varint(uint64_t(1) << 63).raw("abc").str(),
                 {"@0x1", "length 9223372036854775808 runs past the end"}});
    v.push_back({"WrongWireType",
                 ProtoBytes().uint(1, 5).str(),
                 {"pieces[0] @0x0: wire type 0 (varint), expected 2 (length-delimited)"}});
    v.push_back({"WrongWireTypeInTrainer",
                 piece + ProtoBytes().bytes(2, ProtoBytes().bytes(40, "x").str()).str(),
                 {"trainer_spec.unk_id @0xc: wire type 2 (length-delimited), expected 0 (varint)"}});
    v.push_back({"ScoreAsVarint",
                 ProtoBytes().bytes(1, ProtoBytes().bytes(1, "a").uint(2, 1).str()).str(),
                 {"pieces[0].score @0x5: wire type 0 (varint), expected 5 (fixed32)"}});
    v.push_back({"PieceNotUtf8",
                 ProtoBytes().bytes(1, spm_piece("\xff\xfe", 0.f, 1)).str(),
                 {"pieces[0].piece @0x2: not valid UTF-8"}});
    v.push_back({"PieceWithoutText",
                 ProtoBytes().bytes(1, ProtoBytes().f32(2, 1.f).str()).str(),
                 {"pieces[0] @0x2: no piece text"}});
    v.push_back({"EmptyPiece",
                 ProtoBytes().bytes(1, ProtoBytes().bytes(1, "").str()).str(),
                 {"pieces[0] @0x2: no piece text"}});
    v.push_back({"NoPieces", ProtoBytes().bytes(2, ProtoBytes().uint(40, 0).str()).str(), {"pieces: none"}});
    v.push_back({"Empty", std::string(), {"pieces: none"}});
    v.push_back({"TypeOutOfRange",
                 ProtoBytes().bytes(1, ProtoBytes().bytes(1, "a").uint(3, 9).str()).str(),
                 {"pieces[0].type @0x5: 9 (expected 1..6"}});
    v.push_back({"Group",
                 piece + ProtoBytes().tag(7, 3).str(),
                 {"ModelProto @0xa: field 7: wire type 3 (group) is not supported"}});
    v.push_back(
        {"BadWireType", piece + ProtoBytes().tag(7, 6).str(), {"ModelProto @0xa: field 7: wire type 6 (invalid)"}});
    v.push_back({"FieldZero", std::string("\x00\x01", 2), {"ModelProto @0x0: field number 0"}});
    v.push_back({"VarintOver64Bits",
                 piece + ProtoBytes().tag(9, 0).raw(std::string(9, '\xff') + "\x7f").str(),
                 {"ModelProto @0xb: varint longer than 64 bits"}});
    v.push_back({"Fixed32CutOff",
                 ProtoBytes().bytes(1, ProtoBytes().bytes(1, "a").tag(2, 5).raw("xy").str()).str(),
                 {"pieces[0] @0x6: field 2: fixed32 needs 4 bytes, 2 left in its message"}});
    v.push_back(
        {"NestedLengthPastItsMessage",
         ProtoBytes().tag(1, 2).varint(4).raw(ProtoBytes().tag(1, 2).varint(50).raw("ab").str()).raw("zz").str(),
         {"pieces[0] @0x3: field 1: length 50 runs past the end of its message (2 bytes left)"}});
    return v;
}

// gtest prints parameters of failing tests; the name is enough.
void PrintTo(const Bad& b, std::ostream* os) { *os << b.name; }

class SpmModelBad : public testing::TestWithParam<Bad> {};

TEST_P(SpmModelBad, IsAClearError) {
    const Bad& b = GetParam();
    auto m = SpmModel::parse(b.bytes, "bad.model");
    ASSERT_FALSE(m.ok()) << b.name;
    const std::string msg = m.error().message();
    EXPECT_EQ(msg.rfind("bad.model: ", 0), 0u) << msg;
    for (const std::string& part : b.expect)
        EXPECT_NE(msg.find(part), std::string::npos) << msg << "\n  wanted: " << part;
}

INSTANTIATE_TEST_SUITE_P(Cases, SpmModelBad, testing::ValuesIn(bad_models()),
                         [](const auto& info) { return std::string(info.param.name); });

// A cut at a top-level field boundary after the first piece is a smaller valid model; any other cut is an error.
TEST(SpmModel, EveryCutIsAModelOrAnError) {
    const Valid v = valid_model();
    for (size_t n = 0; n < v.bytes.size(); ++n) {
        auto m = SpmModel::parse(std::string_view(v.bytes).substr(0, n), "cut.model");
        const bool boundary = std::find(v.ends.begin(), v.ends.end(), n) != v.ends.end();
        EXPECT_EQ(m.ok(), boundary) << "cut at " << n << ": " << (m.ok() ? "" : m.error().message());
    }
}

// Every single-byte change of a valid model is read or refused, never a crash or a read out of bounds.
TEST(SpmModel, ByteFlipsNeverCrash) {
    const Valid v = valid_model();
    for (size_t i = 0; i < v.bytes.size(); ++i)
        for (int x : {0x00, 0x01, 0x7f, 0x80, 0xff}) {
            std::string b = v.bytes;
            b[i] = char(x);
            auto m = SpmModel::parse(b, "flip.model");
            if (!m.ok()) {
                EXPECT_EQ(m.error().message().rfind("flip.model: ", 0), 0u);
            }
        }
}

}  // namespace
}  // namespace loom::tokenizer
