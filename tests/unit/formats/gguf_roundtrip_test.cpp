// Round trip: whatever the writer writes, the reader reads back identically: every key, type, value,
// tensor name, type, shape, offset alignment and byte.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "unit/test_env.h"

namespace loom::formats {
namespace {

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n) {
    std::vector<uint8_t> v(n);
    for (auto& b : v) b = uint8_t(rng());
    return v;
}

GgufWriter every_type_writer(uint32_t alignment) {
    GgufWriter w;
    w.set_alignment(alignment);
    w.set("general.architecture", std::string("testarch"));
    w.set("t.u8", uint8_t(250));
    w.set("t.i8", int8_t(-7));
    w.set("t.u16", uint16_t(65000));
    w.set("t.i16", int16_t(-32000));
    w.set("t.u32", uint32_t(4000000000u));
    w.set("t.i32", int32_t(-2000000000));
    w.set("t.f32", 3.25f);
    w.set("t.bool", true);
    w.set("t.string", std::string("h\xc3\xa9llo"));
    w.set("t.u64", uint64_t(1) << 60);
    w.set("t.i64", -(int64_t(1) << 60));
    w.set("t.f64", 2.5e300);
    w.set("t.arr.u8", std::vector<uint8_t>{1, 2, 3});
    w.set("t.arr.i8", std::vector<int8_t>{-1, 0, 1});
    w.set("t.arr.u16", std::vector<uint16_t>{1, 65535});
    w.set("t.arr.i16", std::vector<int16_t>{-5});
    w.set("t.arr.u32", std::vector<uint32_t>{});
    w.set("t.arr.i32", std::vector<int32_t>{1, -1, 7});
    w.set("t.arr.f32", std::vector<float>{0.5f, -1.f, 1e30f});
    w.set("t.arr.bool", std::vector<bool>{true, false, true});
    w.set("t.arr.string", std::vector<std::string>{"a", "", "<0x0A>", "\xe2\x96\x81the"});
    w.set("t.arr.u64", std::vector<uint64_t>{~uint64_t(0)});
    w.set("t.arr.i64", std::vector<int64_t>{-1, 1});
    w.set("t.arr.f64", std::vector<double>{1.0 / 3.0});
    std::mt19937 rng(1234);
    w.add_tensor("token_embd.weight", DType::q8_0, {10, 64}, random_bytes(rng, 10 * 2 * 34));
    w.add_tensor("blk.0.attn_norm.weight", DType::f32, {64}, random_bytes(rng, 64 * 4));
    w.add_tensor("blk.0.ffn_up.weight", DType::q4_k, {3, 512}, random_bytes(rng, 3 * 2 * 144));
    w.add_tensor("blk.0.odd", DType::f16, {2, 3, 5, 7}, random_bytes(rng, 2 * 3 * 5 * 7 * 2));
    w.add_tensor("blk.0.bf", DType::bf16, {1}, random_bytes(rng, 2));
    return w;
}

class GgufRoundTrip : public ::testing::TestWithParam<uint32_t> {};

TEST_P(GgufRoundTrip, EveryFieldAndByteSurvives) {
    const GgufWriter w = every_type_writer(GetParam());
    auto bytes = w.to_bytes();
    ASSERT_TRUE(bytes.ok()) << bytes.error().message();
    auto f = GgufFile::parse(*bytes, "mem.gguf");
    ASSERT_TRUE(f.ok()) << f.error().message();

    EXPECT_EQ(f->version(), 3u);
    EXPECT_EQ(f->alignment(), GetParam());
    EXPECT_EQ(f->data_offset() % GetParam(), 0u);
    EXPECT_EQ(*f->get<uint8_t>("t.u8"), 250);
    EXPECT_EQ(*f->get<int8_t>("t.i8"), -7);
    EXPECT_EQ(*f->get<uint16_t>("t.u16"), 65000);
    EXPECT_EQ(*f->get<int16_t>("t.i16"), -32000);
    EXPECT_EQ(*f->get<uint32_t>("t.u32"), 4000000000u);
    EXPECT_EQ(*f->get<int32_t>("t.i32"), -2000000000);
    EXPECT_EQ(*f->get<float>("t.f32"), 3.25f);
    EXPECT_EQ(*f->get<bool>("t.bool"), true);
    EXPECT_EQ(*f->get_string("t.string"), "h\xc3\xa9llo");
    EXPECT_EQ(*f->get<uint64_t>("t.u64"), uint64_t(1) << 60);
    EXPECT_EQ(*f->get<int64_t>("t.i64"), -(int64_t(1) << 60));
    EXPECT_EQ(*f->get<double>("t.f64"), 2.5e300);
    EXPECT_EQ(f->get_array<float>("t.arr.f32")->to_vector(), (std::vector<float>{0.5f, -1.f, 1e30f}));
    auto strs = f->get_string_array("t.arr.string");
    ASSERT_TRUE(strs.ok());
    ASSERT_EQ(strs->size(), 4u);
    EXPECT_EQ((*strs)[2], "<0x0A>");
    EXPECT_EQ((*strs)[1], "");

    // Every key in order, with the same owned value as written.
    ASSERT_EQ(f->metadata().size(), w.metadata().size());
    for (size_t i = 0; i < w.metadata().size(); ++i) {
        EXPECT_EQ(f->metadata()[i].key, w.metadata()[i].first);
        EXPECT_TRUE(f->metadata()[i].to_owned() == w.metadata()[i].second) << w.metadata()[i].first;
    }
    EXPECT_TRUE(f->find("t.arr.bool")->to_owned() == GgufValue(std::vector<bool>{true, false, true}));
    EXPECT_TRUE(f->find("t.arr.u64")->to_owned() == GgufValue(std::vector<uint64_t>{~uint64_t(0)}));

    // Tensors: names, types, shapes, data bytes, alignment.
    std::mt19937 rng(1234);
    struct Want {
        const char* name;
        DType type;
        std::vector<int64_t> shape;
        size_t bytes;
    };
    const Want tensors[] = {{"token_embd.weight", DType::q8_0, {10, 64}, 10 * 2 * 34},
                            {"blk.0.attn_norm.weight", DType::f32, {64}, 64 * 4},
                            {"blk.0.ffn_up.weight", DType::q4_k, {3, 512}, 3 * 2 * 144},
                            {"blk.0.odd", DType::f16, {2, 3, 5, 7}, 2 * 3 * 5 * 7 * 2},
                            {"blk.0.bf", DType::bf16, {1}, 2}};
    ASSERT_EQ(f->tensors().size(), 5u);
    for (size_t i = 0; i < 5; ++i) {
        const TensorInfo& t = f->tensors()[i];
        EXPECT_EQ(t.name, tensors[i].name);
        EXPECT_EQ(t.type, tensors[i].type);
        EXPECT_EQ(t.shape, tensors[i].shape);
        EXPECT_EQ(t.bytes, tensors[i].bytes);
        EXPECT_EQ(t.offset % GetParam(), 0u);
        const auto expect = random_bytes(rng, tensors[i].bytes);
        EXPECT_EQ(0, std::memcmp(t.data, expect.data(), expect.size())) << t.name;
        EXPECT_EQ(f->tensor(tensors[i].name), &t);
    }
    EXPECT_EQ(f->tensors()[3].ne, (std::array<int64_t, 4>{7, 5, 3, 2}));
}

INSTANTIATE_TEST_SUITE_P(Alignments, GgufRoundTrip, ::testing::Values(32u, 1u, 8u, 64u, 4096u));

TEST(GgufRoundTrip, FileOnDiskViaMmap) {
    const GgufWriter w = every_type_writer(32);
    const std::string path = test::scratch_path("loom_roundtrip.gguf");
    ASSERT_TRUE(w.write(path).ok());
    auto f = GgufFile::open(path);
    ASSERT_TRUE(f.ok()) << f.error().message();
    EXPECT_EQ(f->source(), path);
    EXPECT_EQ(f->tensors().size(), 5u);
    std::remove(path.c_str());
}

TEST(GgufRoundTrip, EveryLoadModeSeesTheSameBytes) {
    const GgufWriter w = every_type_writer(64);
    const std::string path = test::scratch_path("loom_loadmodes.gguf");
    ASSERT_TRUE(w.write(path).ok());
    auto mapped = GgufFile::open(path, LoadMode::map);
    ASSERT_TRUE(mapped.ok()) << mapped.error().message();
    for (LoadMode mode : {LoadMode::populate, LoadMode::read}) {
        auto f = GgufFile::open(path, mode);
        ASSERT_TRUE(f.ok()) << f.error().message();
        ASSERT_EQ(f->tensors().size(), mapped->tensors().size());
        for (size_t i = 0; i < f->tensors().size(); ++i) {
            const TensorInfo& a = f->tensors()[i];
            const TensorInfo& b = mapped->tensors()[i];
            ASSERT_EQ(a.bytes, b.bytes);
            EXPECT_EQ(0, std::memcmp(a.data, b.data, a.bytes)) << a.name;
        }
        EXPECT_EQ(*f->get_string("t.string"), "h\xc3\xa9llo");
    }
    std::remove(path.c_str());
}

TEST(GgufRoundTrip, MissingFileIsAnIoError) {
    auto f = GgufFile::open("/nonexistent/dir/model.gguf");
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.error().code(), ErrorCode::io);
    EXPECT_NE(f.error().message().find("/nonexistent/dir/model.gguf: cannot open"), std::string::npos);
}

TEST(GgufRoundTrip, EmptyFileHasNoTensorsAndNoPadding) {
    GgufWriter w;
    auto bytes = w.to_bytes();
    ASSERT_TRUE(bytes.ok());
    EXPECT_EQ(bytes->size(), 24u);
    auto f = GgufFile::parse(*bytes, "empty.gguf");
    ASSERT_TRUE(f.ok()) << f.error().message();
    EXPECT_TRUE(f->metadata().empty());
    EXPECT_TRUE(f->tensors().empty());
}

TEST(GgufTypedAccess, WrongTypeIsAnErrorNotAReinterpretation) {
    GgufWriter w;
    w.set("scores_u8", std::vector<uint8_t>{1, 2, 3, 4});
    w.set("count", uint32_t(7));
    w.set("name", std::string("x"));
    auto f = GgufFile::parse(*w.to_bytes(), "m.gguf");
    ASSERT_TRUE(f.ok());
    auto scores = f->get_array<float>("scores_u8");
    ASSERT_FALSE(scores.ok());
    EXPECT_EQ(scores.error().code(), ErrorCode::type_mismatch);
    EXPECT_NE(scores.error().message().find("expected array of f32, got array of u8"), std::string::npos)
        << scores.error().message();
    EXPECT_FALSE(f->get<int32_t>("count").ok());
    EXPECT_FALSE(f->get<float>("count").ok());
    EXPECT_EQ(*f->get_int("count"), 7);
    EXPECT_EQ(*f->get_float("count"), 7.0);
    EXPECT_FALSE(f->get_int("name").ok());
    EXPECT_FALSE(f->get_string_array("name").ok());
    auto missing = f->get<uint32_t>("nope");
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.error().code(), ErrorCode::not_found);
}

}  // namespace
}  // namespace loom::formats
