// Synthetic models: spec → GGUF with the chosen types, metadata and vocab, deterministic per seed.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "kernels/ref/quant.h"
#include "synth/synth_model.h"
#include "tokenizer/synth_vocab.h"
#include "unit/test_env.h"

namespace loom::synth {
namespace {

const std::string kSpec = std::string(LOOM_TEST_DATA_DIR) + "/synth/tiny.toml";

Result<formats::GgufFile> make(const std::string& type, uint64_t seed, const std::string& name) {
    SynthOptions o;
    o.spec_path = kSpec;
    o.out_path = test::scratch_path(name);
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
    const std::string spec = test::scratch_path("mean_spec.toml");
    { std::ofstream(spec) << "[[tensor]]\nname = \"n.weight\"\nshape = [4096]\nmean = 1.0\nstd = 0.1\n"; }
    SynthOptions o{spec, test::scratch_path("mean.gguf"), "f32", 3, 1};
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
    const std::string bad = test::scratch_path("bad_spec.toml");
    { std::ofstream(bad) << "[metadata]\n\"k\" = 1\n[[tensor]]\nname = \"w\"\nshape = [0, 4]\n"; }
    SynthOptions o{bad, test::scratch_path("bad.gguf"), "f32", 0, 1};
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

std::vector<std::string> strings(const formats::GgufFile& f, const std::string& key) {
    auto a = f.get_string_array(key);
    EXPECT_TRUE(a.ok()) << key;
    return a.ok() ? std::vector<std::string>(a->begin(), a->end()) : std::vector<std::string>{};
}

// A vocabulary-only spec with a gemma4 vocabulary of `size` tokens, written and synthesized.
Result<formats::GgufFile> gemma4_vocab(int64_t size, const std::string& name) {
    const std::string spec = test::scratch_path(name + ".toml");
    {
        std::ofstream(spec) << "[vocab]\nmodel = \"gemma4\"\nsize = " << size
                            << "\n[[tensor]]\nname = \"w\"\nshape = [1]\n";
    }
    SynthOptions o{spec, test::scratch_path(name + ".gguf"), "f32", 0, 1};
    LOOM_TRY(SynthReport r, synthesize(o));
    (void)r;
    return formats::GgufFile::open(o.out_path, formats::LoadMode::read);
}

TEST(Synth, Gemma4VocabHasGemma4sLayoutAndConsistentMerges) {
    auto f = gemma4_vocab(3000, "g4_3000");
    ASSERT_TRUE(f.ok()) << f.error().message();
    EXPECT_EQ(*f->get_string("tokenizer.ggml.model"), "gemma4");
    EXPECT_FALSE(f->has("tokenizer.ggml.pre"));  // as converted: llama.cpp picks the pre-tokenizer itself
    const auto tokens = strings(*f, "tokenizer.ggml.tokens");
    const auto types = f->get_array<int32_t>("tokenizer.ggml.token_type")->to_vector();
    const auto merges = strings(*f, "tokenizer.ggml.merges");
    ASSERT_EQ(tokens.size(), 3000u);
    ASSERT_EQ(types.size(), 3000u);
    EXPECT_EQ(*f->get<uint32_t>("tokenizer.ggml.bos_token_id"), 2u);
    EXPECT_EQ(*f->get<uint32_t>("tokenizer.ggml.eos_token_id"), 1u);
    // Gemma 4's ids for its markers, runs and bytes.
    const std::pair<int, const char*> at[] = {{0, "<pad>"},
                                              {1, "<eos>"},
                                              {2, "<bos>"},
                                              {46, "<|tool>"},
                                              {50, "<|tool_response>"},
                                              {52, "<|\"|>"},
                                              {98, "<|think|>"},
                                              {100, "<|channel>"},
                                              {105, "<|turn>"},
                                              {106, "<turn|>"},
                                              {107, "\n"},
                                              {138, "\xE2\x96\x81\xE2\x96\x81"},
                                              {212, "</s>"},
                                              {238, "<0x00>"},
                                              {493, "<0xFF>"}};
    for (auto [id, text] : at) EXPECT_EQ(tokens[size_t(id)], text) << id;
    EXPECT_EQ(types[50], 4);   // user-defined, as the converter makes the markers the chat parser reads
    EXPECT_EQ(types[106], 3);  // control
    EXPECT_EQ(types[300], 6);  // byte
    EXPECT_EQ(tokens.back(), "<|video|>");
    // Every merge makes a token from two tokens, no text repeats, and no piece joins two words.
    const std::string sp = "\xE2\x96\x81";
    std::set<std::string> have(tokens.begin(), tokens.end());
    EXPECT_EQ(have.size(), tokens.size());
    size_t learned = 0;
    for (const std::string& m : merges) {
        const size_t at = m.find(' ', 1);
        ASSERT_NE(at, std::string::npos) << m;
        const std::string l = m.substr(0, at), r = m.substr(at + 1), lr = l + r;
        EXPECT_TRUE(have.count(l) && have.count(r) && have.count(lr)) << m;
        const bool runs = lr.find_first_not_of("\n\t" + sp) == std::string::npos;
        if (!runs && lr.find(sp, 1) != std::string::npos) ADD_FAILURE() << "a merge across words: " << m;
        learned += runs ? 0 : 1;
    }
    EXPECT_EQ(merges.size() - learned, 4u + 930u);  // \n runs by doubling, every split of ▁ and \t runs to 31
    EXPECT_GT(learned, 2000u);

    // Deterministic; a size too small for the fixed tokens is an error naming the spec.
    auto g = gemma4_vocab(3000, "g4_3000_again");
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(strings(*g, "tokenizer.ggml.merges"), merges);
    EXPECT_EQ(strings(*g, "tokenizer.ggml.tokens"), tokens);
    auto small = gemma4_vocab(tokenizer::gemma4_min_vocab_size() - 1, "g4_small");
    ASSERT_FALSE(small.ok());
    EXPECT_NE(small.error().message().find("g4_small.toml:1: vocab: a gemma4 vocabulary needs at least"),
              std::string::npos)
        << small.error().message();
    auto smallest = gemma4_vocab(tokenizer::gemma4_min_vocab_size(), "g4_smallest");
    ASSERT_TRUE(smallest.ok()) << smallest.error().message();
    // Larger than the corpus can teach: unused slots before the multimodal markers.
    auto big = gemma4_vocab(20000, "g4_big");
    ASSERT_TRUE(big.ok()) << big.error().message();
    const auto big_tokens = strings(*big, "tokenizer.ggml.tokens");
    ASSERT_EQ(big_tokens.size(), 20000u);
    EXPECT_EQ(big_tokens[19992].rfind("<unused", 0), 0u) << big_tokens[19992];
    EXPECT_EQ(big_tokens[19993], "<|image>");
}

// The head of the synthetic vocabulary is the real one's (ids 0..493), when set-up has put the real one in place.
TEST(Synth, Gemma4VocabHeadIsTheRealOne) {
    auto dir = models_dir();
    const std::string path = dir ? *dir + "/vocab/gemma4.gguf" : std::string();
    if (path.empty() || !std::filesystem::exists(path))
        GTEST_SKIP() << "vocabulary gemma4 not found at '" << path << "': run scripts/setup.sh";
    auto real = formats::GgufFile::open(path, formats::LoadMode::read);
    ASSERT_TRUE(real.ok()) << real.error().message();
    auto synth = gemma4_vocab(2000, "g4_2000");
    ASSERT_TRUE(synth.ok()) << synth.error().message();
    const auto rt = strings(*real, "tokenizer.ggml.tokens");
    const auto st = strings(*synth, "tokenizer.ggml.tokens");
    const auto ry = real->get_array<int32_t>("tokenizer.ggml.token_type")->to_vector();
    const auto sy = synth->get_array<int32_t>("tokenizer.ggml.token_type")->to_vector();
    for (size_t i = 0; i < 494; ++i) {
        EXPECT_EQ(st[i], rt[i]) << i;
        EXPECT_EQ(sy[i], ry[i]) << i;
    }
    const auto rm = strings(*real, "tokenizer.ggml.merges");
    const auto sm = strings(*synth, "tokenizer.ggml.merges");
    // The ▁ and tab run merges, in the real one's order (the real one has its last, \t + \t, a little later,
    // among the learned ones; its newline runs merge by every split, the synthetic one's by doubling).
    auto runs = [](const std::vector<std::string>& m, size_t n) {
        std::vector<std::string> out;
        for (size_t i = 0; i < n; ++i)
            if (m[i].find('\n') == std::string::npos) out.push_back(m[i]);
        return out;
    };
    const auto real_runs = runs(rm, 1394);
    const auto synth_runs = runs(sm, 4 + 930);
    ASSERT_EQ(real_runs.size() + 1, synth_runs.size());
    EXPECT_TRUE(std::equal(real_runs.begin(), real_runs.end(), synth_runs.begin()));
    // The markers at the end, in the real one's order.
    std::vector<std::string> real_tail, synth_tail;
    for (size_t i = 494; i < rt.size(); ++i)
        if (ry[i] == 3) real_tail.push_back(rt[i]);
    for (size_t i = 494; i < st.size(); ++i)
        if (sy[i] == 3) synth_tail.push_back(st[i]);
    EXPECT_EQ(synth_tail, real_tail);
}

}  // namespace
}  // namespace loom::synth
