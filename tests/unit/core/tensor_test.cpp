// TensorView: dense strides in bytes (quantized rows included), row addressing and folding to 2-D.
#include <gtest/gtest.h>

#include "core/tensor.h"

namespace loom {
namespace {

TEST(TensorView, DenseStridesAreBytesOutermostFirst) {
    float buf[2 * 3 * 4];
    TensorView t = TensorView::dense(buf, DType::f32, {2, 3, 4});
    EXPECT_EQ(t.rank, 3);
    EXPECT_EQ(t.stride[2], 4);
    EXPECT_EQ(t.stride[1], 16);
    EXPECT_EQ(t.stride[0], 48);
    EXPECT_EQ(t.n_rows(), 6);
    EXPECT_EQ(t.n_elements(), 24);
    EXPECT_TRUE(t.is_dense());
    EXPECT_EQ(t.row<float>(5), buf + 20);
    EXPECT_EQ(shape_string(t), "[2, 3, 4]");
}

TEST(TensorView, QuantizedRowsUseBlockBytes) {
    uint8_t buf[3 * 2 * 144];
    TensorView t = TensorView::dense(buf, DType::q4_k, {3, 512});
    EXPECT_EQ(t.row_bytes(), 2 * 144);
    EXPECT_EQ(t.stride[0], 288);
    EXPECT_EQ(t.row<uint8_t>(2), buf + 576);
}

TEST(TensorView, StridedRowsAndAs2d) {
    float buf[4 * 10];
    // A [4, 3] view of the first 3 columns of a [4, 10] buffer.
    TensorView t = TensorView::dense(buf, DType::f32, {4, 3});
    t.stride[0] = 40;
    EXPECT_FALSE(t.is_dense());
    EXPECT_EQ(t.row<float>(3), buf + 30);
    TensorView v = TensorView::dense(buf, DType::f32, {2, 2, 10}).as_2d();
    EXPECT_EQ(v.rank, 2);
    EXPECT_EQ(v.shape[0], 4);
    EXPECT_EQ(v.row<float>(3), buf + 30);
}

}  // namespace
}  // namespace loom
