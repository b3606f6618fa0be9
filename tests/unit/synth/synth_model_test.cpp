// Synthetic models: spec → GGUF with the chosen types, metadata and vocab, deterministic per seed.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "formats/gguf_reader.h"
#include "kernels/ref/quant.h"
#include "synth/synth_model.h"

namespace loom::synth {
namespace {

const std::string kSpec = std::string(LOOM_TEST_DATA_DIR) + "/synth/tiny.toml";

Result<formats::GgufFile> make(const std::string& type, uint64_t seed, const std::string& name) {
    SynthOptions o;
    o.spec_path = kSpec;
    o.out_path = ::testing::TempDir() + name;
    o.type = type;
    o.seed = seed;
    o.n_threads = 2;
    LOOM_TRY(SynthReport r, synthesize(o));
    if (r.n_tensors != 7) return Error::invalid("expected 7 tensors, got {}", r.n_tensors);
    return formats::GgufFile::open(o.out_path, formats::LoadMode::read);
}

TEST(Synth, PresetRulesChooseTypesPerTensorAndLayer) {
    auto f = make("mix", 1, "synth_mix.gguf");
    ASSERT_TRUE(f.ok()) << f.error().message();
    EXPECT_EQ(f->tensor("token_embd.weight")->type, DType::q8_0);
    EXPECT_EQ(f->tensor("blk.0.attn_norm.weight")->type, DType::f32);  // 1-D stays f32
    EXPECT_EQ(f->tensor("blk.0.ffn_down.weight")->type, DType::q4_k);  // default
    EXPECT_EQ(f->tensor("blk.1.ffn_down.weight")->type, DType::q6_k);  // layer rule
    EXPECT_EQ(f->tensor("blk.1.odd.weight")->type, DType::f16);        // 48 is no multiple of 32 or 256
    EXPECT_EQ(f->tensor("token_embd.weight")->shape, (std::vector<int64_t>{300, 256}));
    EXPECT_EQ(*f->get<uint32_t>("testarch.block_count"), 2u);
    EXPECT_EQ(*f->get<float>("testarch.rope.freq_base"), 10000.f);
    EXPECT_EQ(*f->get<uint64_t>("testarch.big"), 5u);
    EXPECT_EQ(f->get_array<int32_t>("testarch.sections")->to_vector(), (std::vector<int32_t>{11, 11, 10, 0}));
    EXPECT_EQ(f->get_array<bool>("testarch.flags")->size(), 2u);
    auto tokens = f->get_string_array("tokenizer.ggml.tokens");
    ASSERT_TRUE(tokens.ok());
    EXPECT_EQ(tokens->size(), 300u);
    EXPECT_EQ((*tokens)[3], "<0x00>");
    EXPECT_EQ(f->get_array<int32_t>("tokenizer.ggml.token_type")->size(), 300u);

    // Norm weights are ones; random weights have roughly the asked spread.
    std::vector<float> row(256);
    ASSERT_TRUE(
        kernels::ref::dequantize_row(DType::f32, f->tensor("blk.1.attn_norm.weight")->data, row.data(), 256).ok());
    for (float v : row) ASSERT_EQ(v, 1.0f);
    const formats::TensorInfo* emb = f->tensor("token_embd.weight");
    std::vector<float> all(300 * 256);
    ASSERT_TRUE(kernels::ref::dequantize(emb->type, emb->data, all.data(), 300, 256).ok());
    double ss = 0, sum = 0;
    for (float v : all) ss += double(v) * v, sum += v;
    const double sd = std::sqrt(ss / double(all.size()));
    EXPECT_NEAR(sd, 0.02, 0.003);
    EXPECT_NEAR(sum / double(all.size()), 0.0, 0.001);
}

TEST(Synth, SameSeedSameBytesOtherSeedOtherBytes) {
    auto a = make("q8_0", 7, "synth_a.gguf");
    auto b = make("q8_0", 7, "synth_b.gguf");
    auto c = make("q8_0", 8, "synth_c.gguf");
    ASSERT_TRUE(a.ok() && b.ok() && c.ok());
    const auto* ta = a->tensor("blk.0.ffn_down.weight");
    const auto* tb = b->tensor("blk.0.ffn_down.weight");
    const auto* tc = c->tensor("blk.0.ffn_down.weight");
    EXPECT_EQ(0, std::memcmp(ta->data, tb->data, ta->bytes));
    EXPECT_NE(0, std::memcmp(ta->data, tc->data, ta->bytes));
}

TEST(Synth, NormalInitTakesAMean) {
    const std::string spec = ::testing::TempDir() + "mean_spec.toml";
    { std::ofstream(spec) << "[[tensor]]\nname = \"n.weight\"\nshape = [4096]\nmean = 1.0\nstd = 0.1\n"; }
    SynthOptions o{spec, ::testing::TempDir() + "mean.gguf", "f32", 3, 1};
    ASSERT_TRUE(synthesize(o).ok());
    auto f = formats::GgufFile::open(o.out_path, formats::LoadMode::read);
    ASSERT_TRUE(f.ok()) << f.error().message();
    std::vector<float> v(4096);
    ASSERT_TRUE(kernels::ref::dequantize_row(DType::f32, f->tensor("n.weight")->data, v.data(), 4096).ok());
    double sum = 0, ss = 0;
    for (float x : v) sum += x;
    const double mean = sum / 4096;
    for (float x : v) ss += (x - mean) * (x - mean);
    EXPECT_NEAR(mean, 1.0, 0.01);
    EXPECT_NEAR(std::sqrt(ss / 4096), 0.1, 0.01);
}

TEST(Synth, BadSpecsAreErrorsWithFileAndLine) {
    const std::string bad = ::testing::TempDir() + "bad_spec.toml";
    { std::ofstream(bad) << "[metadata]\n\"k\" = 1\n[[tensor]]\nname = \"w\"\nshape = [0, 4]\n"; }
    SynthOptions o{bad, ::testing::TempDir() + "bad.gguf", "f32", 0, 1};
    auto r = synthesize(o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("bad_spec.toml:3"), std::string::npos) << r.error().message();
    { std::ofstream(bad) << "[metadata\n"; }
    r = synthesize(o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("bad_spec.toml:1"), std::string::npos) << r.error().message();
    o.spec_path = kSpec;
    o.type = "nosuchpreset";
    r = synthesize(o);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("nosuchpreset"), std::string::npos);
}

}  // namespace
}  // namespace loom::synth
