// Test data of the matmul family: the weight types and their row-length grid, the fast-vs-reference tolerance,
// random weight matrices in any type, activations with offsets and outliers. Deterministic from a seed.
// Include from tests/unit/kernels/*.cpp only.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "core/tensor.h"
#include "kernels/ref/quant.h"

namespace loom::kernels::testing_data {

// Every weight type with a matmul path.
inline constexpr DType kMatmulWeightTypes[] = {DType::f32,  DType::f16,  DType::bf16, DType::q4_0,   DType::q4_1,
                                               DType::q5_0, DType::q5_1, DType::q8_0, DType::iq4_nl, DType::q2_k,
                                               DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k,   DType::iq4_xs};

// Row lengths per block size: odd ones where blocks allow, 2056 > the f32 panel (split rows, and a tail of 8).
inline std::vector<int64_t> n_in_grid(DType t) {
    switch (info(t).block_elems) {
        case 256: return {256, 768};
        case 32: return {32, 288, 1024};
        default: return {1, 7, 33, 288, 2056};
    }
}

// Fast vs ref, paired: the same quantized operands; the integer path differs only in the order of f32
// additions, the f32 prefill path also rounds per product instead of per block (nmse).
// Q4_1/Q5_1 on the f32 path: the decoded operands give m·d_a·Σq_a exactly where the reference uses Q8_1's s,
// which is rounded to f16 — the f32 path is closer to the true value, by the format's own error.
inline double fast_tol(DType t) { return t == DType::q4_1 || t == DType::q5_1 ? 1e-5 : 1e-9; }

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
