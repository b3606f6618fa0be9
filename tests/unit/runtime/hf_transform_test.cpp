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
    auto unknown = apply_hf_transform({"transpose", {}, "transpose"}, bf, no_args);
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().message().find("unknown transform 'transpose'"), std::string::npos);
}

}  // namespace
}  // namespace loom::runtime
