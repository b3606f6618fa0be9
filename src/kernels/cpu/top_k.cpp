// Fast CPU top-k: rows split over the pool; small k keeps a sorted list of the best k while scanning the row
// once, larger k uses a partial sort. Both use the reference's order (ties: lower index; NaN last), so the
// ids equal the reference's exactly.
#include <algorithm>
#include <numeric>
#include <vector>

#include "kernels/cpu/elementwise.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::cpu {

namespace {

// The best k of x in order, by insertion into a sorted list. Indices arrive increasing, so an equal value
// never passes an earlier one: ties keep the lower index first, as the reference's stable sort.
void top_k_insert(const float* x, int64_t n, int k, int32_t* best) {
    int m = 0;
    for (int64_t i = 0; i < n; ++i) {
        const float v = x[i];
        if (m == k && !ref::ranks_before(v, i, x[best[k - 1]], best[k - 1])) continue;
        int j = m < k ? m++ : k - 1;
        while (j > 0 && ref::ranks_before(v, i, x[best[j - 1]], best[j - 1])) {
            best[j] = best[j - 1];
            --j;
        }
        best[j] = int32_t(i);
    }
}

void top_k_partial_sort(const float* x, int64_t n, int k, int32_t* best, std::vector<int32_t>& order) {
    order.resize(size_t(n));
    std::iota(order.begin(), order.end(), 0);
    // (value, index) is a total order, so the first k are the same as after a stable sort.
    std::partial_sort(order.begin(), order.begin() + k, order.end(),
                      [x](int32_t i, int32_t j) { return ref::ranks_before(x[i], i, x[j], j); });
    std::copy(order.begin(), order.begin() + k, best);
}

}  // namespace

Status top_k(const TopKArgs& a, Stream& s) {
    LOOM_RETURN_IF_ERROR(ref::check_top_k_args(a));
    const int64_t n = a.x.row_length();
    parallel_units(s, a.x.n_rows(), n, [&](int64_t r0, int64_t r1) {
        std::vector<int32_t> order;
        for (int64_t r = r0; r < r1; ++r) {
            const float* x = a.x.row<float>(r);
            int32_t* ids = a.ids.row<int32_t>(r);
            if (a.k <= 32) top_k_insert(x, n, a.k, ids);
            else top_k_partial_sort(x, n, a.k, ids, order);
            if (!a.values.empty()) {
                float* values = a.values.row<float>(r);
                for (int i = 0; i < a.k; ++i) values[i] = x[ids[i]];
            }
        }
    });
    return Ok{};
}

}  // namespace loom::kernels::cpu
