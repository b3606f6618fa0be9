// Shape/type checks for op arguments.
#include "kernels/check.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <vector>

namespace loom::kernels {

namespace {
std::string want_string(std::initializer_list<int64_t> shape) {
    std::vector<std::string> parts;
    for (int64_t d : shape) parts.push_back(d < 0 ? "*" : std::to_string(d));
    return fmt::format("[{}]", fmt::join(parts, ", "));
}
}  // namespace

Status check_tensor(std::string_view op, std::string_view what, const TensorView& t,
                    std::initializer_list<DType> dtypes, std::initializer_list<int64_t> shape) {
    if (t.empty()) return Error::invalid("{}: {} is missing", op, what);
    if (std::find(dtypes.begin(), dtypes.end(), t.dtype) == dtypes.end()) {
        std::vector<std::string_view> names;
        for (DType d : dtypes) names.push_back(name(d));
        return Error::invalid("{}: {} has type {} (expected {})", op, what, t.dtype, fmt::join(names, " or "));
    }
    bool ok = t.rank == int(shape.size());
    int i = 0;
    for (int64_t d : shape) {
        if (ok && d >= 0 && t.shape[i] != d) ok = false;
        ++i;
    }
    if (!ok) return Error::invalid("{}: {} has shape {} (expected {})", op, what, shape_string(t), want_string(shape));
    return Ok{};
}

Status check_tensor(std::string_view op, std::string_view what, const TensorView& t, DType dtype,
                    std::initializer_list<int64_t> shape) {
    return check_tensor(op, what, t, {dtype}, shape);
}

Status check_same_shape(std::string_view op, std::string_view what_a, const TensorView& a, std::string_view what_b,
                        const TensorView& b) {
    bool same = a.rank == b.rank;
    for (int k = 0; same && k < a.rank; ++k) same = a.shape[k] == b.shape[k];
    if (!same)
        return Error::invalid("{}: {} has shape {} but {} has shape {}", op, what_b, shape_string(b), what_a,
                              shape_string(a));
    return Ok{};
}

Status check_rows_contiguous(std::string_view op, std::string_view what, const TensorView& t) {
    if (t.stride[t.rank - 1] != info(t.dtype).block_bytes)
        return Error::invalid("{}: {} {} has a last-dim stride of {} bytes (expected {}: rows must be contiguous)", op,
                              what, shape_string(t), t.stride[t.rank - 1], info(t.dtype).block_bytes);
    return Ok{};
}

}  // namespace loom::kernels
