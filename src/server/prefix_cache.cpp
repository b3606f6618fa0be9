// Longest-prefix lookup over a short list of snapshots, least recently used eviction by bytes.
#include "server/prefix_cache.h"

#include <algorithm>

namespace loom::server {
namespace {

int64_t common_prefix(std::span<const int32_t> a, std::span<const int32_t> b) {
    const auto [ia, ib] = std::mismatch(a.begin(), a.end(), b.begin(), b.end());
    return int64_t(ia - a.begin());
}

}  // namespace

PrefixCache::PrefixCache(int64_t chunk, size_t budget_bytes)
    : chunk_(std::max<int64_t>(1, chunk)), budget_(budget_bytes) {}

std::optional<PrefixCache::Match> PrefixCache::find(std::span<const int32_t> prompt, bool can_cut) {
    auto best = entries_.end();
    int64_t best_n = 0;
    for (auto it = entries_.begin(); it != entries_.end(); ++it) {
        const int64_t shared = std::min(common_prefix(it->tokens, prompt), int64_t(prompt.size()) - 1);
        const int64_t n = shared / chunk_ * chunk_;
        if (n <= 0 || (n < int64_t(it->tokens.size()) && !can_cut)) continue;
        // Longer reuse first; at equal reuse the snapshot with least to cut back (recency breaks the rest: the
        // list is in that order).
        if (n > best_n || (n == best_n && it->tokens.size() < best->tokens.size())) best = it, best_n = n;
    }
    if (best == entries_.end()) {
        ++stats_.misses;
        return std::nullopt;
    }
    entries_.splice(entries_.begin(), entries_, best);
    ++stats_.hits;
    stats_.tokens_reused += uint64_t(best_n);
    return Match{&entries_.front().snap, best_n};
}

void PrefixCache::undo_hit(int64_t n_tokens) {
    --stats_.hits;
    ++stats_.misses;
    stats_.tokens_reused -= uint64_t(n_tokens);
}

void PrefixCache::insert(std::span<const int32_t> tokens, exec::MemorySnapshot snap, bool supersede) {
    for (auto it = entries_.begin(); it != entries_.end();) {
        const auto next = std::next(it);
        const bool same = std::ranges::equal(it->tokens, tokens);
        const bool covered = supersede && it->tokens.size() < tokens.size() &&
                             common_prefix(it->tokens, tokens) == int64_t(it->tokens.size());
        if (same || covered) erase(it);
        it = next;
    }
    if (snap.bytes() > budget_) return;
    while (!entries_.empty() && stats_.bytes + snap.bytes() > budget_) {
        erase(std::prev(entries_.end()));
        ++stats_.evictions;
    }
    stats_.bytes += snap.bytes();
    entries_.push_front({std::vector<int32_t>(tokens.begin(), tokens.end()), std::move(snap)});
    stats_.entries = entries_.size();
}

void PrefixCache::erase(std::list<Entry>::iterator it) {
    stats_.bytes -= it->snap.bytes();
    entries_.erase(it);
    stats_.entries = entries_.size();
}

}  // namespace loom::server
