// A hybrid model (qwen35: gated delta-net layers with a recurrent state, and full-attention layers) in a Session:
// what the memory holds, the rules a recurrent state imposes on batches and truncation, and load-time errors for
// inconsistent recurrent metadata. Equivalence with llama.cpp and with the stateless path is in model_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "unit/runtime/loaded_model.h"
#include "unit/test_env.h"

namespace loom::runtime {
namespace {

using test_models::Loaded;

Loaded load_qwen35(const std::string& type, int n_seq = 1) {
    return test_models::load(test::synth_model("qwen35", type), DType::f32, 64, n_seq);
}

std::vector<int32_t> tokens(int n, int32_t first) {
    std::vector<int32_t> t;
    t.reserve(size_t(n));
    for (int i = 0; i < n; ++i) t.push_back(first + 7 * i);
    return t;
}

// Layers 0-2 are delta-net layers (conv history 3 x 1024, state 4 heads x 128 x 128, f32), layer 3 attention.
TEST(RecurrentSession, MemoryHoldsStateAndKv) {
    Loaded l = load_qwen35("f32", 2);
    ASSERT_TRUE(l.session);
    const exec::Memory& mem = l.session->memory();
    EXPECT_TRUE(mem.has_recurrent());
    for (int64_t layer = 0; layer < 3; ++layer) EXPECT_EQ(mem.spec(layer).kind, exec::MemoryKind::recurrent);
    EXPECT_EQ(mem.spec(3).kind, exec::MemoryKind::kv);
    EXPECT_EQ(mem.state_bytes_per_seq(), size_t(3 * (3 * 1024 + 4 * 128 * 128) * 4));
    EXPECT_EQ(mem.kv_bytes_per_seq(), size_t(64 * 2 * 128 * 4));  // one layer, one KV head, K and V of 128
}

TEST(RecurrentSession, TokensMustContinueTheState) {
    Loaded l = load_qwen35("f32");
    ASSERT_TRUE(l.session);
    const auto prompt = tokens(6, 10);
    ASSERT_TRUE(l.session->decode(Batch::sequence(prompt, 0)).ok());
    EXPECT_EQ(l.session->n_past(0), 6);
    // A gap or a repeat is refused and leaves the sequence as it was.
    const int32_t t = 42;
    for (int32_t pos : {7, 5}) {
        auto r = l.session->decode(Batch::sequence({&t, 1}, pos));
        ASSERT_FALSE(r.ok());
        EXPECT_NE(r.error().message().find("must continue at position 6"), std::string::npos) << r.error().message();
    }
    EXPECT_EQ(l.session->n_past(0), 6);
    // Truncating into the middle is refused with the reason; to the end it is a no-op; to 0 it starts over.
    auto mid = l.session->truncate(0, 3);
    ASSERT_FALSE(mid.ok());
    EXPECT_NE(mid.error().message().find("cannot be rewound"), std::string::npos) << mid.error().message();
    EXPECT_TRUE(l.session->truncate(0, 6).ok());
    ASSERT_TRUE(l.session->decode(Batch::sequence({&t, 1}, 6)).ok());
    ASSERT_TRUE(l.session->truncate(0, 0).ok());
    EXPECT_EQ(l.session->n_past(0), 0);
}

// After a reset the sequence computes exactly what a fresh session computes: no state survives.
TEST(RecurrentSession, ResetForgetsTheState) {
    Loaded l = load_qwen35("q8_0");
    ASSERT_TRUE(l.session);
    const int64_t V = l.model->n_vocab();
    const auto a = tokens(9, 20), b = tokens(5, 300);
    auto first = l.session->decode(Batch::sequence(b, 0));
    ASSERT_TRUE(first.ok());
    const std::vector<float> fresh(first->row<float>(0), first->row<float>(0) + V);
    l.session->reset(0);
    ASSERT_TRUE(l.session->decode(Batch::sequence(a, 0)).ok());
    l.session->reset(0);
    auto again = l.session->decode(Batch::sequence(b, 0));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(std::memcmp(again->row<float>(0), fresh.data(), size_t(V) * 4), 0);
}

// A pass that fails after its layers ran (here: an arch file whose output chain leaves out the head, so the logits
// have the wrong width) has advanced the recurrent state in every layer: the sequence is reset, and says so.
TEST(RecurrentSession, AFailedPassResetsTheSequence) {
    std::ifstream in(test::data_dir() + "/../../archs/qwen35.arch.toml");
    ASSERT_TRUE(in);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string text = ss.str();
    const std::string head = "output = [\"output_norm\", \"output\"]";
    ASSERT_NE(text.find(head), std::string::npos);
    text.replace(text.find(head), head.size(), "output = [\"output_norm\"]");
    const std::string arch = test::scratch_path("headless-qwen35.arch.toml");
    std::ofstream(arch) << text;
    LoadOptions lo;
    lo.arch_file = arch;
    auto m = Model::load(test::synth_model("qwen35", "f32"), lo);
    ASSERT_TRUE(m.ok()) << m.error().message();
    SessionOptions so;
    so.n_threads = 2;
    so.n_ctx = 32;
    auto s = Session::create(**m, so);
    ASSERT_TRUE(s.ok());
    const auto prompt = tokens(5, 10);
    auto r = (*s)->decode(Batch::sequence(prompt, 0));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("output chain gives"), std::string::npos) << r.error().message();
    EXPECT_NE(r.error().message().find("reset to empty"), std::string::npos) << r.error().message();
    EXPECT_EQ((*s)->n_past(0), 0);
    const exec::Memory& mem = (*s)->memory();
    const TensorView st = mem.recurrent_state(0, 0);
    for (int64_t i = 0; i < st.n_elements(); ++i) ASSERT_EQ(static_cast<const float*>(st.data)[i], 0.f) << i;
}

template <typename Edit>
Result<std::unique_ptr<Model>> load_edited(const std::string& name, Edit edit) {
    return test_models::load_edited("qwen35", name, edit);
}

// Missing recurrent keys are listed together; so are inconsistent ones (one error, one line per problem).
TEST(RecurrentSession, BadRecurrentMetadataIsOneErrorListingEveryProblem) {
    auto missing = load_edited("qwen35-missing", [](formats::GgufWriter&, const std::string& key) {
        return key != "qwen35.ssm.state_size" && key != "qwen35.ssm.conv_kernel";
    });
    ASSERT_FALSE(missing.ok());
    std::string msg = missing.error().message();
    EXPECT_NE(msg.find("qwen35.ssm.state_size"), std::string::npos) << msg;
    EXPECT_NE(msg.find("qwen35.ssm.conv_kernel"), std::string::npos) << msg;

    auto bad = load_edited("qwen35-inconsistent", [](formats::GgufWriter& w, const std::string& key) {
        if (key == "qwen35.ssm.inner_size") w.set(key, uint32_t(500));
        else if (key == "qwen35.ssm.conv_kernel") w.set(key, uint32_t(0));
        else if (key == "qwen35.full_attention_interval") w.set(key, uint32_t(1));
        else return true;
        return false;
    });
    ASSERT_FALSE(bad.ok());
    msg = bad.error().message();
    EXPECT_NE(msg.find("ssm.conv_kernel must be at least 2"), std::string::npos) << msg;
    EXPECT_NE(msg.find("ssm.inner_size must be"), std::string::npos) << msg;
    EXPECT_NE(msg.find("names no delta-net layer"), std::string::npos) << msg;
}

// A per-layer recurrent_layers array overrides the interval: here it marks layer 3 recurrent too, which the file
// has no delta-net tensors for, so the load names them.
TEST(RecurrentSession, RecurrentLayersArrayOverridesTheInterval) {
    auto m = load_edited("qwen35-pattern", [](formats::GgufWriter& w, const std::string& key) {
        if (key == "general.architecture") w.set("qwen35.attention.recurrent_layers", std::vector<int32_t>{1, 1, 1, 1});
        return true;
    });
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().message().find("blk.3.ssm_conv1d.weight"), std::string::npos) << m.error().message();
}

}  // namespace
}  // namespace loom::runtime
