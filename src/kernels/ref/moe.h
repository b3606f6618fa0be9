// The routing and weighted-sum rows shared by the reference and CPU backends (ref/moe.cpp): one code path for
// the expert choice, so both backends pick the same experts with the same weights.
#pragma once

#include <string_view>
#include <vector>

#include "kernels/ops.h"

namespace loom::kernels::ref {

Status check_moe_route_args(const MoeRouteArgs& a, std::string_view op);
Status check_weighted_sum_args(const WeightedSumArgs& a, std::string_view op);

// Per-thread buffers of moe_route_row (reused across rows).
struct RouteScratch {
    std::vector<float> sel, group_score, soft;
    std::vector<int32_t> order, groups;
    std::vector<uint8_t> keep;
};

// Routes token t (row t of a.probs) into row t of a.ids and a.weights. Arguments already checked.
void moe_route_row(const MoeRouteArgs& a, int64_t t, RouteScratch& s);
// Columns [c0, c1) of row t of a.y. Arguments already checked.
void weighted_sum_rows(const WeightedSumArgs& a, int64_t t, int64_t c0, int64_t c1);

}  // namespace loom::kernels::ref
