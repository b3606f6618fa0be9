// Reference mixture-of-experts routing and weighted sum: scalar loops in the order llama.cpp's graph computes
// them (build_moe_ffn: selection bias, group scores, top-k, gathered weights, normalisation, scale; then the
// weighted experts added slot after slot). The CPU backend runs the same routing per row (routing costs nothing
// beside the expert matmuls), so both backends give the same experts and weights.
#include "kernels/ref/moe.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/check.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::ref {
namespace {

// ggml's clamp of the weight sum before the division: the smallest normal f16.
constexpr float kMinWeightSum = 6.103515625e-5f;

// The k best of x[0..n) in descending order (ties: lower index first), into ids.
void best_k(const float* x, int64_t n, int k, int32_t* ids, std::vector<int32_t>& order) {
    order.resize(size_t(n));
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [x](int32_t i, int32_t j) { return ranks_before(x[i], i, x[j], j); });
    std::copy(order.begin(), order.begin() + k, ids);
}

}  // namespace

Status check_moe_route_args(const MoeRouteArgs& a, std::string_view op) {
    LOOM_RETURN_IF_ERROR(check_tensor(op, "probs", a.probs, DType::f32, {-1, -1}));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "probs", a.probs));
    const int64_t n_tok = a.probs.dim(0), n_expert = a.probs.dim(1);
    LOOM_RETURN_IF_ERROR(check_tensor(op, "ids", a.ids, DType::i32, {n_tok, -1}));
    if (a.ids.dim(1) < 1 || a.ids.dim(1) > n_expert)
        return Error::invalid("{}: ids has {} columns (expected 1..{}, the number of experts)", op, a.ids.dim(1),
                              n_expert);
    LOOM_RETURN_IF_ERROR(check_tensor(op, "weights", a.weights, DType::f32, {n_tok, a.ids.dim(1)}));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "ids", a.ids));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "weights", a.weights));
    if (!a.bias.empty()) LOOM_RETURN_IF_ERROR(check_tensor(op, "bias", a.bias, DType::f32, {n_expert}));
    if (a.n_group < 1 || n_expert % a.n_group != 0)
        return Error::invalid("{}: {} expert groups do not divide {} experts", op, a.n_group, n_expert);
    if (a.n_group > 1 && n_expert / a.n_group < 2)
        return Error::invalid("{}: groups of {} experts (a group's score sums its best 2)", op, n_expert / a.n_group);
    if (a.n_group_used < 1 || a.n_group_used > a.n_group)
        return Error::invalid("{}: {} groups used of {} (expected 1..{})", op, a.n_group_used, a.n_group, a.n_group);
    if (int64_t(a.n_group_used) * (n_expert / a.n_group) < a.ids.dim(1))
        return Error::invalid("{}: {} groups of {} experts cannot supply {} experts per token", op, a.n_group_used,
                              n_expert / a.n_group, a.ids.dim(1));
    return Ok{};
}

Status check_weighted_sum_args(const WeightedSumArgs& a, std::string_view op) {
    LOOM_RETURN_IF_ERROR(check_tensor(op, "x", a.x, DType::f32, {-1, -1, -1}));
    const int64_t n_tok = a.x.dim(0), n_slot = a.x.dim(1), d = a.x.dim(2);
    LOOM_RETURN_IF_ERROR(check_tensor(op, "w", a.w, DType::f32, {n_tok, n_slot}));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "y", a.y, DType::f32, {n_tok, d}));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "x", a.x));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "w", a.w));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "y", a.y));
    if (n_slot < 1) return Error::invalid("{}: x has no slots (shape {})", op, shape_string(a.x));
    return Ok{};
}

void moe_route_row(const MoeRouteArgs& a, int64_t t, RouteScratch& s) {
    const int64_t n_expert = a.probs.dim(1);
    const int k = int(a.ids.dim(1));
    const float* probs = a.probs.row<float>(t);
    s.sel.assign(probs, probs + n_expert);
    if (!a.bias.empty()) {
        const float* b = a.bias.row<float>(0);
        for (int64_t e = 0; e < n_expert; ++e) s.sel[size_t(e)] = s.sel[size_t(e)] + b[e];
    }
    if (a.n_group > 1) {
        const int64_t per_group = n_expert / a.n_group;
        s.group_score.resize(size_t(a.n_group));
        int32_t top2[2];
        for (int g = 0; g < a.n_group; ++g) {
            const float* sg = s.sel.data() + g * per_group;
            best_k(sg, per_group, 2, top2, s.order);
            s.group_score[size_t(g)] = float(double(sg[top2[0]]) + double(sg[top2[1]]));
        }
        s.groups.resize(size_t(a.n_group_used));
        best_k(s.group_score.data(), a.n_group, a.n_group_used, s.groups.data(), s.order);
        s.keep.assign(size_t(a.n_group), 0);
        for (int32_t g : s.groups) s.keep[size_t(g)] = 1;
        for (int64_t e = 0; e < n_expert; ++e)
            if (!s.keep[size_t(e / per_group)]) s.sel[size_t(e)] = -std::numeric_limits<float>::infinity();
    }
    int32_t* ids = a.ids.row<int32_t>(t);
    float* w = a.weights.row<float>(t);
    best_k(s.sel.data(), n_expert, k, ids, s.order);
    for (int i = 0; i < k; ++i) w[i] = probs[ids[i]];
    if (a.softmax_weights) softmax_row(w, nullptr, w, k, 1.f, 0.f, s.soft);  // as ggml_soft_max of the k weights
    if (a.normalize) {
        double sum = 0.0;
        for (int i = 0; i < k; ++i) sum += double(w[i]);
        const float den = std::max(float(sum), kMinWeightSum);
        for (int i = 0; i < k; ++i) w[i] = w[i] / den;
    }
    if (a.scale != 0.f && a.scale != 1.f)
        for (int i = 0; i < k; ++i) w[i] = w[i] * a.scale;
}

void weighted_sum_rows(const WeightedSumArgs& a, int64_t t, int64_t c0, int64_t c1) {
    const int64_t n_slot = a.x.dim(1);
    const float* w = a.w.row<float>(t);
    float* y = a.y.row<float>(t);
    const float* x0 = a.x.row<float>(t * n_slot);
    for (int64_t i = c0; i < c1; ++i) y[i] = x0[i] * w[0];
    for (int64_t s = 1; s < n_slot; ++s) {
        const float* xs = a.x.row<float>(t * n_slot + s);
        const float ws = w[s];
        for (int64_t i = c0; i < c1; ++i) {
            const float p = xs[i] * ws;  // rounded before the add (no contraction: see no_fp_contract.h)
            y[i] = y[i] + p;
        }
    }
}

Status moe_route(const MoeRouteArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_moe_route_args(a, "ref moe_route"));
    RouteScratch s;
    for (int64_t t = 0; t < a.probs.dim(0); ++t) moe_route_row(a, t, s);
    return Ok{};
}

Status weighted_sum(const WeightedSumArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_weighted_sum_args(a, "ref weighted_sum"));
    for (int64_t t = 0; t < a.x.dim(0); ++t) weighted_sum_rows(a, t, 0, a.x.dim(2));
    return Ok{};
}

}  // namespace loom::kernels::ref
