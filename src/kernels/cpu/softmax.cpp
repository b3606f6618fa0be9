// Fast CPU softmax: rows split over the pool; each row is computed in place in y by the ISA's row kernel.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/cpu/elementwise.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::cpu {

namespace portable {

// y = softcap(x·scale) + mask, each step rounded as ref/softmax.cpp.
void softmax_prepare(float* y, const float* x, const float* mask, float scale, float softcap, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        float v = x[i] * scale;
        if (softcap > 0.0f) v = std::tanh(v * (1.0f / softcap)) * softcap;
        if (mask) v = v + mask[i];
        y[i] = v;
    }
}

double exp_shift_sum(float* y, const float* x, float max, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) {
        y[i] = std::exp(x[i] - max);
        sum += double(y[i]);
    }
    return sum;
}

void softmax_row(float* y, const float* x, const float* mask, float scale, float softcap, int64_t n) {
    softmax_prepare(y, x, mask, scale, softcap, n);
    float max = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < n; ++i) max = std::max(max, y[i]);
    if (max == -std::numeric_limits<float>::infinity()) {  // fully masked: zeros (see ref/softmax.cpp)
        for (int64_t i = 0; i < n; ++i) y[i] = 0.0f;
        return;
    }
    const float inv = float(1.0 / exp_shift_sum(y, y, max, n));
    for (int64_t i = 0; i < n; ++i) y[i] = y[i] * inv;
}

}  // namespace portable

Status softmax(const SoftmaxArgs& a, Stream& s, const EwKernels& k) {
    LOOM_RETURN_IF_ERROR(ref::check_softmax_args(a));
    const int64_t n = a.x.row_length();
    const int64_t n_mask = a.mask.empty() ? 0 : a.mask.n_rows();
    parallel_units(s, a.x.n_rows(), n, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* mask = n_mask ? a.mask.row<float>(r % n_mask) : nullptr;
            k.softmax_row(a.y.row<float>(r), a.x.row<float>(r), mask, a.scale, a.softcap, n);
        }
    });
    return Ok{};
}

}  // namespace loom::kernels::cpu
