// PackedWeight: a weight matrix rearranged at load time for one backend's kernels (rows interleaved so that a
// vector register holds several rows' values). The view it was made from stays the source of truth: every op
// but matmul reads the view's own data, and matmul takes the packed form only while it still describes the
// view it is handed (same data pointer, type and shape), so sub-views and copies that carry it stay safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "core/dtype.h"

namespace loom {

struct TensorView;

enum class PackedLayout : uint8_t {
    none,     // the GGUF layout (rows one after another)
    q4_0_x8,  // Q4_0, 8 rows interleaved per block (kernels/cpu/weight_pack.h)
    q4_k_x8,  // Q4_K, 8 rows interleaved per super-block
    q6_k_x8,  // Q6_K, 8 rows interleaved per super-block
    q5_0_x8,  // Q5_0, 8 rows interleaved per block
};

struct PackedWeight {
    PackedLayout layout = PackedLayout::none;
    const void* source = nullptr;  // the view's data it was made from
    DType dtype = DType::f32;      // the view's type
    int64_t n_out = 0, n_in = 0;   // the view's [n_out, n_in]
    // Bytes per row, as if rows were stored one after another: the group of rows that starts at row o (a multiple
    // of the layout's group size) starts at data + o * row_stride.
    int64_t row_stride = 0;
    size_t bytes = 0;
    std::unique_ptr<uint8_t[], void (*)(void*)> data{nullptr, std::free};  // 64-byte aligned

    // True when this is the packed form of w (2-D, same data, type and shape).
    bool describes(const TensorView& w) const;
};

}  // namespace loom
