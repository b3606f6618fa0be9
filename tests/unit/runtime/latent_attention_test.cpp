// deepseek2 (multi-head latent attention) in a Session: the K-only memory it declares, and load errors for files it
// cannot run. Equivalence with llama.cpp and with the stateless path is in model_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "unit/runtime/loaded_model.h"
#include "unit/test_env.h"

namespace loom::runtime {
namespace {

// One 320-wide row per token and layer (kv_lora_rank 256 + rope 64) and nothing else: V is a view of it.
TEST(LatentAttention, MemoryKeepsOneLatentRowPerToken) {
    for (const char* spec : {"deepseek2", "deepseek2lite"}) {
        const test_models::Loaded l = test_models::load(test::synth_model(spec, "q8_0"), DType::f16, 64);
        ASSERT_TRUE(l.session);
        const exec::Memory& mem = l.session->memory();
        for (int64_t l = 0; l < 3; ++l) {
            EXPECT_EQ(mem.spec(l).kind, exec::MemoryKind::kv_k_only) << spec;
            EXPECT_EQ(mem.v(l, 0).data, mem.k(l, 0).data);
            EXPECT_EQ(mem.v(l, 0).shape[2], 256);
        }
        EXPECT_EQ(mem.kv_bytes_per_seq(), size_t(3 * 64 * 320 * 2)) << spec;  // f16
        EXPECT_FALSE(mem.has_recurrent());
    }
}

// deepseek2's q8_0 test model rewritten: metadata keys dropped, tensors dropped.
Result<std::unique_ptr<Model>> load_without(const std::string& name, const std::vector<std::string>& keys,
                                            const std::vector<std::string>& tensors) {
    auto src = formats::GgufFile::open(test::synth_model("deepseek2", "q8_0"));
    EXPECT_TRUE(src.ok());
    formats::GgufWriter w;
    for (const auto& e : src->metadata())
        if (std::find(keys.begin(), keys.end(), std::string(e.key)) == keys.end())
            w.set(std::string(e.key), e.to_owned());
    for (const auto& t : src->tensors())
        if (std::find(tensors.begin(), tensors.end(), std::string(t.name)) == tensors.end())
            w.add_tensor(std::string(t.name), t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.bytes));
    const std::string path = test::scratch_path(name + ".gguf");
    EXPECT_TRUE(w.write(path).ok());
    return Model::load(path);
}

// A file in the legacy un-split layout has no key_length_mla: the error names the keys.
TEST(LatentAttention, LegacyLayoutIsRefusedByItsMissingKeys) {
    auto m = load_without("deepseek2-legacy",
                          {"deepseek2.attention.key_length_mla", "deepseek2.attention.value_length_mla"}, {});
    ASSERT_FALSE(m.ok());
    const std::string msg = m.error().message();
    EXPECT_NE(msg.find("deepseek2.attention.key_length_mla"), std::string::npos) << msg;
    EXPECT_NE(msg.find("deepseek2.attention.value_length_mla"), std::string::npos) << msg;
}

// Without attn_q (lite) the low-rank pair is required, and every missing tensor of it is listed.
TEST(LatentAttention, QueriesNeedOneOfTheTwoPaths) {
    auto m = load_without("deepseek2-noq", {}, {"blk.1.attn_q_a.weight", "blk.2.attn_q_b.weight"});
    ASSERT_FALSE(m.ok());
    const std::string msg = m.error().message();
    EXPECT_NE(msg.find("blk.1.attn_q_a.weight"), std::string::npos) << msg;
    EXPECT_NE(msg.find("blk.2.attn_q_b.weight"), std::string::npos) << msg;
}

}  // namespace
}  // namespace loom::runtime
