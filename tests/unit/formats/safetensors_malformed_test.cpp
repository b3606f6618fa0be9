// Hostile safetensors files (format pitfalls of the shared reference, vision-and-safetensors §2.1): each must be
// rejected by SafetensorsFile::parse with one message naming the source, the tensor or field, the byte offset and
// the problem. Also: well-formed files parse to the right views, every truncation of a valid file is rejected, and
// sharded checkpoints whose index disagrees with the shards are refused (§2.2).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "formats/safetensors_checkpoint.h"
#include "formats/safetensors_reader.h"
#include "unit/formats/safetensors_bytes.h"
#include "unit/test_env.h"

namespace loom::formats {
namespace {

using testutil::safetensors_raw;
using testutil::SafetensorsBuilder;

struct Case {
    std::string name;
    std::vector<uint8_t> bytes;
    std::vector<std::string> expect;  // parts of the message, besides the source
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.name << " (" << c.bytes.size() << " bytes)"; }

std::vector<uint8_t> zeros(size_t n) { return std::vector<uint8_t>(n, 0); }

// One F32 tensor "w" of shape [2] at [0, 8): the base most cases break one thing of.
std::string entry(const std::string& dtype, const std::string& shape, const std::string& offsets) {
    return R"("w":{"dtype":")" + dtype + R"(","shape":)" + shape + R"(,"data_offsets":)" + offsets + "}";
}
std::string obj(const std::string& body) { return "{" + body + "}"; }

std::vector<Case> cases() {
    const std::string ok_w = entry("F32", "[2]", "[0,8]");
    std::vector<Case> c = {
        {"Empty", {}, {"header length @0x0", "expected at least 8"}},
        {"SevenBytes", zeros(7), {"header length @0x0", "file is 7 bytes"}},
        {"HeaderOverLimit", safetensors_raw("{}", {}, 100'000'001), {"header length @0x0", "more than the limit"}},
        {"HeaderPastFile", safetensors_raw("{}", {}, 64), {"header length @0x0", "only 2 after the length"}},
        {"HeaderHugeLength", safetensors_raw("{}", {}, UINT64_MAX - 1), {"more than the limit"}},
        {"NotJson", safetensors_raw("hello"), {"header @0x8", "not valid JSON"}},
        {"TruncatedJson", safetensors_raw(R"({"w":{"dtype":"F32")"), {"not valid JSON"}},
        {"TopLevelArray", safetensors_raw("[1,2]"), {"header @0x8", "JSON is array, expected an object"}},
        {"BadUtf8", safetensors_raw("{\"w\xff\":1}"), {"not valid JSON"}},
        {"EmptyHeader", safetensors_raw(""), {"not valid JSON"}},
        {"EntryNotObject", safetensors_raw(R"({"w":[1]})"), {"tensor 'w' @0x9", "entry is array"}},
        {"MissingDtype",
         safetensors_raw(R"({"w":{"shape":[2],"data_offsets":[0,8]}})", zeros(8)),
         {"tensor 'w'", "missing field 'dtype'"}},
        {"MissingShape",
         safetensors_raw(R"({"w":{"dtype":"F32","data_offsets":[0,8]}})", zeros(8)),
         {"missing field 'shape'"}},
        {"MissingOffsets",
         safetensors_raw(R"({"w":{"dtype":"F32","shape":[2]}})", zeros(8)),
         {"missing field 'data_offsets'"}},
        {"UnknownField",
         safetensors_raw(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"x":1}})", zeros(8)),
         {"unknown field 'x'"}},
        {"DtypeNotString",
         safetensors_raw(R"({"w":{"dtype":32,"shape":[2],"data_offsets":[0,8]}})", zeros(8)),
         {"dtype must be a string"}},
        {"UnknownDtype",
         safetensors_raw(obj(entry("F17", "[2]", "[0,8]")), zeros(8)),
         {"tensor 'w' @0x9", "unknown dtype 'F17'", "BF16"}},
        {"LowercaseDtype", safetensors_raw(obj(entry("f32", "[2]", "[0,8]")), zeros(8)), {"unknown dtype 'f32'"}},
        {"ShapeNotArray", safetensors_raw(obj(entry("F32", "2", "[0,8]")), zeros(8)), {"shape must be an array"}},
        {"NegativeDim",
         safetensors_raw(obj(entry("F32", "[-2]", "[0,8]")), zeros(8)),
         {"shape dimension -2 is negative"}},
        {"FloatDim",
         safetensors_raw(obj(entry("F32", "[2.5]", "[0,8]")), zeros(8)),
         {"shape dimension must be a non-negative integer, got 2.5"}},
        {"StringDim",
         safetensors_raw(obj(entry("F32", "[\"2\"]", "[0,8]")), zeros(8)),
         {"shape dimension must be a non-negative integer"}},
        {"RankNine",
         safetensors_raw(obj(entry("F32", "[1,1,1,1,1,1,1,1,2]", "[0,8]")), zeros(8)),
         {"9 dimensions, at most 8"}},
        {"ElementCountOverflow",
         safetensors_raw(obj(entry("F32", "[4294967296,4294967296]", "[0,8]")), zeros(8)),
         {"overflows the element count"}},
        {"ByteCountOverflow",
         safetensors_raw(obj(entry("F32", "[4611686018427387904]", "[0,8]")), zeros(8)),
         {"overflows"}},
        {"OffsetsThree",
         safetensors_raw(obj(entry("F32", "[2]", "[0,8,8]")), zeros(8)),
         {"data_offsets must be [begin, end]"}},
        {"OffsetsNotArray",
         safetensors_raw(obj(entry("F32", "[2]", "8")), zeros(8)),
         {"data_offsets must be [begin, end]"}},
        {"OffsetsReversed", safetensors_raw(obj(entry("F32", "[0]", "[8,0]")), zeros(8)), {"end before begin"}},
        {"OffsetNegative",
         safetensors_raw(obj(entry("F32", "[2]", "[-8,0]")), zeros(8)),
         {"data_offsets begin -8 is negative"}},
        {"ShapeBytesMismatch",
         safetensors_raw(obj(entry("F32", "[3]", "[0,8]")), zeros(8)),
         {"shape [3] of F32 needs 12 bytes, data_offsets [0, 8] hold 8"}},
        {"BF16SizeMismatch", safetensors_raw(obj(entry("BF16", "[2]", "[0,8]")), zeros(8)), {"needs 4 bytes"}},
        {"GapAtStart",
         safetensors_raw(obj(entry("F32", "[2]", "[4,12]")), zeros(12)),
         {"tensor 'w'", "leaving a gap after byte 0"}},
        {"GapBetween",
         safetensors_raw(obj(ok_w + "," + R"("x":{"dtype":"F32","shape":[1],"data_offsets":[12,16]})"), zeros(16)),
         {"tensor 'x'", "data starts at 12, leaving a gap after byte 8"}},
        {"Overlap",
         safetensors_raw(obj(ok_w + "," + R"("x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]})"), zeros(12)),
         {"tensor 'x'", "overlaps the previous tensor (ends at 8)"}},
        {"SameRangeTwice",
         safetensors_raw(obj(ok_w + "," + R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})"), zeros(8)),
         {"overlaps the previous tensor"}},
        {"PastEnd", safetensors_raw(obj(ok_w), zeros(4)), {"tensor 'w'", "runs past the end of the data (4 bytes)"}},
        {"TrailingBytes", safetensors_raw(obj(ok_w), zeros(12)), {"data @0x", "4 bytes after the last tensor"}},
        {"DataWithoutTensors", safetensors_raw("{}", zeros(3)), {"3 bytes after the last tensor"}},
        {"DuplicateName", safetensors_raw(obj(ok_w + "," + ok_w), zeros(8)), {"tensor 'w'", "appears twice"}},
        {"DuplicateField",
         safetensors_raw(R"({"w":{"dtype":"F32","dtype":"F16","shape":[2],"data_offsets":[0,8]}})", zeros(8)),
         {"'dtype'", "appears twice"}},
        {"MetadataNotObject", safetensors_raw(R"({"__metadata__":"x"})"), {"__metadata__ @0x9", "expected an object"}},
        {"MetadataValueNotString",
         safetensors_raw(R"({"__metadata__":{"format":1}})"),
         {"__metadata__ 'format'", "expected a string"}},
        {"EmptyName",
         safetensors_raw(R"({"":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", zeros(8)),
         {"tensor ''", "empty tensor name"}},
    };
    return c;
}

class SafetensorsMalformed : public ::testing::TestWithParam<Case> {};

TEST_P(SafetensorsMalformed, IsRejectedWithItsMessage) {
    const Case& c = GetParam();
    auto f = SafetensorsFile::parse(c.bytes, "bad.safetensors");
    ASSERT_FALSE(f.ok()) << c.name << " was accepted";
    const std::string msg = f.error().message();
    EXPECT_EQ(msg.rfind("bad.safetensors: ", 0), 0u) << msg;
    for (const std::string& part : c.expect)
        EXPECT_NE(msg.find(part), std::string::npos) << "want '" << part << "' in: " << msg;
}

INSTANTIATE_TEST_SUITE_P(All, SafetensorsMalformed, ::testing::ValuesIn(cases()),
                         [](const auto& info) { return info.param.name; });

TEST(SafetensorsMalformedCount, AtLeastThirty) { EXPECT_GE(cases().size(), 30u); }

std::vector<uint8_t> good_file() {
    SafetensorsBuilder b;
    b.metadata("format", "pt");
    b.add_f32("a", {2, 3}, {1, 2, 3, 4, 5, 6});
    b.add("b", "BF16", {3}, {0x80, 0x3f, 0x00, 0x40, 0x40, 0x40});
    b.add("empty", "F16", {0, 4}, {});
    b.add("scalar", "I64", {}, {7, 0, 0, 0, 0, 0, 0, 0});
    return b.bytes();
}

TEST(Safetensors, ParsesViewsTypesAndMetadata) {
    const std::vector<uint8_t> bytes = good_file();
    auto f = SafetensorsFile::parse(bytes, "good.safetensors");
    ASSERT_TRUE(f.ok()) << f.error().message();
    ASSERT_EQ(f->tensors().size(), 4u);
    EXPECT_EQ(f->metadata().at("format"), "pt");
    const SafeTensor* a = f->tensor("a");
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(a->type, DType::f32);
    EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(a->offset, f->data_offset());
    float v[6];
    std::memcpy(v, a->data, sizeof v);
    EXPECT_EQ(v[5], 6.0f);
    EXPECT_EQ(f->tensor("b")->type, DType::bf16);
    EXPECT_EQ(f->tensor("empty")->n_elements(), 0);
    const SafeTensor* s = f->tensor("scalar");
    EXPECT_FALSE(s->type.has_value());  // parsed, but not a type loom computes with
    EXPECT_EQ(s->dtype, "I64");
    EXPECT_EQ(s->n_elements(), 1);
    EXPECT_EQ(f->tensor("nope"), nullptr);
    EXPECT_EQ(f->data_offset() % 8, 0u);
}

TEST(Safetensors, EveryTruncationIsRejected) {
    const std::vector<uint8_t> bytes = good_file();
    for (size_t n = 0; n < bytes.size(); ++n) {
        std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
        EXPECT_FALSE(SafetensorsFile::parse(cut, "cut").ok()) << "prefix of " << n << " bytes accepted";
    }
}

TEST(Safetensors, ByteFlipsNeverCrash) {
    const std::vector<uint8_t> bytes = good_file();
    for (size_t i = 0; i < bytes.size(); ++i)
        for (uint8_t x : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
            std::vector<uint8_t> b = bytes;
            b[i] ^= x;
            auto f = SafetensorsFile::parse(b, "flip");
            if (!f.ok()) continue;
            for (const SafeTensor& t : f->tensors()) EXPECT_LE(t.offset + t.bytes, b.size()) << "flip at " << i;
        }
}

// A directory with the given files (name → bytes), in this process's scratch space.
std::string make_dir(const std::string& name, const std::vector<std::pair<std::string, std::string>>& files) {
    std::string dir = test::scratch_path(name);
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    for (const auto& [file, text] : files) std::ofstream(dir + "/" + file, std::ios::binary) << text;
    return dir;
}

std::string file_of(const std::vector<std::pair<std::string, std::vector<float>>>& tensors) {
    SafetensorsBuilder b;
    for (const auto& [name, v] : tensors) b.add_f32(name, {int64_t(v.size())}, v);
    const std::vector<uint8_t> bytes = b.bytes();
    return {bytes.begin(), bytes.end()};
}

const std::string kShard1 = "model-00001-of-00002.safetensors";
const std::string kShard2 = "model-00002-of-00002.safetensors";

std::string index_of(const std::string& map) { return R"({"metadata":{"total_size":1},"weight_map":)" + map + "}"; }

TEST(SafetensorsCheckpoint, OpensShardsThatAgreeWithTheIndex) {
    const std::string dir =
        make_dir("st-shards", {{kShard1, file_of({{"a", {1}}, {"b", {2}}})},
                               {kShard2, file_of({{"c", {3}}})},
                               {"model.safetensors.index.json", index_of(R"({"a":")" + kShard1 + R"(","b":")" +
                                                                         kShard1 + R"(","c":")" + kShard2 + R"("})")}});
    auto c = SafetensorsCheckpoint::open(dir);
    ASSERT_TRUE(c.ok()) << c.error().message();
    EXPECT_EQ(c->files().size(), 2u);
    EXPECT_EQ(c->names(), (std::vector<std::string>{"a", "b", "c"}));
    const SafetensorsFile* f = nullptr;
    ASSERT_NE(c->tensor("c", &f), nullptr);
    EXPECT_NE(f->source().find(kShard2), std::string::npos);
}

struct ShardCase {
    std::string name;
    std::vector<std::pair<std::string, std::string>> files;
    std::string expect;
};

TEST(SafetensorsCheckpoint, RefusesShardsThatDisagree) {
    const std::string s1 = file_of({{"a", {1}}}), s2 = file_of({{"b", {2}}});
    const std::string map_ab = R"({"a":")" + kShard1 + R"(","b":")" + kShard2 + R"("})";
    const std::vector<ShardCase> cases = {
        {"none", {{"config.json", "{}"}}, "no model.safetensors and no model.safetensors.index.json"},
        {"missing", {{kShard1, s1}, {"model.safetensors.index.json", index_of(map_ab)}}, "shard '" + kShard2 + "'"},
        {"escape",
         {{kShard1, s1}, {"model.safetensors.index.json", index_of(R"({"a":"../x.safetensors"})")}},
         "not a file name in the model directory"},
        {"two_shards",
         {{kShard1, s1},
          {kShard2, file_of({{"a", {1}}})},
          {"model.safetensors.index.json", index_of(R"({"a":")" + kShard1 + R"(","b":")" + kShard2 + R"("})")}},
         "tensor 'a' @0x"},
        {"unmapped",
         {{kShard1, file_of({{"a", {1}}, {"z", {1}}})},
          {kShard2, s2},
          {"model.safetensors.index.json", index_of(map_ab)}},
         "tensor 'z' @0x"},
        {"wrong_shard",
         {{kShard1, s1},
          {kShard2, file_of({{"b", {2}}, {"c", {3}}})},
          {"model.safetensors.index.json",
           index_of(R"({"a":")" + kShard1 + R"(","b":")" + kShard2 + R"(","c":")" + kShard1 + R"("})")}},
         "tensor 'c' @0x"},
        {"no_weight_map", {{kShard1, s1}, {"model.safetensors.index.json", "{}"}}, "no \"weight_map\" object"},
        {"bad_shard_file",
         {{kShard1, "garbage"}, {"model.safetensors.index.json", index_of(R"({"a":")" + kShard1 + R"("})")}},
         kShard1 + ": header length @0x0"},
    };
    for (const ShardCase& sc : cases) {
        auto c = SafetensorsCheckpoint::open(make_dir("st-" + sc.name, sc.files));
        ASSERT_FALSE(c.ok()) << sc.name << " was accepted";
        EXPECT_NE(c.error().message().find(sc.expect), std::string::npos)
            << sc.name << ": want '" << sc.expect << "' in: " << c.error().message();
    }
}

}  // namespace
}  // namespace loom::formats
