// The load-time transforms of runtime/hf_transform.h, each against a small case worked by hand.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/half.h"
#include "runtime/hf_transform.h"

namespace loom::runtime {
namespace {

LoadTensor f32_tensor(std::vector<int64_t> shape, const std::vector<float>& v) {
    LoadTensor t;
    t.shape = std::move(shape);
    t.bytes.resize(v.size() * 4);
    std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
    return t;
}

Result<double> no_args(const std::string& a) { return std::stod(a); }

TEST(HfTransform, RopePermuteMovesRotateHalfRowsToAdjacentPairs) {
    // Two heads of 4 rows, one column: Hugging Face rows per head [a0 a1 b0 b1] (halves a, b) → GGUF [a0 b0 a1 b1].
    auto r = apply_hf_transform({"rope_permute", {"2"}, "rope_permute(2)"},
                                f32_tensor({8, 1}, {0, 1, 2, 3, 10, 11, 12, 13}), no_args);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(to_f32(*r), (std::vector<float>{0, 2, 1, 3, 10, 12, 11, 13}));
    auto bad = apply_hf_transform({"rope_permute", {"3"}, "rope_permute(3)"}, f32_tensor({8, 1}, std::vector<float>(8)),
                                  no_args);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("8 rows do not split into 3 heads"), std::string::npos);
}

TEST(HfTransform, AddNegExpSqueezeAndCastComputeInF32) {
    LoadTensor bf;
    bf.type = DType::bf16;
    bf.shape = {1, 2};
    const uint16_t v[2] = {f32_to_bf16(0.5f), f32_to_bf16(-2.0f)};
    bf.bytes.resize(4);
    std::memcpy(bf.bytes.data(), v, 4);
    auto added = apply_hf_transform({"add", {"1"}, "add(1)"}, bf, no_args);
    ASSERT_TRUE(added.ok());
    EXPECT_EQ(added->type, DType::f32);
    EXPECT_EQ(to_f32(*added), (std::vector<float>{1.5f, -1.0f}));
    auto neg = apply_hf_transform({"neg_exp", {}, "neg_exp"}, bf, no_args);
    ASSERT_TRUE(neg.ok());
    EXPECT_EQ(to_f32(*neg), (std::vector<float>{-std::exp(0.5f), -std::exp(-2.0f)}));
    auto sq = apply_hf_transform({"squeeze", {}, "squeeze"}, bf, no_args);
    ASSERT_TRUE(sq.ok());
    EXPECT_EQ(sq->shape, std::vector<int64_t>{2});
    EXPECT_EQ(sq->type, DType::bf16);
    auto unknown = apply_hf_transform({"rotate", {}, "rotate"}, bf, no_args);
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().message().find("unknown transform 'rotate'"), std::string::npos);
}

TEST(HfTransform, ReorderHeadsTilesValueHeadsAfterTheStart) {
    // Rows: 2 leading rows untouched, then 4 heads of one row in 2 groups: grouped [g0v0 g0v1 g1v0 g1v1] → tiled
    // [g0v0 g1v0 g0v1 g1v1].
    auto rows = apply_hf_transform({"reorder_heads", {"0", "2", "4", "1"}, "reorder_heads(0, 2, 4, 1)"},
                                   f32_tensor({6, 1}, {7, 8, 0, 1, 2, 3}), no_args);
    ASSERT_TRUE(rows.ok()) << rows.error().message();
    EXPECT_EQ(to_f32(*rows), (std::vector<float>{7, 8, 0, 2, 1, 3}));
    // Columns (axis -1), heads of 2 entries: each row [a a b b c c d d] with 2 groups → [a a c c b b d d].
    auto cols = apply_hf_transform({"reorder_heads", {"-1", "2", "4", "2"}, "reorder_heads(-1, 2, 4, 2)"},
                                   f32_tensor({1, 8}, {0, 0, 1, 1, 2, 2, 3, 3}), no_args);
    ASSERT_TRUE(cols.ok()) << cols.error().message();
    EXPECT_EQ(to_f32(*cols), (std::vector<float>{0, 0, 2, 2, 1, 1, 3, 3}));
    auto bad = apply_hf_transform({"reorder_heads", {"0", "3", "4", "1"}, "reorder_heads(0, 3, 4, 1)"},
                                  f32_tensor({4, 1}, std::vector<float>(4)), no_args);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("4 heads of 1 in 3 groups do not fit"), std::string::npos);
}

TEST(HfTransform, ReshapeSliceTransposeSplitAFusedTensor) {
    // DeepSeek's kv_b for 2 heads of (nope 1 + v 2) rows × 2 columns: [h, 3, 2]; k_b = rows 0..1 transposed,
    // v_b = rows 1..3.
    const std::vector<float> kv = {0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15};
    auto r = apply_hf_transform({"reshape", {"2", "-1", "2"}, "reshape(2, -1, 2)"}, f32_tensor({6, 2}, kv), no_args);
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(r->shape, (std::vector<int64_t>{2, 3, 2}));
    auto k = apply_hf_transform({"slice", {"1", "0", "1"}, "slice(1, 0, 1)"}, *r, no_args);
    ASSERT_TRUE(k.ok()) << k.error().message();
    k = apply_hf_transform({"transpose", {}, "transpose"}, std::move(k).value(), no_args);
    ASSERT_TRUE(k.ok());
    EXPECT_EQ(k->shape, (std::vector<int64_t>{2, 2, 1}));
    EXPECT_EQ(to_f32(*k), (std::vector<float>{0, 1, 10, 11}));
    auto v = apply_hf_transform({"slice", {"1", "1", "2"}, "slice(1, 1, 2)"}, *r, no_args);
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->shape, (std::vector<int64_t>{2, 2, 2}));
    EXPECT_EQ(to_f32(*v), (std::vector<float>{2, 3, 4, 5, 12, 13, 14, 15}));
    // A 2×3 transposed, bf16 kept.
    LoadTensor m = f32_tensor({2, 3}, {1, 2, 3, 4, 5, 6});
    auto t = apply_hf_transform({"transpose", {}, "transpose"}, m, no_args);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(to_f32(*t), (std::vector<float>{1, 4, 2, 5, 3, 6}));

    auto bad_shape = apply_hf_transform({"reshape", {"5", "-1"}, "reshape(5, -1)"}, f32_tensor({6, 2}, kv), no_args);
    ASSERT_FALSE(bad_shape.ok());
    EXPECT_NE(bad_shape.error().message().find("12 elements (6×2) do not make shape"), std::string::npos)
        << bad_shape.error().message();
    auto bad_slice = apply_hf_transform({"slice", {"1", "2", "2"}, "slice(1, 2, 2)"}, *r, no_args);
    ASSERT_FALSE(bad_slice.ok());
    EXPECT_NE(bad_slice.error().message().find("entries 2..4 are not within the 3 of axis 1"), std::string::npos)
        << bad_slice.error().message();
    auto bad_axis = apply_hf_transform({"slice", {"3", "0", "1"}, "slice(3, 0, 1)"}, *r, no_args);
    ASSERT_FALSE(bad_axis.ok());
    EXPECT_NE(bad_axis.error().message().find("axis 3 is not one of the tensor's 3 dimensions"), std::string::npos);
}

}  // namespace
}  // namespace loom::runtime
