// The prefix cache of the scheduler: memory snapshots of the beginnings of prompts, cut at the scheduler's chunk
// boundaries (multiples of its prefill pass size counted from position 0). A prompt that begins the same way
// restores one and prefills only the rest, in the very passes a cold prefill would run from that boundary on, so
// the result is the same bits with or without the cache. (Kernels round a token by the number of tokens in its
// pass, as llama.cpp's do, so reusing the KV of a prompt's last, partial chunk or of generated tokens would change
// the bits; they are recomputed.) Least recently used snapshots go first when a byte budget is exceeded.
//
// Not thread-safe: the scheduler thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <vector>

#include "exec/memory.h"

namespace loom::server {

struct PrefixCacheStats {
    uint64_t hits = 0, misses = 0, evictions = 0;
    uint64_t tokens_reused = 0;  // prompt tokens restored instead of prefilled, over all hits
    size_t bytes = 0, entries = 0;
};

class PrefixCache {
public:
    // chunk: the scheduler's prefill pass size (>= 1); budget: bytes of snapshots kept at most.
    PrefixCache(int64_t chunk, size_t budget_bytes);

    struct Match {
        const exec::MemorySnapshot* snapshot;  // valid until the next insert
        int64_t n_tokens;                      // restore, then keep positions [0, n_tokens)
    };
    // The snapshot that gives the longest start of `prompt` to reuse: a multiple of the chunk, shorter than the
    // prompt (its last token must run to give logits) and shared with the snapshot's tokens. Snapshots holding
    // more than that are candidates only if `can_cut` (the memory can truncate back). Counts a hit or a miss.
    std::optional<Match> find(std::span<const int32_t> prompt, bool can_cut);
    // The reused tokens of a hit the caller could not use after all (its memory refused to go back): a miss.
    void undo_hit(int64_t n_tokens);

    // Keeps the snapshot of a sequence holding exactly `tokens` (a multiple of the chunk). With `supersede`, kept
    // snapshots of a strict beginning of `tokens` go (this one serves their prompts by cutting back). Evicts the
    // least recently used to fit the budget; a snapshot larger than the whole budget is not kept.
    void insert(std::span<const int32_t> tokens, exec::MemorySnapshot snap, bool supersede);

    int64_t chunk() const { return chunk_; }
    const PrefixCacheStats& stats() const { return stats_; }

private:
    struct Entry {
        std::vector<int32_t> tokens;
        exec::MemorySnapshot snap;
    };
    void erase(std::list<Entry>::iterator it);

    int64_t chunk_;
    size_t budget_;
    std::list<Entry> entries_;  // most recently used first
    PrefixCacheStats stats_;
};

}  // namespace loom::server
