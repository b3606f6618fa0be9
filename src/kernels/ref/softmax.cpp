// Reference softmax over the last dim with scale, optional soft-cap and an additive mask broadcast over rows,
// rounded as ggml's CPU soft_max (ops.cpp ggml_compute_forward_soft_max_f32, vec.cpp ggml_vec_soft_max_f32).
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/check.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::ref {

Status check_softmax_args(const SoftmaxArgs& a) {
    LOOM_RETURN_IF_ERROR(check_f32_rows("softmax", "x", a.x));
    LOOM_RETURN_IF_ERROR(check_f32_rows("softmax", "y", a.y));
    LOOM_RETURN_IF_ERROR(check_same_shape("softmax", "x", a.x, "y", a.y));
    if (!a.mask.empty()) {
        LOOM_RETURN_IF_ERROR(check_f32_rows("softmax", "mask", a.mask));
        if (a.mask.row_length() != a.x.row_length() || a.mask.n_rows() == 0 || a.x.n_rows() % a.mask.n_rows() != 0)
            return Error::invalid(
                "softmax: mask has shape {}, which does not broadcast to x's shape {} (expected "
                "rows of {} and a row count dividing {})",
                shape_string(a.mask), shape_string(a.x), a.x.row_length(), a.x.n_rows());
    }
    if (!(a.softcap >= 0.0f)) return Error::invalid("softmax: softcap is {} (expected >= 0)", a.softcap);
    return Ok{};
}

// One row: s_i = softcap(x_i · scale) + mask_i; y_i = e^(s_i − max s) / Σ_j e^(s_j − max s).
// ggml: the max is taken in f32, the exponentials are f32 and their sum is accumulated in double, and the
// row is multiplied by the f32 rounding of 1/sum. The soft-cap is the graph's scale(1/cap) → tanh →
// scale(cap) (llama-graph.cpp). A row whose every score is −inf (fully masked) has no defined softmax;
// loom writes zeros there (a query that sees nothing contributes nothing), where ggml would produce NaN.
void softmax_row(const float* x, const float* mask, float* y, int64_t n, float scale, float softcap,
                 std::vector<float>& s) {
    s.resize(size_t(n));
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) {
        float v = x[i] * scale;
        if (softcap > 0.0f) v = std::tanh(v * (1.0f / softcap)) * softcap;
        if (mask) v = v + mask[i];
        s[i] = v;
        max = std::max(max, v);
    }
    if (max == -std::numeric_limits<float>::infinity()) {
        for (int64_t i = 0; i < n; ++i) y[i] = 0.0f;
        return;
    }
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        s[i] = std::exp(s[i] - max);
        sum += double(s[i]);
    }
    const float inv = float(1.0 / sum);
    for (int64_t i = 0; i < n; ++i) y[i] = s[i] * inv;
}

Status softmax(const SoftmaxArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_softmax_args(a));
    const int64_t n = a.x.row_length();
    std::vector<float> s;
    for (int64_t r = 0; r < a.x.n_rows(); ++r) {
        const float* mask = a.mask.empty() ? nullptr : a.mask.row<float>(r % a.mask.n_rows());
        softmax_row(a.x.row<float>(r), mask, a.y.row<float>(r), n, a.scale, a.softcap, s);
    }
    return Ok{};
}

}  // namespace loom::kernels::ref
