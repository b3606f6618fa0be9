// Prometheus text exposition of the server's counters, gauges and histograms.
#include "server/metrics.h"

#include <fmt/format.h>

#include <algorithm>

namespace loom::server {

void Histogram::observe(double v) {
    const size_t i = size_t(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
    ++counts_[i];
    sum_ += v;
    ++count_;
}

void Histogram::render(const std::string& name, std::string& out) const {
    uint64_t cum = 0;
    for (size_t i = 0; i < bounds_.size(); ++i) {
        cum += counts_[i];
        out += fmt::format("{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i], cum);
    }
    out += fmt::format("{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n", name, count_, name, sum_, name, count_);
}

Metrics::Metrics()
    : ttft_({0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}),
      inter_token_({0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2}),
      duration_({0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}) {}

void Metrics::request_done(const std::string& route, int status) {
    std::lock_guard lock(mu_);
    ++requests_[{route, status}];
}

void Metrics::tokens(int64_t prompt, int64_t generated) {
    std::lock_guard lock(mu_);
    prompt_tokens_ += uint64_t(prompt);
    generated_tokens_ += uint64_t(generated);
}

void Metrics::time_to_first_token(double s) {
    std::lock_guard lock(mu_);
    ttft_.observe(s);
}

void Metrics::inter_token(double s) {
    std::lock_guard lock(mu_);
    inter_token_.observe(s);
}

void Metrics::request_duration(double s) {
    std::lock_guard lock(mu_);
    duration_.observe(s);
}

void Metrics::set_load(int64_t queued, int64_t active, int64_t kv_used, int64_t kv_capacity) {
    std::lock_guard lock(mu_);
    queued_ = queued;
    active_ = active;
    kv_used_ = kv_used;
    kv_capacity_ = kv_capacity;
}

void Metrics::set_memory(int64_t kv_bytes_per_seq, int64_t state_bytes_per_seq) {
    std::lock_guard lock(mu_);
    kv_bytes_per_seq_ = kv_bytes_per_seq;
    state_bytes_per_seq_ = state_bytes_per_seq;
}

void Metrics::set_prefix_cache(const PrefixCacheStats& stats) {
    std::lock_guard lock(mu_);
    cache_ = stats;
}

void Metrics::step(int64_t batch_tokens) {
    std::lock_guard lock(mu_);
    ++steps_;
    step_tokens_ += uint64_t(batch_tokens);
}

std::string Metrics::render() const {
    std::lock_guard lock(mu_);
    std::string out;
    auto head = [&](const char* name, const char* type, const char* help) {
        out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
    };
    head("loom_requests_total", "counter", "HTTP requests answered, by route and status.");
    for (const auto& [key, n] : requests_)
        out += fmt::format("loom_requests_total{{route=\"{}\",status=\"{}\"}} {}\n", key.first, key.second, n);
    auto scalar = [&](const char* name, const char* type, const char* help, auto value) {
        head(name, type, help);
        out += fmt::format("{} {}\n", name, value);
    };
    scalar("loom_prompt_tokens_total", "counter", "Prompt tokens prefilled.", prompt_tokens_);
    scalar("loom_generated_tokens_total", "counter", "Tokens generated.", generated_tokens_);
    scalar("loom_steps_total", "counter", "Forward passes of the scheduler.", steps_);
    scalar("loom_step_tokens_total", "counter", "Tokens over all forward passes (divide by steps for the mean batch).",
           step_tokens_);
    scalar("loom_queue_length", "gauge", "Sequences waiting for a slot.", queued_);
    scalar("loom_slots_active", "gauge", "Sequences holding a slot (prefilling or decoding).", active_);
    scalar("loom_kv_cache_used_positions", "gauge", "KV cache positions in use over all slots.", kv_used_);
    scalar("loom_kv_cache_capacity_positions", "gauge", "KV cache positions over all slots.", kv_capacity_);
    scalar("loom_kv_cache_bytes_per_sequence", "gauge", "KV cache bytes of one slot at full context.",
           kv_bytes_per_seq_);
    scalar("loom_recurrent_state_bytes_per_sequence", "gauge",
           "Recurrent state bytes of one slot (conv history and delta-net state; 0 without recurrent layers).",
           state_bytes_per_seq_);
    scalar("loom_prefix_cache_hits_total", "counter", "Prompts that restored a cached prefix.", cache_.hits);
    scalar("loom_prefix_cache_misses_total", "counter", "Prompts the prefix cache had nothing for.", cache_.misses);
    scalar("loom_prefix_cache_evictions_total", "counter", "Snapshots dropped to stay within --cache-ram.",
           cache_.evictions);
    scalar("loom_prompt_tokens_cached_total", "counter", "Prompt tokens restored from the prefix cache, not prefilled.",
           cache_.tokens_reused);
    scalar("loom_prefix_cache_bytes", "gauge", "Bytes of the snapshots the prefix cache keeps.", cache_.bytes);
    scalar("loom_prefix_cache_entries", "gauge", "Snapshots the prefix cache keeps.", cache_.entries);
    head("loom_time_to_first_token_seconds", "histogram", "From submission to the first generated token.");
    ttft_.render("loom_time_to_first_token_seconds", out);
    head("loom_inter_token_seconds", "histogram", "Between consecutive tokens of a sequence.");
    inter_token_.render("loom_inter_token_seconds", out);
    head("loom_request_duration_seconds", "histogram", "From submission to the last token.");
    duration_.render("loom_request_duration_seconds", out);
    return out;
}

}  // namespace loom::server
