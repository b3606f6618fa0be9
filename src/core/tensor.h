// TensorView: a non-owning view of a tensor in host or device memory (dtype, shape, strides, data).
//
// Shapes are written OUTERMOST FIRST (row-major, as PyTorch): a weight is [n_out, n_in], activations
// are [n_tok, d_model]. The last dimension is the row: it is always contiguous, and for quantized types
// its length is a multiple of the block size. Strides are in BYTES, one per dimension, so rows of
// quantized data (whose size is not n * element size) are addressed the same way as plain ones.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/dtype.h"
#include "core/error.h"

namespace loom {

inline constexpr int kMaxRank = 4;

enum class Device : uint8_t { cpu, cuda };

struct PackedWeight;  // core/packed_weight.h

struct TensorView {
    void* data = nullptr;
    DType dtype = DType::f32;
    Device device = Device::cpu;
    int rank = 0;
    std::array<int64_t, kMaxRank> shape{};   // outermost first
    std::array<int64_t, kMaxRank> stride{};  // bytes; stride[rank-1] is the element (or block) step
    // A weight's load-time packed form for the CPU matmul kernels, or nullptr. Matmul uses it only while it
    // describes this view (PackedWeight::describes); everything else reads `data`.
    const PackedWeight* packed = nullptr;

    // A densely packed view of `shape` starting at `data`.
    static TensorView dense(void* data, DType dtype, std::initializer_list<int64_t> shape, Device device = Device::cpu);
    static TensorView dense(const void* data, DType dtype, std::initializer_list<int64_t> shape,
                            Device device = Device::cpu) {
        return dense(const_cast<void*>(data), dtype, shape, device);
    }

    bool empty() const { return data == nullptr; }
    int64_t dim(int i) const { return shape[i < 0 ? rank + i : i]; }
    int64_t row_length() const { return shape[rank - 1]; }
    int64_t n_rows() const;      // product of all dims but the last
    int64_t n_elements() const;  // product of all dims
    int64_t row_bytes() const { return loom::row_bytes(dtype, row_length()); }
    // True when rows follow each other with no gaps (the whole view is one dense block).
    bool is_dense() const;

    // Row r of the flattened [n_rows, row_length] view (requires the outer dims to be dense over rows).
    template <typename T = void>
    T* row(int64_t r) const {
        return reinterpret_cast<T*>(static_cast<uint8_t*>(data) + row_offset(r));
    }
    int64_t row_offset(int64_t r) const;  // byte offset of row r, honouring strides of every outer dim

    // The same data seen as [n_rows, row_length] (outer dims folded; needs is_dense() or rank <= 2).
    TensorView as_2d() const;
    // Indices [first, first + count) of the outermost dim, strides kept (a segment's rows, a cache's slots).
    TensorView narrow(int64_t first, int64_t count) const {
        TensorView t = *this;
        t.data = static_cast<uint8_t*>(data) + first * stride[0];
        t.shape[0] = count;
        return t;
    }
};

// "[2, 3, 4]", for messages.
std::string shape_string(const TensorView& t);

}  // namespace loom
