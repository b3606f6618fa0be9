// Sliding-window memory in a Session: sliding layers keep window + n_batch slots instead of the context, drop the
// oldest as a sequence grows, and give the stateless oracle's logits; batches longer than n_batch run as several
// passes; truncation cannot go back past what the sliding layers still hold.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "runtime/model.h"
#include "runtime/session.h"
#include "unit/runtime/loaded_model.h"
#include "unit/test_env.h"

namespace loom::runtime {
namespace {

using test_models::Loaded;

std::vector<int32_t> tokens(int n, int32_t first) {
    std::vector<int32_t> t;
    t.reserve(size_t(n));
    for (int i = 0; i < n; ++i) t.push_back(first + (13 * i) % 1500);
    return t;
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
    double worst = 0;
    for (int64_t i = 0; i < n; ++i) worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
    return worst;
}

// gemma3's test model: window 32, layers 0, 1, 3 sliding (1 KV head of 128), layer 2 global.
TEST(SlidingWindow, SlidingLayersKeepWindowPlusBatchSlots) {
    Loaded l = test_models::load(test::synth_model("gemma3", "f32"), DType::f32, 256, 1, 8);
    ASSERT_TRUE(l.session);
    const exec::Memory& mem = l.session->memory();
    EXPECT_TRUE(mem.has_windows());
    EXPECT_EQ(mem.k(0, 0).dim(0), 72);   // 32 + 8 + 32
    EXPECT_EQ(mem.k(2, 0).dim(0), 256);  // the global layer: the whole context
    EXPECT_EQ(mem.kv_bytes_per_seq(), size_t((3 * 72 + 256) * 128 * 4 * 2));
}

// Chunks of up to 8 (the pass size) and single tokens, 320 in all (past 256, where single-token attention splits
// the KV range between the threads): the sliding layers drop their oldest slots (32 at a time). The attention kernels,
// told how many were dropped, group the kept ones as over the full cache: the logits are the bits of a memory that
// keeps every slot (same chunks), and within the usual chunked-versus-one-pass noise of the stateless oracle. Both KV
// types: f16 takes the streaming kernel, f32 the unfused one.
std::vector<float> run_in_chunks(const std::string& family, DType kv, int64_t n_batch, const std::vector<int32_t>& t) {
    Loaded l = test_models::load(test::synth_model(family, "f32"), kv, 512, 1, n_batch);
    EXPECT_TRUE(l.session);
    if (!l.session) return {};
    EXPECT_EQ(l.session->memory().has_windows(), n_batch < 64) << family;
    const int64_t V = l.model->n_vocab();
    std::vector<float> out;
    int64_t pos = 0;
    constexpr int64_t kSchedule[] = {8, 8, 5, 1, 1, 8, 3};
    for (int64_t step = 0; pos < int64_t(t.size()); ++step) {
        const int64_t n = std::min<int64_t>(kSchedule[step % 7], int64_t(t.size()) - pos);
        auto got = l.session->decode(Batch::sequence({t.data() + pos, size_t(n)}, int32_t(pos), 0, true));
        EXPECT_TRUE(got.ok()) << got.error().message();
        if (!got.ok()) return {};
        if (pos + n == int64_t(t.size()) && n_batch < 64) EXPECT_GT(l.session->memory().n_dropped(0, 0), 0) << family;
        out.insert(out.end(), got->row<float>(0), got->row<float>(0) + n * V);
        pos += n;
    }
    return out;
}

TEST(SlidingWindow, DroppingSlotsChangesNoBit) {
    const std::vector<int32_t> t = tokens(320, 5);
    for (const char* family : {"gemma3", "gemma4"}) {  // gemma4: layers 4 and 5 read the K/V of layers 2 and 3
        for (DType kv : {DType::f16, DType::f32}) {
            const std::vector<float> windowed = run_in_chunks(family, kv, 8, t);
            const std::vector<float> full = run_in_chunks(family, kv, 512, t);
            ASSERT_EQ(windowed.size(), full.size());
            EXPECT_EQ(max_abs_diff(windowed.data(), full.data(), int64_t(full.size())), 0) << family << " " << name(kv);
            if (kv != DType::f32) continue;
            Loaded l = test_models::load(test::synth_model(family, "f32"), DType::f32, 512);
            ASSERT_TRUE(l.session);
            auto ref = l.session->stateless(t);
            ASSERT_TRUE(ref.ok()) << ref.error().message();
            EXPECT_LE(max_abs_diff(windowed.data(), ref->row<float>(0), int64_t(windowed.size())), 1e-2) << family;
        }
    }
}

// A batch longer than n_batch runs as consecutive passes: the same logits as feeding it in chunks yourself.
TEST(SlidingWindow, LongBatchesRunInPasses) {
    const std::vector<int32_t> t = tokens(60, 9);
    Loaded whole = test_models::load(test::synth_model("gemma3", "f32"), DType::f32, 256, 1, 8);
    Loaded chunked = test_models::load(test::synth_model("gemma3", "f32"), DType::f32, 256, 1, 8);
    ASSERT_TRUE(whole.session && chunked.session);
    const int64_t V = whole.model->n_vocab();
    auto all = whole.session->decode(Batch::sequence(t, 0, 0, true));
    ASSERT_TRUE(all.ok()) << all.error().message();
    ASSERT_EQ(all->n_rows(), 60);
    const std::vector<float> got(all->row<float>(0), all->row<float>(0) + 60 * V);
    for (int64_t pos = 0; pos < 60; pos += 8) {
        const int64_t n = std::min<int64_t>(8, 60 - pos);
        auto part = chunked.session->decode(Batch::sequence({t.data() + pos, size_t(n)}, int32_t(pos), 0, true));
        ASSERT_TRUE(part.ok());
        EXPECT_EQ(max_abs_diff(part->row<float>(0), got.data() + pos * V, n * V), 0) << "at " << pos;
    }
    // Only the last token's logits when the batch asks for the default.
    auto last = whole.session->decode(Batch::sequence(tokens(20, 3), 60));
    ASSERT_TRUE(last.ok()) << last.error().message();
    EXPECT_EQ(last->n_rows(), 1);
}

TEST(SlidingWindow, TruncationStopsAtWhatTheWindowStillHolds) {
    Loaded l = test_models::load(test::synth_model("gemma3", "f32"), DType::f32, 256, 1, 8);
    ASSERT_TRUE(l.session);
    const std::vector<int32_t> t = tokens(100, 5);
    for (int64_t pos = 0; pos < 100; pos += 4)
        ASSERT_TRUE(l.session->decode(Batch::sequence({t.data() + pos, 4}, int32_t(pos))).ok());
    // Passes of 4 into 72 slots: the pass at 72 drops the first 32, so the sliding layers hold positions 32..99 and
    // the next token can go back to 64 at the earliest (it sees back to 33).
    EXPECT_TRUE(l.session->truncate(0, 97).ok());
    EXPECT_EQ(l.session->n_past(0), 97);
    const Status far = l.session->truncate(0, 60);
    ASSERT_FALSE(far.ok());
    EXPECT_NE(far.error().message().find("sliding-window layers keep only the last 72 slots and no longer hold "
                                         "position 31"),
              std::string::npos)
        << far.error().message();
    EXPECT_EQ(l.session->n_past(0), 97);  // refused: nothing changed
    ASSERT_TRUE(l.session->truncate(0, 64).ok());
    ASSERT_TRUE(l.session->truncate(0, 0).ok());
    EXPECT_EQ(l.session->n_past(0), 0);
    // After a rewind the sequence continues as if it had never gone further.
    Loaded fresh = test_models::load(test::synth_model("gemma3", "f32"), DType::f32, 256, 1, 8);
    ASSERT_TRUE(fresh.session);
    auto ref = fresh.session->stateless(std::vector<int32_t>(t.begin(), t.begin() + 96));
    ASSERT_TRUE(ref.ok());
    for (int64_t pos = 0; pos < 96; pos += 8)
        ASSERT_TRUE(
            l.session->decode(Batch::sequence({t.data() + pos, size_t(std::min<int64_t>(8, 96 - pos))}, int32_t(pos)))
                .ok());
    ASSERT_TRUE(l.session->truncate(0, 95).ok());
    auto again = l.session->decode(Batch::sequence({t.data() + 95, 1}, 95));
    ASSERT_TRUE(again.ok());
    EXPECT_LE(max_abs_diff(again->row<float>(0), ref->row<float>(95), l.model->n_vocab()), 1e-2);
}

}  // namespace
}  // namespace loom::runtime
