// Test data of the matmul family: random weight matrices in any type, activations with offsets and outliers.
// Deterministic from a seed. Include from tests/unit/kernels/*_test.cpp only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/tensor.h"
#include "kernels/ref/quant.h"

namespace loom::kernels::testing_data {

inline std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, sigma);
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = dist(rng);
    return x;
}

// Rows of a random matrix in type t; each row gets its own scale so blocks differ in magnitude.
struct Matrix {
    DType type;
    int64_t rows, cols;
    std::vector<uint8_t> bytes;
    TensorView view(int64_t n_rows) const { return TensorView::dense(bytes.data(), type, {n_rows, cols}); }
};

inline Matrix random_matrix(DType t, int64_t rows, int64_t cols, uint32_t seed) {
    Matrix m{t, rows, cols, std::vector<uint8_t>(static_cast<size_t>(row_bytes(t, cols) * rows))};
    std::vector<float> x = gaussian(rows * cols, seed);
    for (int64_t r = 0; r < rows; ++r) {
        const float s = 0.25f + float(r % 5) * 0.5f;
        for (int64_t i = 0; i < cols; ++i) x[size_t(r * cols + i)] *= s;
        EXPECT_TRUE(ref::quantize_row(t, x.data() + r * cols, m.bytes.data() + r * row_bytes(t, cols), cols).ok());
    }
    return m;
}

// Activations with a non-zero mean per row (so offset terms like Q4_0's −8·Σa matter) and a few outliers.
inline std::vector<float> random_acts(int64_t n_tok, int64_t n_in, uint32_t seed) {
    std::vector<float> x = gaussian(n_tok * n_in, seed);
    for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t i = 0; i < n_in; ++i) {
            float& v = x[size_t(t * n_in + i)];
            v = v * (1.f + float(t % 3)) + 0.3f * float(t % 4);
            if ((i * 7 + t) % 97 == 0) v *= 8.f;
        }
    return x;
}

}  // namespace loom::kernels::testing_data
