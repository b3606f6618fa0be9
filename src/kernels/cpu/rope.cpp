// Fast CPU rope: tokens split over the pool; each token's cos/sin table is built once (the reference's
// rope_angles, so the angles are bit-identical) and applied to all of its heads by the ISA's row kernel.
#include <cstring>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::cpu {

namespace portable {

void rope_norm(float* y, const float* x, const float* cos, const float* sin, int64_t n_pairs) {
    for (int64_t k = 0; k < n_pairs; ++k)
        ref::rotate_pair(x[2 * k], x[2 * k + 1], cos[k], sin[k], y[2 * k], y[2 * k + 1]);
}

void rope_halves(float* y0, float* y1, const float* x0, const float* x1, const float* cos, const float* sin,
                 int64_t n) {
    for (int64_t k = 0; k < n; ++k) ref::rotate_pair(x0[k], x1[k], cos[k], sin[k], y0[k], y1[k]);
}

void rope_neox(float* y, const float* x, const float* cos, const float* sin, int64_t n_pairs) {
    rope_halves(y, y + n_pairs, x, x + n_pairs, cos, sin, n_pairs);
}

}  // namespace portable

Status rope(const RopeArgs& a, Stream& s, const EwKernels& k) {
    LOOM_RETURN_IF_ERROR(ref::check_rope_args(a));
    const int64_t n_tok = a.x.dim(0), n_head = a.x.dim(1), d_head = a.x.dim(2);
    const int64_t n_pairs = a.n_rot / 2;
    const ref::RopeConsts c = ref::rope_consts(a);
    const auto rotate = a.mode == RopeMode::norm ? k.rope_norm : k.rope_neox;
    // A token's work is its heads plus its angle table (a sin and a cos per pair, worth ~20 element ops).
    parallel_units(s, n_tok, n_head * d_head + 20 * n_pairs, [&](int64_t t0, int64_t t1) {
        std::vector<float> table(size_t(2 * n_pairs));
        float* cos = table.data();
        float* sin = table.data() + n_pairs;
        for (int64_t t = t0; t < t1; ++t) {
            ref::rope_angles(a, c, t, cos, sin);
            for (int64_t h = 0; h < n_head; ++h) {
                const float* x = a.x.row<float>(t * n_head + h);
                float* y = a.y.row<float>(t * n_head + h);
                rotate(y, x, cos, sin, n_pairs);
                if (y != x && d_head > a.n_rot)
                    std::memmove(y + a.n_rot, x + a.n_rot, size_t(d_head - a.n_rot) * sizeof(float));
            }
        }
    });
    return Ok{};
}

}  // namespace loom::kernels::cpu
