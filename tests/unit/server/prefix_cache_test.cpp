// The prefix cache's choices: reuse cut at chunk boundaries and short of the prompt's end, the longest reuse first,
// snapshots that must be cut back only when the memory can, supersession, least-recently-used eviction within the
// byte budget, and its counters.
#include "server/prefix_cache.h"

#include <gtest/gtest.h>

#include <numeric>
#include <vector>

namespace loom::server {
namespace {

// A snapshot of a one-layer f32 KV memory holding n tokens: 2 · 8 · 4 bytes per token plus the slot table.
exec::MemorySnapshot snapshot_of(int64_t n) {
    auto m = exec::Memory::create({exec::MemorySpec::kv(1, 8, 8)}, 1, 256, DType::f32);
    EXPECT_TRUE(m.ok());
    std::vector<int32_t> pos(static_cast<size_t>(n));
    std::iota(pos.begin(), pos.end(), 0);
    EXPECT_TRUE(m->reserve(0, pos.data(), n).ok());
    return m->save(0);
}

std::vector<int32_t> seq(int first, int n) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    std::iota(t.begin(), t.end(), first);
    return t;
}

std::vector<int32_t> join(std::vector<int32_t> a, const std::vector<int32_t>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
}

TEST(PrefixCache, ReusesWholeChunksShortOfThePromptsEnd) {
    PrefixCache cache(16, 1 << 20);
    const std::vector<int32_t> a = seq(0, 48);
    cache.insert(a, snapshot_of(48), true);
    EXPECT_FALSE(cache.find(seq(100, 40), true));                              // nothing shared
    EXPECT_FALSE(cache.find(join(seq(0, 15), seq(200, 30)), true));            // 15 shared: not a whole chunk
    EXPECT_EQ(cache.find(join(seq(0, 40), seq(200, 5)), true)->n_tokens, 32);  // cut back to 32
    EXPECT_EQ(cache.find(join(a, seq(200, 5)), true)->n_tokens, 48);
    EXPECT_EQ(cache.find(a, true)->n_tokens, 32);  // the whole prompt cached: its last chunk runs again for logits
    EXPECT_EQ(cache.find(join(seq(0, 40), seq(200, 5)), false), std::nullopt);  // would need cutting back
    const PrefixCacheStats& s = cache.stats();
    EXPECT_EQ(s.hits, 3u);
    EXPECT_EQ(s.misses, 3u);
    EXPECT_EQ(s.tokens_reused, 32u + 48 + 32);
    cache.undo_hit(32);
    EXPECT_EQ(s.hits, 2u);
    EXPECT_EQ(s.misses, 4u);
    EXPECT_EQ(s.tokens_reused, 80u);
}

TEST(PrefixCache, LongestReuseThenLeastToCut) {
    PrefixCache cache(16, 1 << 20);
    cache.insert(seq(0, 64), snapshot_of(64), false);
    cache.insert(seq(0, 32), snapshot_of(32), false);  // kept beside the longer one: no supersession asked
    cache.insert(join(seq(0, 16), seq(500, 16)), snapshot_of(32), false);
    EXPECT_EQ(cache.stats().entries, 3u);
    auto m = cache.find(join(seq(0, 40), seq(900, 3)), true);
    ASSERT_TRUE(m);
    EXPECT_EQ(m->n_tokens, 32);
    EXPECT_EQ(m->snapshot->n_past(), 32);  // the 32-token snapshot, not the 64 one cut back
    EXPECT_EQ(cache.find(seq(0, 70), true)->snapshot->n_past(), 64);
}

TEST(PrefixCache, SupersedesItsOwnBeginnings) {
    PrefixCache cache(16, 1 << 20);
    cache.insert(seq(0, 16), snapshot_of(16), true);
    cache.insert(seq(7, 16), snapshot_of(16), true);
    cache.insert(seq(0, 48), snapshot_of(48), true);  // replaces seq(0, 16), not seq(7, 16)
    EXPECT_EQ(cache.stats().entries, 2u);
    cache.insert(seq(0, 48), snapshot_of(48), true);  // the same tokens again: one entry
    EXPECT_EQ(cache.stats().entries, 2u);
    EXPECT_EQ(cache.stats().bytes, snapshot_of(48).bytes() + snapshot_of(16).bytes());
}

TEST(PrefixCache, EvictsTheLeastRecentlyUsedWithinTheBudget) {
    const size_t one = snapshot_of(32).bytes();
    PrefixCache cache(16, 2 * one + one / 2);  // room for two
    cache.insert(seq(0, 32), snapshot_of(32), true);
    cache.insert(seq(100, 32), snapshot_of(32), true);
    ASSERT_TRUE(cache.find(join(seq(0, 32), seq(900, 2)), true));  // seq(0, ...) is now the most recent
    cache.insert(seq(200, 32), snapshot_of(32), true);             // evicts seq(100, ...)
    EXPECT_EQ(cache.stats().evictions, 1u);
    EXPECT_EQ(cache.stats().entries, 2u);
    EXPECT_LE(cache.stats().bytes, 2 * one + one / 2);
    EXPECT_TRUE(cache.find(join(seq(0, 32), seq(900, 2)), true));
    EXPECT_FALSE(cache.find(join(seq(100, 32), seq(900, 2)), true));
    EXPECT_TRUE(cache.find(join(seq(200, 32), seq(900, 2)), true));

    PrefixCache tiny(16, one / 2);  // a snapshot larger than the whole budget is not kept
    tiny.insert(seq(0, 32), snapshot_of(32), true);
    EXPECT_EQ(tiny.stats().entries, 0u);
    EXPECT_EQ(tiny.stats().bytes, 0u);
}

}  // namespace
}  // namespace loom::server
