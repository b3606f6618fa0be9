// Fast CPU norms: rows split over the pool; the RMS and L2 sums and the scaling run in the ISA's row
// kernels, layer norm runs the reference row (no model loom targets uses it on a hot path).
#include <cmath>

#include "kernels/cpu/elementwise.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::cpu {

namespace portable {

double sum_squares(const float* x, int64_t n) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; ++i) sum += double(x[i] * x[i]);
    return sum;
}

void mul_scale(float* y, const float* x, float s, const float* w, int64_t n) {
    if (w) {
        for (int64_t i = 0; i < n; ++i) y[i] = (x[i] * s) * w[i];
    } else {
        for (int64_t i = 0; i < n; ++i) y[i] = x[i] * s;
    }
}

}  // namespace portable

Status norm(const NormArgs& a, Stream& s, const EwKernels& k) {
    LOOM_RETURN_IF_ERROR(ref::check_norm_args(a));
    const int64_t d = a.x.row_length();
    const float* w = a.w.empty() ? nullptr : a.w.row<float>(0);
    const float* b = a.b.empty() ? nullptr : a.b.row<float>(0);
    parallel_units(s, a.x.n_rows(), d, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
            const float* x = a.x.row<float>(r);
            float* y = a.y.row<float>(r);
            switch (a.kind) {
                case NormKind::rms: {
                    // As ref: mean of the squares rounded to f32, then 1/sqrtf (ops.cpp rms_norm_f32).
                    const float mean = float(k.sum_squares(x, d) / double(d));
                    k.mul_scale(y, x, 1.0f / std::sqrt(mean + a.eps), w, d);
                    break;
                }
                case NormKind::l2: {
                    const float norm = std::sqrt(float(k.sum_squares(x, d)));
                    k.mul_scale(y, x, 1.0f / std::fmax(norm, a.eps), nullptr, d);
                    break;
                }
                case NormKind::layer: ref::layer_norm_row(x, y, w, b, d, a.eps); break;
            }
        }
    });
    return Ok{};
}

}  // namespace loom::kernels::cpu
