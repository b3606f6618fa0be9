// The scheduler: one thread owns the Session and runs continuous batching. Each step runs one forward pass over
// a decode token of every sequence that is generating, then a prefill chunk of the oldest sequence still
// reading its prompt (or, with fuse_prefill, both in one pass), then samples each sequence with its own
// Sampler, stop strings and streaming decoder. Sequences enter from a bounded queue as slots (KV cache
// sequences) free up.
//
// Requests talk to it through a RequestStream: the scheduler pushes events (text, logprobs, finish), the HTTP
// thread pops them and may cancel; a cancelled sequence leaves its slot at the next step, and a cancelled
// queued one is dropped before its prefill.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/vocab_trie.h"
#include "runtime/diffusion.h"
#include "runtime/sampler.h"
#include "server/prefix_cache.h"

namespace loom::runtime {
class Session;
}
namespace loom::tokenizer {
class Vocab;
}

namespace loom::server {

class Metrics;

// A token with its log-probability under the model (raw logits: no bias, penalty or temperature) and the
// k most likely alternatives.
struct TokenInfo {
    int32_t id = 0;
    double logprob = 0.0;  // NaN: none (the first prompt token has no context to be predicted from)
    std::vector<runtime::TokenLogprob> top;
};

// One sequence to generate (one choice of a request).
struct SequenceSpec {
    std::vector<int32_t> prompt;       // PRECONDITION: 1 <= size < n_ctx, ids in the vocabulary
    runtime::SamplingParams sampling;  // validated, seed resolved
    int64_t max_tokens = -1;           // -1: until end of generation or context
    std::vector<std::string> stop;
    std::vector<int32_t> stop_ids;  // end generation like end-of-generation tokens do
    int logprobs = -1;              // -1: none; k >= 0: TokenInfo with k alternatives per generated token
    bool prompt_logprobs = false;   // TokenInfo for every prompt token (echo), k = max(logprobs, 0)
    int index = 0;                  // the choice index reported back in events
    // The output must match this grammar: tokens it rejects are masked, and generation stops where it is
    // complete. Null: free text.
    std::shared_ptr<const grammar::Grammar> grammar;
    bool render_special = false;  // control tokens appear in the text (tool-call markers that are control tokens)
};

enum class Finish : uint8_t { none, stop, length, cancelled, error };
const char* finish_reason(Finish f);  // "stop", "length", ...

struct SequenceEvent {
    int index = 0;
    std::string text;                       // new text, valid UTF-8, cut before stop strings
    std::vector<TokenInfo> tokens;          // with logprobs: the token sampled at this step
    std::vector<TokenInfo> prompt;          // with prompt_logprobs: once, before any text
    Finish finish = Finish::none;           // set on the last event of the sequence
    int64_t n_prompt = 0, n_generated = 0;  // on the last event
    int64_t n_cached = 0;                   // on the last event: prompt tokens restored from the prefix cache
    std::string error;                      // Finish::error: what went wrong
};

// The channel between the scheduler and one request (all its sequences). Thread-safe.
class RequestStream {
public:
    // Waits up to `wait` for an event; false on timeout.
    bool next(SequenceEvent& out, std::chrono::milliseconds wait);
    // The client left: its sequences stop at the next step (queued ones are dropped).
    void cancel() { cancelled_.store(true); }
    bool cancelled() const { return cancelled_.load(); }

    void push(SequenceEvent e);  // the scheduler's side

private:
    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<SequenceEvent> events_;
    std::atomic<bool> cancelled_{false};
};

struct SchedulerOptions {
    int n_parallel = 4;     // slots: sequences generating at once (the Session's n_seq)
    int max_queue = 64;     // sequences waiting for a slot; beyond it submit() answers queue_full
    int64_t n_batch = 512;  // tokens per forward pass (decode tokens + prefill chunks)
    // One pass per step for decode tokens and prefill chunks together (fewer weight reads), at the price that
    // a sequence's numerics depend on what shares its passes. Off: decode and prefill run in separate passes,
    // so temperature-0 output is the same alone or beside others.
    bool fuse_prefill = false;
    // Bytes of prompt-prefix snapshots the prefix cache may keep (server/prefix_cache.h); 0: no cache. Without
    // fuse_prefill only: fused passes cut prompts where the decode tokens leave room, not at fixed boundaries.
    size_t cache_bytes = size_t(4096) << 20;
    // A diffusion model's schedule: each sequence is a canvas of its prompt and max_tokens positions (128 when
    // unbounded), unmasked over these steps; its text streams block by block. Each canvas has a pass of its own per
    // step (the bits of loom run), or with fuse_prefill every canvas shares one pass.
    runtime::DiffusionSettings diffusion{};
};

struct SchedulerLoad {
    int64_t queued = 0, active = 0, kv_used = 0, kv_capacity = 0;
};

class Scheduler {
public:
    // PRECONDITION: session.options().n_seq >= opt.n_parallel; session and vocab outlive the scheduler.
    // Starts the scheduler thread.
    Scheduler(runtime::Session& session, const tokenizer::Vocab& vocab, const SchedulerOptions& opt, Metrics* metrics);
    ~Scheduler();  // stops (pending and active sequences end as cancelled) and joins

    enum class Submit { ok, queue_full, draining };
    // Queues all of `seqs` (or none). Their events go to `stream`.
    Submit submit(std::vector<SequenceSpec> seqs, const std::shared_ptr<RequestStream>& stream);

    // Refuses new work from now on and returns when every queued and active sequence has finished.
    void drain();

    SchedulerLoad load() const;
    const SchedulerOptions& options() const { return opt_; }

private:
    struct Slot;
    struct Pending {
        SequenceSpec spec;
        std::shared_ptr<RequestStream> stream;
        std::chrono::steady_clock::time_point submitted;
    };

    void loop();
    void admit();
    bool step();
    // One forward pass: a decode token of each of `decoding`, then prefill chunks of `prefilling` (in order)
    // up to `budget` tokens; then sampling and events for every sequence that produced a next token.
    void run_pass(std::span<Slot* const> decoding, std::span<Slot* const> prefilling, int64_t budget);
    // Ends a sequence: pushes `last` (or an empty event) as its final event and frees its slot.
    void finish(Slot& s, Finish f, std::string error = "", SequenceEvent* last = nullptr);
    void emit_token(Slot& s, const float* logits);
    bool ends_generation(const Slot& s, int32_t token) const;  // end of generation or one of the request's stop ids
    void end_text(Slot& s, SequenceEvent& e);  // appends what the decoder and the stop matcher still hold
    // Diffusion models: the canvas of a newly admitted slot; one denoising step of every canvas; the text of the
    // positions a step made final.
    void start_canvas(Slot& s);
    bool step_canvases();
    void emit_final(Slot& s);
    // Prefix cache: restore the longest cached start of the slot's prompt; keep a snapshot at its last boundary.
    void restore_prefix(Slot& s);
    void keep_prefix(Slot& s);

    runtime::Session& session_;
    const tokenizer::Vocab& vocab_;
    SchedulerOptions opt_;
    Metrics* metrics_;
    int32_t n_vocab_ = 0;
    int64_t n_ctx_ = 0;
    bool diffusion_ = false;  // the model fills canvases instead of decoding left to right

    mutable std::mutex mu_;
    std::condition_variable cv_;       // work arrived, or stop
    std::condition_variable idle_cv_;  // nothing queued or active (for drain)
    std::deque<Pending> queue_;
    int64_t n_active_ = 0;  // slots in use, readable under mu_
    bool draining_ = false, stop_ = false;
    uint64_t n_admitted_ = 0;  // admission counter (scheduler thread)

    std::vector<std::unique_ptr<Slot>> slots_;  // owned by the scheduler thread
    std::optional<PrefixCache> cache_;          // owned by the scheduler thread
    // The vocabulary's token texts as a trie, for grammars: built on the first request that has one.
    std::shared_ptr<const grammar::VocabTrie> trie_;
    std::thread thread_;
};

}  // namespace loom::server
