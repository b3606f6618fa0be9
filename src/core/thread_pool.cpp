// Workers spin briefly on the job generation (decode-sized ops last microseconds, so a futex sleep
// per op would dominate), then block on it with atomic wait.
#include "core/thread_pool.h"

#include <sched.h>

#include <algorithm>
#include <memory>
#include <mutex>

#include "core/error.h"

namespace loom {
namespace {
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}
constexpr int kSpins = 20000;  // a few tens of microseconds
}  // namespace

ThreadPool::ThreadPool(int n_threads) : n_threads_(std::max(1, n_threads)) {
    threads_.reserve(n_threads_ - 1);
    for (int i = 1; i < n_threads_; ++i) threads_.emplace_back([this, i] { worker(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true);
    generation_.fetch_add(1);
    generation_.notify_all();
    for (auto& t : threads_) t.join();
}

void ThreadPool::work(int thread) {
    for (;;) {
        const int64_t t = next_.fetch_add(1, std::memory_order_relaxed);
        if (t >= n_tasks_) break;
        (*fn_)(t, thread);
    }
}

void ThreadPool::worker(int index) {
    uint64_t seen = 0;
    for (;;) {
        uint64_t g = generation_.load(std::memory_order_acquire);
        for (int spin = 0; g == seen && spin < kSpins; ++spin) {
            cpu_relax();
            g = generation_.load(std::memory_order_acquire);
        }
        if (g == seen) {
            generation_.wait(seen, std::memory_order_acquire);
            continue;
        }
        seen = g;
        if (stop_.load()) return;
        work(index);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
}

void ThreadPool::run(int64_t n_tasks, const std::function<void(int64_t, int)>& fn) {
    if (n_tasks <= 0) return;
    if (n_threads_ == 1 || n_tasks == 1) {
        for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
        return;
    }
    fn_ = &fn;
    n_tasks_ = n_tasks;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(n_threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    work(0);
    // Spin a little (workers usually finish within microseconds), then sleep: when the machine is
    // oversubscribed a spinning caller would steal the time slice of the worker it waits for.
    for (int spin = 0;; ++spin) {
        const int p = pending_.load(std::memory_order_acquire);
        if (p == 0) break;
        if (spin < kSpins) cpu_relax();
        else pending_.wait(p, std::memory_order_acquire);
    }
    fn_ = nullptr;
}

void ThreadPool::parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn,
                              int chunks_per_thread) {
    if (n <= 0) return;
    grain = std::max<int64_t>(1, grain);
    const int64_t units = (n + grain - 1) / grain;
    const int64_t chunks = std::min<int64_t>(units, int64_t(n_threads_) * std::max(1, chunks_per_thread));
    const int64_t per = (units + chunks - 1) / chunks;  // units per chunk
    const int64_t n_chunks = (units + per - 1) / per;
    run(n_chunks, [&](int64_t c, int thread) {
        const int64_t begin = c * per * grain;
        const int64_t end = std::min(n, (c + 1) * per * grain);
        fn(begin, end, thread);
    });
}

int usable_cpus() {
    // The CPUs this process may run on (taskset, cgroup cpusets), which hardware_concurrency() does not see: more
    // workers than that would only take turns on the same cores.
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0) {
        const int n = CPU_COUNT(&set);
        if (n > 0) return n;
    }
    return int(std::max(1u, std::thread::hardware_concurrency()));
}

ThreadPool& global_thread_pool(int n_threads) {
    static std::once_flag once;
    static std::unique_ptr<ThreadPool> pool;
    std::call_once(once, [n_threads] {
        const int n = n_threads > 0 ? n_threads : usable_cpus();
        pool = std::make_unique<ThreadPool>(n);
    });
    return *pool;
}

}  // namespace loom
