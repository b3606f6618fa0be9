// Reference top-k: the k largest values of each row in descending order, by a stable sort of the whole row.
// Ties go to the lower index and NaN ranks below every number (ggml sorts with std::sort, so its tie order
// is unspecified; loom fixes one so that every backend agrees).
#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/check.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::ref {

Status check_top_k_args(const TopKArgs& a) {
    LOOM_RETURN_IF_ERROR(check_f32_rows("top_k", "x", a.x));
    const int64_t n = a.x.row_length();
    if (a.k < 1 || a.k > n) return Error::invalid("top_k: k is {} (expected 1..{}, the row length)", a.k, n);
    auto check_out = [&](const char* what, const TensorView& t, DType dtype) -> Status {
        if (t.empty()) return Error::invalid("top_k: {} is missing", what);
        if (t.device != Device::cpu || t.dtype != dtype || t.stride[t.rank - 1] != 4)
            return Error::invalid("top_k: {} must be contiguous {} rows in host memory (got {})", what, dtype, t.dtype);
        bool same = t.rank == a.x.rank && t.row_length() == a.k;
        for (int i = 0; same && i + 1 < t.rank; ++i) same = t.shape[i] == a.x.shape[i];
        if (!same)
            return Error::invalid("top_k: {} has shape {} (expected x's outer shape {} with rows of k = {})", what,
                                  shape_string(t), shape_string(a.x), a.k);
        return Ok{};
    };
    LOOM_RETURN_IF_ERROR(check_out("ids", a.ids, DType::i32));
    if (!a.values.empty()) LOOM_RETURN_IF_ERROR(check_out("values", a.values, DType::f32));
    return Ok{};
}

Status top_k(const TopKArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_top_k_args(a));
    const int64_t n = a.x.row_length();
    std::vector<int32_t> order(static_cast<size_t>(n));
    for (int64_t r = 0; r < a.x.n_rows(); ++r) {
        const float* x = a.x.row<float>(r);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(),
                         [x](int32_t i, int32_t j) { return ranks_before(x[i], i, x[j], j); });
        int32_t* ids = a.ids.row<int32_t>(r);
        float* values = a.values.empty() ? nullptr : a.values.row<float>(r);
        for (int i = 0; i < a.k; ++i) {
            ids[i] = order[size_t(i)];
            if (values) values[i] = x[order[size_t(i)]];
        }
    }
    return Ok{};
}

}  // namespace loom::kernels::ref
