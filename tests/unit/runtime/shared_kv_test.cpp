// Layers that read an earlier layer's K/V (attention kv_from; gemma4's test model: layers 4 and 5 read 2 and 3):
// what the memory keeps for them, and the errors for files whose sharing cannot work. Equivalence with llama.cpp
// and with the stateless path is in model_test.cpp.
#include <gtest/gtest.h>

#include <vector>

#include "runtime/model.h"
#include "runtime/session.h"
#include "unit/runtime/loaded_model.h"
#include "unit/test_env.h"

namespace loom::runtime {
namespace {

TEST(SharedKv, SharingLayersKeepNothing) {
    test_models::Loaded l = test_models::load(test::synth_model("gemma4", "f32"));
    ASSERT_TRUE(l.session);
    const exec::Memory& mem = l.session->memory();
    EXPECT_EQ(mem.spec(4).kind, exec::MemoryKind::shared);
    EXPECT_EQ(mem.spec(4).source_layer, 2);
    EXPECT_EQ(mem.spec(5).source_layer, 3);
    EXPECT_EQ(mem.k(4, 0).data, mem.k(2, 0).data);
    EXPECT_EQ(mem.v(5, 0).data, mem.v(3, 0).data);
    // 256 slots: sliding layers 0, 2 (2 heads of 128), full layers 1, 3 (1 head of 256), K and V in f32.
    EXPECT_EQ(mem.kv_bytes_per_seq(), size_t(4 * 256 * 256 * 4 * 2));
}

TEST(SharedKv, FilesWhoseSharingCannotWorkAreErrors) {
    // Four layers keep a cache: llama.cpp's sources would be layers 2 (full) and 3 (sliding), the wrong kinds.
    auto order =
        test_models::load_edited("gemma4", "gemma4-shared-order", [](formats::GgufWriter& w, const std::string& key) {
            if (key != "gemma4.attention.shared_kv_layers") return true;
            w.set(key, uint32_t(3));
            return false;
        });
    ASSERT_FALSE(order.ok());
    EXPECT_NE(order.error().message().find(
                  "the last two layers that keep a cache must be a sliding layer then a full one"),
              std::string::npos)
        << order.error().message();

    // Layer 4 reads layer 2's K/V as one head, but layer 2 keeps two.
    auto heads =
        test_models::load_edited("gemma4", "gemma4-shared-heads", [](formats::GgufWriter& w, const std::string& key) {
            if (key != "gemma4.attention.head_count_kv") return true;
            w.set(key, std::vector<int32_t>{2, 1, 2, 1, 1, 1});
            return false;
        });
    ASSERT_TRUE(heads.ok()) << heads.error().message();
    SessionOptions so;
    so.n_ctx = 64;
    auto s = Session::create(**heads, so);
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message().find("memory of layer 4: reads layer 2's K/V as 1 heads of 128 / 128, but that layer "
                                       "keeps 2 heads"),
              std::string::npos)
        << s.error().message();

    auto pattern =
        test_models::load_edited("gemma4", "gemma4-pattern", [](formats::GgufWriter& w, const std::string& key) {
            if (key != "gemma4.attention.sliding_window_pattern") return true;
            w.set(key, std::vector<bool>{true, false, true});
            return false;
        });
    ASSERT_FALSE(pattern.ok());
    EXPECT_NE(pattern.error().message().find("sliding_window_pattern needs one entry per layer"), std::string::npos)
        << pattern.error().message();
}

}  // namespace
}  // namespace loom::runtime
