// A persistent thread pool for kernels: workers are created once and wait for work, so an op costs a
// wake-up, not a thread creation. The calling thread takes part in every job.
//
// Thread-safety: one job at a time. run() is called from one thread (the executor); it returns when
// every task of the job is done.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace loom {

class ThreadPool {
public:
    // n_threads counts the caller: n_threads = 1 runs everything inline.
    explicit ThreadPool(int n_threads);
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return n_threads_; }

    // Calls fn(task, thread) for every task in [0, n_tasks); tasks are handed out dynamically so a
    // slow thread does not hold the others back. `thread` is in [0, size()), for per-thread scratch.
    void run(int64_t n_tasks, const std::function<void(int64_t task, int thread)>& fn);

    // Splits [0, n) into about size() * chunks_per_thread contiguous ranges [begin, end), each a
    // multiple of `grain` long (except the last), and runs fn(begin, end, thread) over them.
    void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t begin, int64_t end, int thread)>& fn,
                      int chunks_per_thread = 4);

private:
    void worker(int index);
    void work(int thread);

    int n_threads_;
    std::vector<std::thread> threads_;
    // The current job.
    const std::function<void(int64_t, int)>* fn_ = nullptr;
    int64_t n_tasks_ = 0;
    std::atomic<int64_t> next_{0};
    std::atomic<int> pending_{0};          // workers still inside the current job
    std::atomic<uint64_t> generation_{0};  // bumped to start a job; workers wait on it
    std::atomic<bool> stop_{false};
};

// The process-wide pool used by kernels, created on first use with `n_threads` (0 = usable_cpus()).
ThreadPool& global_thread_pool(int n_threads = 0);

// How many CPUs this process may run on (its affinity mask: taskset, cgroup cpusets); the default thread count.
int usable_cpus();

}  // namespace loom
