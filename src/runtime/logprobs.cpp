// log p_i = x_i − max − log Σ exp(x_j − max), in double.
#include "runtime/logprobs.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace loom::runtime {

std::vector<std::pair<int32_t, double>> top_logprobs(std::span<const float> logits, int k) {
    const size_t n = logits.size();
    if (n == 0 || k <= 0) return {};
    double mx = -INFINITY;
    for (float x : logits) mx = std::max(mx, double(x));
    double sum = 0;
    for (float x : logits) sum += std::exp(double(x) - mx);
    const double lse = mx + std::log(sum);
    std::vector<int32_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    const size_t kk = std::min(n, size_t(k));
    std::partial_sort(idx.begin(), idx.begin() + ptrdiff_t(kk), idx.end(), [&](int32_t a, int32_t b) {
        return logits[size_t(a)] != logits[size_t(b)] ? logits[size_t(a)] > logits[size_t(b)] : a < b;
    });
    std::vector<std::pair<int32_t, double>> out;
    for (size_t i = 0; i < kk; ++i) out.emplace_back(idx[i], double(logits[size_t(idx[i])]) - lse);
    return out;
}

}  // namespace loom::runtime
