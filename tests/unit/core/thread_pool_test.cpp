// The pool runs every task exactly once, on valid thread indices, across many back-to-back jobs.
#include <gtest/gtest.h>

#include <atomic>
#include <vector>

#include "core/thread_pool.h"

namespace loom {
namespace {

TEST(ThreadPool, EveryTaskRunsExactlyOnce) {
    for (int n_threads : {1, 2, 3}) {
        ThreadPool pool(n_threads);
        for (int64_t n_tasks : {0, 1, 2, 7, 1000}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n_tasks));
            std::atomic<bool> bad_thread{false};
            pool.run(n_tasks, [&](int64_t t, int thread) {
                hits[size_t(t)].fetch_add(1);
                if (thread < 0 || thread >= n_threads) bad_thread = true;
            });
            for (auto& h : hits) EXPECT_EQ(h.load(), 1) << "threads=" << n_threads << " tasks=" << n_tasks;
            EXPECT_FALSE(bad_thread.load());
        }
    }
}

TEST(ThreadPool, ManyBackToBackJobsDoNotLoseWork) {
    ThreadPool pool(2);
    int64_t total = 0;
    for (int job = 0; job < 20000; ++job) {
        std::atomic<int64_t> sum{0};
        pool.run(3, [&](int64_t t, int) { sum.fetch_add(t + 1); });
        total += sum.load();
    }
    EXPECT_EQ(total, 20000 * 6);
}

TEST(ThreadPool, ParallelForCoversTheRangeInGrainMultiples) {
    ThreadPool pool(2);
    for (int64_t n : {1, 5, 64, 1000, 1001}) {
        for (int64_t grain : {1, 4, 32}) {
            std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
            std::atomic<bool> misaligned{false};
            pool.parallel_for(n, grain, [&](int64_t b, int64_t e, int) {
                if (b % grain != 0) misaligned = true;
                for (int64_t i = b; i < e; ++i) hits[size_t(i)].fetch_add(1);
            });
            for (auto& h : hits) ASSERT_EQ(h.load(), 1) << "n=" << n << " grain=" << grain;
            EXPECT_FALSE(misaligned.load());
        }
    }
}

}  // namespace
}  // namespace loom
