// Fast CPU mixture-of-experts routing and weighted sum: the reference's row functions (ref/moe.h) split over
// the pool. Routing is a few hundred comparisons per token; the weighted sum is element-wise and compiled
// without contraction, so both equal the reference bit for bit.
#include "kernels/ref/moe.h"
#include "kernels/cpu/elementwise.h"

namespace loom::kernels::cpu {

Status moe_route(const MoeRouteArgs& a, Stream& s) {
    LOOM_RETURN_IF_ERROR(ref::check_moe_route_args(a, "cpu moe_route"));
    parallel_units(s, a.probs.dim(0), a.probs.dim(1) * 8, [&](int64_t t0, int64_t t1) {
        ref::RouteScratch scratch;
        for (int64_t t = t0; t < t1; ++t) ref::moe_route_row(a, t, scratch);
    });
    return Ok{};
}

Status weighted_sum(const WeightedSumArgs& a, Stream& s) {
    LOOM_RETURN_IF_ERROR(ref::check_weighted_sum_args(a, "cpu weighted_sum"));
    const int64_t d = a.x.dim(2);
    parallel_units(s, a.x.dim(0), d * a.x.dim(1), [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t) ref::weighted_sum_rows(a, t, 0, d);
    });
    return Ok{};
}

}  // namespace loom::kernels::cpu
