// Server metrics in Prometheus' text format (GET /metrics): request counts by route and status, token counts,
// queue and slot gauges, KV cache use, prefix cache hits, and histograms of time to first token, time between tokens
// and request duration. Thread-safe: HTTP threads and the scheduler update it concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "server/prefix_cache.h"

namespace loom::server {

// A cumulative histogram with fixed upper bounds (seconds), as Prometheus expects.
class Histogram {
public:
    explicit Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}
    void observe(double v);
    // `name_bucket{le=...}` lines, `name_sum`, `name_count`. PRECONDITION: the caller holds the lock.
    void render(const std::string& name, std::string& out) const;

private:
    std::vector<double> bounds_;
    std::vector<uint64_t> counts_;  // per bucket (not cumulative); the last one is +Inf
    double sum_ = 0;
    uint64_t count_ = 0;
};

class Metrics {
public:
    Metrics();

    void request_done(const std::string& route, int status);
    void tokens(int64_t prompt, int64_t generated);
    void time_to_first_token(double seconds);
    void inter_token(double seconds);
    void request_duration(double seconds);
    // Gauges the scheduler sets after each step.
    void set_load(int64_t queued, int64_t active, int64_t kv_used, int64_t kv_capacity);
    void step(int64_t batch_tokens);
    // What the session's memory costs per sequence (set once when it is made).
    void set_memory(int64_t kv_bytes_per_seq, int64_t state_bytes_per_seq);
    // The prefix cache's counters (the scheduler sets them after each step).
    void set_prefix_cache(const PrefixCacheStats& stats);

    std::string render() const;

private:
    mutable std::mutex mu_;
    std::map<std::pair<std::string, int>, uint64_t> requests_;
    uint64_t prompt_tokens_ = 0, generated_tokens_ = 0, steps_ = 0, step_tokens_ = 0;
    int64_t queued_ = 0, active_ = 0, kv_used_ = 0, kv_capacity_ = 0;
    int64_t kv_bytes_per_seq_ = 0, state_bytes_per_seq_ = 0;
    PrefixCacheStats cache_;
    Histogram ttft_, inter_token_, duration_;
};

}  // namespace loom::server
