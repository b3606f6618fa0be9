// exec::Memory: every kind's storage and views, slot bookkeeping apart from positions, and the rules that
// keep a recurrent state honest (no rewinding, reset zeroes it).
#include "exec/memory.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

namespace loom::exec {
namespace {

using K = MemoryKind;

std::vector<int32_t> range(int32_t from, int32_t n) {
    std::vector<int32_t> v;
    v.reserve(size_t(n));
    for (int32_t i = 0; i < n; ++i) v.push_back(from + i);
    return v;
}

TEST(Memory, EveryKindHasItsStorage) {
    // Layers: kv, none, shared with 0, K-only latent (V = first 3 columns of K), recurrent.
    const std::vector<MemorySpec> layers = {MemorySpec::kv(2, 8, 4), MemorySpec{}, MemorySpec::shared(0),
                                            MemorySpec::kv_k_only(1, 6, 3), MemorySpec::recurrent(3, 10, 2, 4, 4)};
    auto m = Memory::create(layers, 2, 16, DType::f32);
    ASSERT_TRUE(m.ok()) << m.error().message();
    const size_t kv = 16 * 2 * (8 + 4) * 4 + 16 * 1 * 6 * 4, state = (3 * 10 + 2 * 4 * 4) * 4;
    EXPECT_EQ(m->kv_bytes_per_seq(), kv);
    EXPECT_EQ(m->state_bytes_per_seq(), state);
    EXPECT_EQ(m->bytes(), 2 * (kv + state));
    EXPECT_TRUE(m->has_recurrent());

    // The shared layer reads layer 0's K and V, per sequence.
    EXPECT_EQ(m->k(2, 1).data, m->k(0, 1).data);
    EXPECT_EQ(m->v(2, 1).data, m->v(0, 1).data);
    EXPECT_NE(m->k(0, 0).data, m->k(0, 1).data);
    // K-only: V is the leading columns of K, with K's strides.
    const TensorView k3 = m->k(3, 0), v3 = m->v(3, 0);
    EXPECT_EQ(v3.data, k3.data);
    EXPECT_EQ(v3.shape[2], 3);
    EXPECT_EQ(v3.stride[1], k3.stride[1]);
    // Recurrent views.
    EXPECT_EQ(m->conv_state(4, 1).shape[0], 3);
    EXPECT_EQ(m->conv_state(4, 1).shape[1], 10);
    EXPECT_EQ(m->recurrent_state(4, 0).n_elements(), 32);
}

TEST(Memory, BadSpecsAreRefused) {
    auto fwd = Memory::create({MemorySpec::shared(1), MemorySpec::kv(1, 4, 4)}, 1, 4, DType::f16);
    ASSERT_FALSE(fwd.ok());
    EXPECT_NE(fwd.error().message().find("not an earlier layer"), std::string::npos) << fwd.error().message();
    auto of_state = Memory::create({MemorySpec::recurrent(1, 4, 1, 2, 2), MemorySpec::shared(0)}, 1, 4, DType::f16);
    ASSERT_FALSE(of_state.ok());
    EXPECT_NE(of_state.error().message().find("keeps no K/V"), std::string::npos);
    auto wide_v = Memory::create({MemorySpec::kv_k_only(1, 4, 8)}, 1, 4, DType::f16);
    ASSERT_FALSE(wide_v.ok());
    EXPECT_FALSE(Memory::create({MemorySpec::kv(1, 4, 4)}, 1, 4, DType::q8_0).ok());
    // An absurd context is an error, not a wrapped size.
    auto huge = Memory::create({MemorySpec::kv(8, 128, 128)}, 8, int64_t(1) << 50, DType::f16);
    ASSERT_FALSE(huge.ok());
    EXPECT_NE(huge.error().message().find("do not fit in memory"), std::string::npos) << huge.error().message();
}

TEST(Memory, SlotsAreNotPositions) {
    auto m = Memory::create({MemorySpec::kv(1, 4, 4)}, 1, 8, DType::f16);
    ASSERT_TRUE(m.ok());
    const std::vector<int32_t> a = {0, 1, 2}, b = {5, 7};  // a gap: slots stay packed
    ASSERT_EQ(*m->reserve(0, a.data(), 3), 0);
    ASSERT_EQ(*m->reserve(0, b.data(), 2), 3);
    EXPECT_EQ(m->n_slots(0), 5);
    EXPECT_EQ(m->n_past(0), 8);
    const int32_t* pos = m->slot_pos(0).row<int32_t>(0);
    EXPECT_EQ(std::vector<int32_t>(pos, pos + 6), (std::vector<int32_t>{0, 1, 2, 5, 7, -1}));
    // Going back needs a truncation first; truncation keeps the slots below the cut.
    const std::vector<int32_t> back = {6};
    EXPECT_FALSE(m->reserve(0, back.data(), 1).ok());
    ASSERT_TRUE(m->truncate(0, 6).ok());
    EXPECT_EQ(m->n_slots(0), 4);
    EXPECT_EQ(m->n_past(0), 6);
    EXPECT_EQ(*m->reserve(0, back.data(), 1), 4);
    // Positions must increase inside a call and fit the context.
    const std::vector<int32_t> same = {9, 9}, past = {8};
    EXPECT_FALSE(m->check_reserve(0, same.data(), 2).ok());
    auto far = m->check_reserve(0, past.data(), 1);
    ASSERT_FALSE(far.ok());
    EXPECT_NE(far.error().message().find("does not fit the context of 8"), std::string::npos);
}

// A sliding layer (window 4) beside a full one, passes of at most 2: 4 + 2 + 32 slots; when a pass would not fit,
// the oldest are dropped in groups of 32 (at least the last window − 1 kept, moved to the front with their K rows).
TEST(Memory, SlidingLayersKeepTheirWindow) {
    auto m = Memory::create({MemorySpec::kv(1, 1, 1, 4), MemorySpec::kv(1, 1, 1)}, 1, 256, DType::f32, 2);
    ASSERT_TRUE(m.ok()) << m.error().message();
    EXPECT_TRUE(m->has_windows());
    EXPECT_EQ(m->k(0, 0).dim(0), 38);
    EXPECT_EQ(m->k(1, 0).dim(0), 256);
    EXPECT_EQ(m->kv_bytes_per_seq(), size_t((38 + 256) * 4 * 2));
    auto held = [&](int64_t layer) {
        const int32_t* p = m->slot_pos(layer, 0).row<int32_t>(0);
        return std::vector<int32_t>(p, p + m->n_held(layer, 0));
    };
    auto range = [](int32_t a, int32_t b) {
        std::vector<int32_t> r;
        for (int32_t p = a; p < b; ++p) r.push_back(p);
        return r;
    };
    for (int32_t p = 0; p < 80; p += 2) {
        const std::vector<int32_t> pos = {p, p + 1};
        auto first = m->reserve(0, pos.data(), 2);
        ASSERT_TRUE(first.ok());
        // What a block writes: the K row of the token at position p is p, at the layer's own slot.
        for (int64_t layer : {0, 1})
            for (int i = 0; i < 2; ++i)
                m->k(layer, 0).row<float>(m->layer_slot(layer, 0, *first + i))[0] = float(p + i);
        EXPECT_EQ(m->n_dropped(0, 0) % 32, 0);
        EXPECT_LE(m->n_held(0, 0), 38);
    }
    // Drops at the passes of 38, 39 (32 slots) and 70, 71 (32 more).
    EXPECT_EQ(held(1), range(0, 80));
    EXPECT_EQ(m->n_dropped(0, 0), 64);
    EXPECT_EQ(m->n_dropped(1, 0), 0);
    EXPECT_EQ(held(0), range(64, 80));
    for (int64_t i = 0; i < 16; ++i) EXPECT_EQ(m->k(0, 0).row<float>(i)[0], float(64 + i));
    const std::vector<int32_t> three = {80, 81, 82};
    EXPECT_NE(m->check_reserve(0, three.data(), 3).error().message().find("room for 2 new tokens per pass"),
              std::string::npos);
    // Back to 70 needs 67..69 (held); back to 66 needs 63..65 (63 is gone).
    const Status far = m->truncate(0, 66);
    ASSERT_FALSE(far.ok());
    EXPECT_NE(far.error().message().find("no longer hold position 63"), std::string::npos) << far.error().message();
    ASSERT_TRUE(m->truncate(0, 70).ok());
    EXPECT_EQ(held(0), range(64, 70));
    EXPECT_EQ(held(1), range(0, 70));
    ASSERT_TRUE(m->truncate(0, 0).ok());
    EXPECT_TRUE(held(0).empty());
    EXPECT_EQ(m->n_dropped(0, 0), 0);
    // A layer reading a windowed one must not look further back than its window.
    EXPECT_FALSE(
        Memory::create({MemorySpec::kv(1, 1, 1, 4), MemorySpec::shared(0, 1, 1, 1)}, 1, 256, DType::f32, 2).ok());
    EXPECT_TRUE(
        Memory::create({MemorySpec::kv(1, 1, 1, 4), MemorySpec::shared(0, 1, 1, 1, 4)}, 1, 256, DType::f32, 2).ok());
}

TEST(Memory, RecurrentStateContinuesOrStartsOver) {
    auto m = Memory::create({MemorySpec::recurrent(2, 3, 1, 2, 2), MemorySpec::kv(1, 4, 4)}, 2, 16, DType::f32);
    ASSERT_TRUE(m.ok());
    const auto first = range(0, 4);
    ASSERT_TRUE(m->reserve(0, first.data(), 4).ok());
    m->recurrent_state(0, 0).row<float>(0)[0] = 1.5f;
    m->conv_state(0, 0).row<float>(1)[2] = -2.f;
    m->recurrent_state(0, 1).row<float>(0)[0] = 7.f;  // the other sequence's state is left alone below

    // Tokens must continue exactly at n_past: no gap, no overlap.
    const auto gap = range(5, 1), overlap = range(3, 1), next = range(4, 2);
    auto e = m->check_reserve(0, gap.data(), 1);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message().find("must continue at position 4"), std::string::npos) << e.error().message();
    EXPECT_FALSE(m->check_reserve(0, overlap.data(), 1).ok());
    EXPECT_TRUE(m->check_reserve(0, next.data(), 2).ok());

    // Truncation: the end (or past it) is a no-op, the middle is refused and changes nothing, 0 resets.
    EXPECT_TRUE(m->truncate(0, 4).ok());
    EXPECT_TRUE(m->truncate(0, 100).ok());
    auto mid = m->truncate(0, 2);
    ASSERT_FALSE(mid.ok());
    EXPECT_NE(mid.error().message().find("cannot be rewound"), std::string::npos);
    EXPECT_EQ(m->n_past(0), 4);
    EXPECT_EQ(m->recurrent_state(0, 0).row<float>(0)[0], 1.5f);
    ASSERT_TRUE(m->truncate(0, 0).ok());
    EXPECT_EQ(m->n_past(0), 0);
    EXPECT_EQ(m->n_slots(0), 0);
    EXPECT_EQ(m->recurrent_state(0, 0).row<float>(0)[0], 0.f);
    EXPECT_EQ(m->conv_state(0, 0).row<float>(1)[2], 0.f);
    EXPECT_EQ(m->recurrent_state(0, 1).row<float>(0)[0], 7.f);
}

}  // namespace
}  // namespace loom::exec
