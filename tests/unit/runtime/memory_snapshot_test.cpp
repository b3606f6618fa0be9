// Memory snapshots (Session::save / restore): a sequence restored from a snapshot taken after some passes, fed the
// same later passes, gives the bits of the sequence that never stopped: for every kind of memory (KV, latent
// K-only, shared K/V, sliding windows, recurrent state). A prefix cache rests on it.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "runtime/model.h"
#include "runtime/session.h"
#include "unit/runtime/loaded_model.h"
#include "unit/test_env.h"

namespace loom::runtime {
namespace {

using test_models::Loaded;

std::vector<int32_t> tokens(int n) {
    std::vector<int32_t> t(static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) t[size_t(i)] = 3 + (29 * i) % 1000;
    return t;
}

// The logits of every token of t[from, to) fed to `seq` in passes of `chunk` (cut at multiples of it).
std::vector<float> feed(Session& s, int seq, const std::vector<int32_t>& t, int64_t from, int64_t to, int64_t chunk) {
    const int64_t V = s.model().n_vocab();
    std::vector<float> out;
    for (int64_t pos = from; pos < to;) {
        const int64_t n = std::min(chunk - pos % chunk, to - pos);
        auto got = s.decode(Batch::sequence({t.data() + pos, size_t(n)}, int32_t(pos), seq, true));
        EXPECT_TRUE(got.ok()) << got.error().message();
        if (!got.ok()) return {};
        out.insert(out.end(), got->row<float>(0), got->row<float>(0) + n * V);
        pos += n;
    }
    return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

class MemorySnapshot : public ::testing::TestWithParam<const char*> {};

// 90 tokens in passes of 16 (the windowed models' window is 32: their sliding layers drop slots before 90).
TEST_P(MemorySnapshot, RestoredSequenceContinuesWithTheSameBits) {
    const std::vector<int32_t> t = tokens(90);
    Loaded l = test_models::load(test::synth_model(GetParam(), "q8_0"), DType::f16, 128, 3, 16);
    ASSERT_TRUE(l.session);
    Session& s = *l.session;
    const std::vector<float> cold = feed(s, 0, t, 0, 90, 16);
    const int64_t V = l.model->n_vocab();

    // Seq 1 stops at 48, is saved, and goes on in seq 2 after a restore (seq 2 held something else before).
    ASSERT_FALSE(feed(s, 2, tokens(20), 0, 20, 16).empty());
    feed(s, 1, t, 0, 48, 16);
    const exec::MemorySnapshot at48 = s.save(1);
    EXPECT_EQ(at48.n_past(), 48);
    EXPECT_GT(at48.bytes(), 0u);
    ASSERT_TRUE(s.restore(2, at48).ok());
    EXPECT_EQ(s.n_past(2), 48);
    const std::vector<float> warm = feed(s, 2, t, 48, 90, 16);
    EXPECT_TRUE(same_bits(warm, std::vector<float>(cold.begin() + 48 * V, cold.end()))) << GetParam();

    // Seq 1 goes on to 64 and is saved: restored and cut back to 48 (where the memory can go back), the same bits.
    feed(s, 1, t, 48, 64, 16);
    const exec::MemorySnapshot at64 = s.save(1);
    s.reset(2);
    ASSERT_TRUE(s.restore(2, at64).ok());
    if (s.memory().has_recurrent()) {
        EXPECT_FALSE(s.truncate(2, 48).ok());  // a recurrent state cannot go back: a cache keeps a snapshot per point
        return;
    }
    ASSERT_TRUE(s.truncate(2, 48).ok());
    EXPECT_TRUE(same_bits(feed(s, 2, t, 48, 90, 16), std::vector<float>(cold.begin() + 48 * V, cold.end())))
        << GetParam();
}

INSTANTIATE_TEST_SUITE_P(Families, MemorySnapshot,
                         ::testing::Values("llama", "gemma3", "gemma4", "deepseek2lite", "qwen35", "qwen3moe"));

TEST(MemorySnapshotLayout, AnotherLayoutIsRefusedAndChangesNothing) {
    Loaded a = test_models::load(test::synth_model("llama", "f32"), DType::f16, 64);
    Loaded b = test_models::load(test::synth_model("llama", "f32"), DType::f32, 64);  // f32 KV: another layout
    ASSERT_TRUE(a.session && b.session);
    const std::vector<int32_t> t = tokens(10);
    feed(*a.session, 0, t, 0, 10, 16);
    feed(*b.session, 0, t, 0, 4, 16);
    const Status st = b.session->restore(0, a.session->save(0));
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.error().message().find("another layout"), std::string::npos) << st.error().message();
    EXPECT_EQ(b.session->n_past(0), 4);
}

}  // namespace
}  // namespace loom::runtime
