// TensorView helpers: dense construction, row addressing, shape strings.
#include "core/tensor.h"

#include "core/packed_weight.h"

#include <fmt/ranges.h>

#include <span>

namespace loom {

TensorView TensorView::dense(void* data, DType dtype, std::initializer_list<int64_t> shape, Device device) {
    TensorView t;
    t.data = data;
    t.dtype = dtype;
    t.device = device;
    LOOM_ASSERT(shape.size() >= 1 && shape.size() <= size_t(kMaxRank), "rank {} outside 1..{}", shape.size(), kMaxRank);
    t.rank = int(shape.size());
    int i = 0;
    for (int64_t d : shape) t.shape[i++] = d;
    const DTypeInfo& ti = info(dtype);
    t.stride[t.rank - 1] = ti.block_bytes;  // one element for plain types, one block for quantized ones
    int64_t step = loom::row_bytes(dtype, t.shape[t.rank - 1]);
    for (int k = t.rank - 2; k >= 0; --k) {
        t.stride[k] = step;
        step *= t.shape[k];
    }
    return t;
}

int64_t TensorView::n_rows() const {
    int64_t n = 1;
    for (int k = 0; k + 1 < rank; ++k) n *= shape[k];
    return n;
}

int64_t TensorView::n_elements() const { return n_rows() * row_length(); }

bool TensorView::is_dense() const {
    int64_t step = row_bytes();
    for (int k = rank - 2; k >= 0; --k) {
        if (shape[k] > 1 && stride[k] != step) return false;
        step *= shape[k];
    }
    return true;
}

int64_t TensorView::row_offset(int64_t r) const {
    // Decompose the flat row index over the outer dims, innermost outer dim first.
    int64_t off = 0;
    for (int k = rank - 2; k >= 0; --k) {
        off += (r % shape[k]) * stride[k];
        r /= shape[k];
    }
    return off;
}

TensorView TensorView::as_2d() const {
    if (rank == 2) return *this;
    TensorView t = *this;
    t.rank = 2;
    t.shape = {n_rows(), row_length(), 0, 0};
    if (rank == 1) {
        t.stride = {row_bytes(), stride[0], 0, 0};
    } else {
        LOOM_ASSERT(is_dense() || n_rows() == shape[rank - 2], "as_2d on a non-dense view {}", shape_string(*this));
        t.stride = {stride[rank - 2], stride[rank - 1], 0, 0};
    }
    return t;
}

std::string shape_string(const TensorView& t) {
    return fmt::format("[{}]", fmt::join(std::span(t.shape.data(), size_t(t.rank)), ", "));
}

bool PackedWeight::describes(const TensorView& w) const {
    // 2-D, or 3-D expert slabs [n_expert, rows, n_in] stored one after another (packed as n_expert · rows rows).
    if (w.data != source || w.dtype != dtype || w.rank < 2 || w.rank > 3) return false;
    const int64_t rb = row_bytes(dtype, n_in);
    if (w.rank == 2) return w.shape[0] == n_out && w.shape[1] == n_in && w.stride[0] == rb;
    return w.shape[0] * w.shape[1] == n_out && w.shape[2] == n_in && w.stride[1] == rb &&
           w.stride[0] == w.shape[1] * rb;
}

}  // namespace loom
