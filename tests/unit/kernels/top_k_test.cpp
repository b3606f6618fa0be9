// Top-k: every implementation against an independent selection written here (sort of (value, index) pairs),
// ties to the lower index, NaN last, k = 1 and k = n, small and large k (the CPU switches algorithm at 32),
// the values output optional, and errors. CPU vs reference (harness cases, op_cases_routing.cpp): identical ids
// and values.
#include <algorithm>
#include <limits>

#include "unit/kernels/elementwise_testing.h"

namespace loom::kernels::testing {
namespace {

Status run_top_k(const Impl& im, const F32& x, I32& ids, F32* values, int k) {
    TopKArgs a;
    a.x = x.view;
    a.ids = ids.view;
    if (values) a.values = values->view;
    a.k = k;
    Stream s = im.stream();
    return im.table.top_k(a, s);
}

// The expected ids of one row: numbers by value descending then index; NaNs after, by index.
std::vector<int32_t> expected_ids(const float* x, int64_t n, int k) {
    std::vector<std::pair<float, int32_t>> numbers, nans;
    for (int64_t i = 0; i < n; ++i) (std::isnan(x[i]) ? nans : numbers).push_back({x[i], int32_t(i)});
    std::sort(numbers.begin(), numbers.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    std::vector<int32_t> ids;
    for (const auto& p : numbers) ids.push_back(p.second);
    for (const auto& p : nans) ids.push_back(p.second);
    ids.resize(size_t(k));
    return ids;
}

class TopKTest : public ::testing::TestWithParam<Impl> {};

TEST_P(TopKTest, MatchesIndependentSelection) {
    const Impl& im = GetParam();
    for (int64_t n : {1, 7, 33, 256, 5000}) {
        for (int k : {1, 2, 8, 32, 33, 100, 5000}) {
            if (k > n) continue;
            F32 x({5, n}), values({5, k});
            I32 ids({5, k});
            fill_normal(x, uint32_t(n * 13 + k));
            // Ties (values rounded to a coarse grid in some rows) and NaNs.
            for (int64_t i = 0; i < n; ++i) {
                x[size_t(n + i)] = std::round(x[size_t(n + i)] * 2.f) / 2.f;
                x[size_t(2 * n + i)] = 1.f;
                if (i % 5 == 3) x[size_t(3 * n + i)] = NAN;
                x[size_t(4 * n + i)] = i % 7 == 0 ? -std::numeric_limits<float>::infinity() : x[size_t(4 * n + i)];
            }
            LOOM_EXPECT_OK(run_top_k(im, x, ids, &values, k));
            for (int64_t r = 0; r < 5; ++r) {
                const auto want = expected_ids(x.data.data() + r * n, n, k);
                for (int i = 0; i < k; ++i) {
                    ASSERT_EQ(ids[size_t(r * k + i)], want[size_t(i)])
                        << "n=" << n << " k=" << k << " row " << r << " i=" << i;
                    const float v = values[size_t(r * k + i)], xv = x[size_t(r * n + want[size_t(i)])];
                    ASSERT_TRUE(v == xv || (std::isnan(v) && std::isnan(xv)));
                }
            }
        }
    }
}

TEST_P(TopKTest, HandCheckedTies) {
    const Impl& im = GetParam();
    F32 x({1, 6});
    const float v[] = {0.5f, 2.f, -1.f, 2.f, 0.5f, 2.f};
    for (int i = 0; i < 6; ++i) x[size_t(i)] = v[i];
    I32 ids({1, 4});
    LOOM_EXPECT_OK(run_top_k(im, x, ids, nullptr, 4));  // values are optional
    EXPECT_EQ(ids.data, (std::vector<int32_t>{1, 3, 5, 0}));
}

TEST_P(TopKTest, RejectsBadArguments) {
    const Impl& im = GetParam();
    F32 x({2, 10}), values_bad({2, 3});
    I32 ids({2, 4}), ids_rows({3, 4});
    expect_invalid(run_top_k(im, x, ids, nullptr, 0), "top_k", "k is 0");
    expect_invalid(run_top_k(im, x, ids, nullptr, 11), "top_k", "k is 11");
    expect_invalid(run_top_k(im, x, ids, nullptr, 3), "top_k", "ids");
    expect_invalid(run_top_k(im, x, ids_rows, nullptr, 4), "top_k", "[3, 4]");
    expect_invalid(run_top_k(im, x, ids, &values_bad, 4), "top_k", "values");
}

INSTANTIATE_TEST_SUITE_P(Impls, TopKTest, ::testing::ValuesIn(impls()), impl_name);

}  // namespace
}  // namespace loom::kernels::testing
