// The engine end to end on seeded random-weight models of every shipped family (tests/data/synth/*.toml):
// the KV-cached path against the stateless oracle, recorded llama.cpp goldens, and load-time errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <optional>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/cpu_features.h"
#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "runtime/generate.h"
#include "runtime/model.h"
#include "runtime/sampler.h"
#include "runtime/session.h"
#include "synth/synth_model.h"
#include "unit/runtime/loaded_model.h"
#include "unit/test_env.h"

namespace loom::runtime {
namespace {

const char* const kFamilies[] = {"llama",  "qwen2",     "qwen3",     "gemma3",        "qwen3moe", "qwen2moe",
                                 "qwen35", "qwen35moe", "deepseek2", "deepseek2lite", "gemma4",   "gemma4moe"};
// Masked-diffusion families: one bidirectional pass, no cached path (their own instantiation of the goldens).
const char* const kDiffusionFamilies[] = {"llada", "lladamoe"};
// Families whose FFNs are mixtures of experts.
const char* const kMixtureFamilies[] = {"qwen3moe", "qwen2moe", "qwen35moe", "deepseek2", "deepseek2lite", "gemma4moe"};
// Specs with a q4_k_m preset.
const char* const kQ4KMFamilies[] = {"qwen3moe",  "qwen2moe",      "qwen35", "qwen35moe",
                                     "deepseek2", "deepseek2lite", "gemma4", "gemma4moe"};

std::string data_dir() {
    const char* d = std::getenv("LOOM_TEST_DATA_DIR");
    return d ? d : LOOM_TEST_DATA_DIR;
}

// A synthesized family model (written once per machine, see test::synth_model).
std::string family_model(const std::string& family, const std::string& type) { return test::synth_model(family, type); }

std::vector<int32_t> some_tokens(int64_t n, int64_t n_vocab, uint32_t seed) {
    std::vector<int32_t> t;
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; ++i) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t.push_back(int32_t(3 + (s >> 33) % uint64_t(n_vocab - 3)));
    }
    return t;
}

double max_abs_diff(const float* a, const float* b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
    return m;
}

using test_models::load;
using test_models::Loaded;

class PackedWeights : public ::testing::TestWithParam<const char*> {};

// Packed matmul weights (LoadOptions::pack; Q4_0, Q4_K, and Q6_K in the Q4_K_M mix) are a layout, not a change of
// numbers: the same logits, bit for bit, for a prompt (the batched recipes) and for single-token steps (the decode
// ones), and the file pages they replace are released.
TEST_P(PackedWeights, GiveTheSameLogits) {
    const std::string path = family_model("llama", GetParam());
    std::vector<float> logits[2];
    for (bool pack : {false, true}) {
        LoadOptions lo;
        lo.pack = pack;
        lo.mode = formats::LoadMode::read;
        auto m = Model::load(path, lo);
        ASSERT_TRUE(m.ok()) << m.error().message();
        if (!pack) EXPECT_EQ((*m)->n_packed(), 0);
        if (pack && cpu_features().avx2_kernels() && !cpu_features().avx512_kernels()) {
            EXPECT_GT((*m)->n_packed(), 0);
            EXPECT_GT((*m)->released_bytes(), 0);
        }
        SessionOptions so;
        so.n_threads = 2;
        so.n_ctx = 64;
        auto s = Session::create(**m, so);
        ASSERT_TRUE(s.ok()) << s.error().message();
        const int64_t V = (*m)->n_vocab();
        const std::vector<int32_t> tokens = some_tokens(13, V, 3);
        auto prompt = (*s)->decode(Batch::sequence({tokens.data(), 10}, 0, 0, true));
        ASSERT_TRUE(prompt.ok()) << prompt.error().message();
        logits[pack].assign(prompt->row<float>(0), prompt->row<float>(0) + 10 * V);
        for (int64_t i = 10; i < 13; ++i) {
            auto step = (*s)->decode(Batch::sequence({&tokens[size_t(i)], 1}, int32_t(i), 0, true));
            ASSERT_TRUE(step.ok()) << step.error().message();
            logits[pack].insert(logits[pack].end(), step->row<float>(0), step->row<float>(0) + V);
        }
    }
    ASSERT_EQ(logits[0].size(), logits[1].size());
    EXPECT_EQ(std::memcmp(logits[0].data(), logits[1].data(), logits[0].size() * 4), 0);
}

INSTANTIATE_TEST_SUITE_P(ModelLoad, PackedWeights, ::testing::Values("q4_0", "q4_k", "q4_k_m"));

class FamilyTest : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

// The cached path, fed the prompt in uneven chunks and then token by token, gives the stateless path's
// logits at every position (same blocks, with and without the cache).
TEST_P(FamilyTest, CachedPathMatchesStateless) {
    const auto [family, type] = GetParam();
    Loaded l = load(family_model(family, type));
    ASSERT_TRUE(l.session);
    const int64_t V = l.model->n_vocab();
    const std::vector<int32_t> tokens = some_tokens(48, V, 7);
    auto ref = l.session->stateless(tokens);
    ASSERT_TRUE(ref.ok()) << ref.error().message();
    const std::vector<float> want(ref->row<float>(0), ref->row<float>(0) + 48 * V);

    // Chunks of 17 and 21 tokens, then one token at a time.
    // As in llama.cpp, one token and a batch may sum in different orders (attention's P·V lanes, Q4_K's
    // repacked GEMM vs GEMV): last-bit differences, which can move an activation across a quantization step
    // in a random-weight model.
    // (gemma3's f16-table GELU turns f32 noise into occasional f16 steps: ~2e-3 on logits of std ~4.)
    const double tol = std::string(type) == "f32" ? 5e-3 : 0.5;
    // A mixture of experts turns such a difference into another expert where two are nearly tied for the last
    // routed place (llama.cpp's two paths do the same): a position or two of 48 may then differ by more.
    const std::string name = family;  // (a structured binding: clang 14 cannot capture it)
    const bool moe = std::find_if(std::begin(kMixtureFamilies), std::end(kMixtureFamilies),
                                  [&](const char* f) { return name == f; }) != std::end(kMixtureFamilies);
    const int allowed_over = moe && std::string(type) != "f32" ? 2 : 0;
    int64_t pos = 0;
    int over = 0;
    double worst = 0;
    for (int64_t n : {17, 21, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}) {
        auto got = l.session->decode(Batch::sequence({tokens.data() + pos, size_t(n)}, int32_t(pos), 0, true));
        ASSERT_TRUE(got.ok()) << got.error().message();
        for (int64_t i = 0; i < n; ++i) {
            const double d = max_abs_diff(got->row<float>(i), want.data() + (pos + i) * V, V);
            over += d > tol;
            worst = std::max(worst, d);
        }
        pos += n;
    }
    ASSERT_EQ(pos, 48);
    EXPECT_LE(over, allowed_over) << family << " " << type << ": positions over " << tol << ", worst " << worst;
}

// The same with the f16 KV cache: the stateless pass rounds its K/V to f16 too.
TEST(FamilyCache, F16CacheMatchesStateless) {
    for (const char* family : kFamilies) {
        Loaded l = load(family_model(family, "f32"), DType::f16);
        ASSERT_TRUE(l.session);
        const int64_t V = l.model->n_vocab();
        const std::vector<int32_t> tokens = some_tokens(24, V, 3);
        auto ref = l.session->stateless(tokens);
        ASSERT_TRUE(ref.ok());
        const std::vector<float> want(ref->row<float>(0), ref->row<float>(0) + 24 * V);
        auto got = l.session->decode(Batch::sequence(tokens, 0, 0, true));
        ASSERT_TRUE(got.ok());
        EXPECT_LE(max_abs_diff(got->row<float>(0), want.data(), 24 * V), 1e-4) << family;
    }
}

INSTANTIATE_TEST_SUITE_P(Families, FamilyTest,
                         ::testing::Combine(::testing::ValuesIn(kFamilies), ::testing::Values("f32", "q8_0", "q4_k")));

// llama.cpp's logprobs on the same file (tests/data/goldens, recorded by tools/record_goldens.py with f32 KV and
// flash attention off), for every family and weight type: max |Δ logprob| over the reference's top-10 at every
// position, and the top-1 id. Issue #4's rule is 1e-3 for F32/F16 and 1e-2 for quantized weights; the AVX2
// kernels round as llama.cpp's AVX2 backend does, operation for operation (matmul_kernels.h, attention_unfused),
// so there the logits are llama.cpp's bits and only the goldens' 6-decimal rounding remains (5e-7).
class GoldenTest : public ::testing::TestWithParam<std::tuple<const char*, const char*>> {};

// Evaluates the golden's tokens in one batch ("positions"), or one token per pass as in generation
// ("decode_positions", llama.cpp's -ub 1), and checks every position against the reference's top-10.
void expect_matches_golden(const std::string& model_path, const nlohmann::json& g, bool is_float,
                           bool token_by_token = false) {
    SCOPED_TRACE(token_by_token ? "token by token" : "all tokens in one batch");
    Loaded l = load(model_path, DType::f32, 512);
    ASSERT_TRUE(l.session);
    const std::vector<int32_t> tokens = g["tokens"].get<std::vector<int32_t>>();
    const int64_t V = l.model->n_vocab();
    std::vector<float> logits;
    if (l.model->diffusion()) {  // the only pass a diffusion model has: bidirectional, over the whole sequence
        auto r = l.session->stateless(tokens);
        ASSERT_TRUE(r.ok()) << r.error().message();
        logits.assign(r->row<float>(0), r->row<float>(0) + int64_t(tokens.size()) * V);
    } else if (token_by_token) {
        for (size_t i = 0; i < tokens.size(); ++i) {
            auto r = l.session->decode(Batch::sequence({&tokens[i], 1}, int32_t(i)));
            ASSERT_TRUE(r.ok()) << r.error().message();
            logits.insert(logits.end(), r->row<float>(0), r->row<float>(0) + V);
        }
    } else {
        auto r = l.session->decode(Batch::sequence(tokens, 0, 0, true));
        ASSERT_TRUE(r.ok()) << r.error().message();
        logits.assign(r->row<float>(0), r->row<float>(0) + int64_t(tokens.size()) * V);
    }
    const auto& reference = g[token_by_token ? "decode_positions" : "positions"];
    double worst = 0;
    int top1_mismatch = 0;
    for (size_t i = 0; i < tokens.size(); ++i) {
        const std::span<const float> row(logits.data() + int64_t(i) * V, size_t(V));
        const auto top = top_logprobs(row, 1);
        double lse = 0, mx = -INFINITY;
        for (float x : row) mx = std::max(mx, double(x));
        for (float x : row) lse += std::exp(double(x) - mx);
        lse = mx + std::log(lse);
        const auto& ref = reference[i];
        for (const auto& e : ref) {
            const int id = e[0].get<int>();
            worst = std::max(worst, std::fabs(double(row[size_t(id)]) - lse - e[1].get<double>()));
        }
        const bool near_tie = ref.size() > 1 && ref[0][1].get<double>() - ref[1][1].get<double>() < 1e-3;
        if (top[0].id != ref[0][0].get<int>() && !near_tie) ++top1_mismatch;
    }
    EXPECT_LE(worst, is_float ? 1e-3 : 1e-2);
    if (cpu_features().avx2_kernels()) EXPECT_LE(worst, 1e-6) << "not llama.cpp's bits";
    EXPECT_EQ(top1_mismatch, 0);
}

TEST_P(GoldenTest, MatchesLlamaCpp) {
    const auto [family, type] = GetParam();
    std::ifstream in(data_dir() + "/goldens/" + family + "-" + type + ".json");
    ASSERT_TRUE(in) << "no golden for " << family << "-" << type;
    const bool is_float = std::string(type) == "f32" || std::string(type) == "f16";
    const nlohmann::json g = nlohmann::json::parse(in);
    expect_matches_golden(family_model(family, type), g, is_float);
    if (g.contains("decode_positions")) expect_matches_golden(family_model(family, type), g, is_float, true);
}

// The real default model (Gemma 3 270M, Q4_K_M: Q4_K, Q5_0, Q6_K, Q8_0 weights) on the golden's 177 tokens.
TEST(Goldens, DefaultModelLogprobsMatchLlamaCpp) {
    auto path = default_model_path();
    if (!path.ok() || !std::ifstream(*path).good()) GTEST_SKIP() << "default model not installed (scripts/setup.sh)";
    std::ifstream in(data_dir() + "/goldens/default.json");
    ASSERT_TRUE(in);
    const nlohmann::json g = nlohmann::json::parse(in);
    expect_matches_golden(*path, g, false);
    expect_matches_golden(*path, g, false, true);  // token by token, as in generation
}

std::string golden_name(const ::testing::TestParamInfo<std::tuple<const char*, const char*>>& info) {
    return std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param);
}

INSTANTIATE_TEST_SUITE_P(Goldens, GoldenTest,
                         ::testing::Combine(::testing::ValuesIn(kFamilies),
                                            ::testing::Values("f32", "f16", "q8_0", "q4_k")),
                         golden_name);
// Mixtures of experts and the hybrid also in a Q4_K_M-like mix (Q6_K down projections, f32 router).
INSTANTIATE_TEST_SUITE_P(DiffusionGoldens, GoldenTest,
                         ::testing::Combine(::testing::ValuesIn(kDiffusionFamilies),
                                            ::testing::Values("f32", "f16", "q8_0", "q4_k", "q4_k_m")),
                         golden_name);
INSTANTIATE_TEST_SUITE_P(Q4KMGoldens, GoldenTest,
                         ::testing::Combine(::testing::ValuesIn(kQ4KMFamilies), ::testing::Values("q4_k_m")),
                         golden_name);

// Sequences decoded together (one token each) give exactly their solo logits: the kernels round each row
// as llama.cpp rounds a single-token call (Exec::set_rows_alone), whatever else is in the batch; expert matmuls
// round every routed row alone, whichever other tokens chose the same expert. Each solo run starts over from
// the prompt (a recurrent state cannot be truncated back to it).
TEST(Session, SequencesDecodedTogetherEqualTheirSoloRuns) {
    for (const auto& [family, type] : {std::pair{"llama", "f32"},
                                       {"llama", "f16"},
                                       {"llama", "q4_k"},
                                       {"qwen3moe", "q4_k_m"},
                                       {"qwen2moe", "q8_0"},
                                       {"qwen35", "q4_k_m"},
                                       {"deepseek2", "q4_k_m"},
                                       {"deepseek2", "q4_k"}}) {  // per-head v_b in Q4_K: never repacked
        Loaded l = load(family_model(family, type), DType::f32, 64, 3);
        ASSERT_TRUE(l.session);
        const int64_t V = l.model->n_vocab();
        const std::vector<int32_t> prompts[3] = {some_tokens(9, V, 11), some_tokens(5, V, 12), some_tokens(12, V, 13)};
        const int32_t next[3] = {7, 8, 9};
        std::vector<std::vector<float>> solo(3);
        for (int s = 0; s < 3; ++s) {
            ASSERT_TRUE(l.session->decode(Batch::sequence(prompts[s], 0, s)).ok());
            auto r = l.session->decode(Batch::sequence({&next[s], 1}, int32_t(prompts[s].size()), s));
            ASSERT_TRUE(r.ok());
            solo[size_t(s)].assign(r->row<float>(0), r->row<float>(0) + V);
            l.session->reset(s);
            ASSERT_TRUE(l.session->decode(Batch::sequence(prompts[s], 0, s)).ok());
        }
        Batch b;
        for (int s = 0; s < 3; ++s) {
            b.tokens.push_back(next[s]);
            b.pos.push_back(int32_t(prompts[s].size()));
            b.seq.push_back(s);
            b.logits.push_back(1);
        }
        auto together = l.session->decode(b);
        ASSERT_TRUE(together.ok());
        for (int s = 0; s < 3; ++s)
            EXPECT_EQ(std::memcmp(together->row<float>(s), solo[size_t(s)].data(), size_t(V) * 4), 0)
                << family << " " << type << " seq " << s;
    }
}

TEST(ModelLoad, MissingAndMisShapedTensorsAreAllListed) {
    auto src = formats::GgufFile::open(family_model("llama", "f32"));
    ASSERT_TRUE(src.ok());
    formats::GgufWriter w;
    for (const auto& e : src->metadata()) w.set(std::string(e.key), e.to_owned());
    for (const auto& t : src->tensors()) {
        if (t.name == "blk.1.ffn_up.weight" || t.name == "blk.0.attn_k.weight") continue;
        std::vector<int64_t> shape = t.shape;
        std::vector<uint8_t> bytes(t.data, t.data + t.bytes);
        if (t.name == "blk.2.attn_norm.weight") {  // one element short
            shape[0] -= 1;
            bytes.resize(bytes.size() - 4);
        }
        w.add_tensor(std::string(t.name), t.type, shape, std::move(bytes));
    }
    const std::string path = test::scratch_path("broken-llama.gguf");
    ASSERT_TRUE(w.write(path).ok());
    auto m = Model::load(path);
    ASSERT_FALSE(m.ok());
    const std::string msg = m.error().message();
    EXPECT_NE(msg.find("tensor 'blk.0.attn_k.weight' not in the file"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tensor 'blk.1.ffn_up.weight' not in the file"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tensor 'blk.2.attn_norm.weight': shape [255], expected [256]"), std::string::npos) << msg;
}

// qwen3moe's test model without layer 1's router and with 15 experts in layer 2's up projection; `used`
// replaces expert_used_count when given.
std::string broken_qwen3moe(std::optional<uint32_t> used) {
    auto src = formats::GgufFile::open(family_model("qwen3moe", "f32"));
    EXPECT_TRUE(src.ok());
    formats::GgufWriter w;
    for (const auto& e : src->metadata()) w.set(std::string(e.key), e.to_owned());
    if (used) w.set("qwen3moe.expert_used_count", *used);
    for (const auto& t : src->tensors()) {
        if (t.name == "blk.1.ffn_gate_inp.weight") continue;
        std::vector<int64_t> shape = t.shape;
        std::vector<uint8_t> bytes(t.data, t.data + t.bytes);
        if (t.name == "blk.2.ffn_up_exps.weight") {
            shape[0] -= 1;
            bytes.resize(bytes.size() / 16 * 15);
        }
        w.add_tensor(std::string(t.name), t.type, shape, std::move(bytes));
    }
    std::string path = test::scratch_path("broken-qwen3moe.gguf");
    EXPECT_TRUE(w.write(path).ok());
    return path;
}

// A broken mixture of experts gets one error that lists every problem: a missing router, experts of the wrong
// shape, and too many or too few experts used per token.
TEST(ModelLoad, BadExpertsAreAllListed) {
    for (const uint32_t used : {0u, 17u}) {
        auto m = Model::load(broken_qwen3moe(used));
        ASSERT_FALSE(m.ok());
        const std::string msg = m.error().message();
        EXPECT_NE(msg.find(fmt::format("16 experts, {} used per token", used)), std::string::npos) << msg;
    }
    auto m = Model::load(broken_qwen3moe(std::nullopt));
    ASSERT_FALSE(m.ok());
    const std::string msg = m.error().message();
    EXPECT_NE(msg.find("tensor 'blk.1.ffn_gate_inp.weight' not in the file"), std::string::npos) << msg;
    EXPECT_NE(msg.find("tensor 'blk.2.ffn_up_exps.weight': shape [15, 256, 256], expected [16, 256, 256]"),
              std::string::npos)
        << msg;
}

// A fused attn_qkv (rows Q, then K, then V), which llama's arch file takes in place of the three projections, gives
// what the separate ones give: the model rewritten with fused tensors, the same logits (the matmul is one call of
// more rows, so its rounding may move by an ulp).
TEST(ModelLoad, FusedQkvEqualsSeparateProjections) {
    const std::string plain = family_model("llama", "f32");
    auto src = formats::GgufFile::open(plain);
    ASSERT_TRUE(src.ok());
    formats::GgufWriter w;
    for (const auto& e : src->metadata()) w.set(std::string(e.key), e.to_owned());
    for (const auto& t : src->tensors()) {
        const std::string name(t.name);
        if (name.find("attn_k.weight") != std::string::npos || name.find("attn_v.weight") != std::string::npos)
            continue;
        if (name.find("attn_q.weight") == std::string::npos) {
            w.add_tensor(name, t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.bytes));
            continue;
        }
        std::vector<uint8_t> fused(t.data, t.data + t.bytes);
        int64_t rows = t.shape[0];
        for (const char* part : {"attn_k", "attn_v"}) {
            const formats::TensorInfo* p = src->tensor(std::string(name).replace(name.find("attn_q"), 6, part));
            ASSERT_NE(p, nullptr);
            fused.insert(fused.end(), p->data, p->data + p->bytes);
            rows += p->shape[0];
        }
        w.add_tensor(std::string(name).replace(name.find("attn_q"), 6, "attn_qkv"), t.type, {rows, t.shape[1]},
                     std::move(fused));
    }
    const std::string fused_path = test::scratch_path("fused-qkv-llama.gguf");
    ASSERT_TRUE(w.write(fused_path).ok());
    std::vector<float> logits[2];
    for (int fused = 0; fused < 2; ++fused) {
        Loaded l = load(fused ? fused_path : plain, DType::f32, 64);
        ASSERT_TRUE(l.session);
        const int64_t V = l.model->n_vocab();
        auto r = l.session->stateless(some_tokens(20, V, 6));
        ASSERT_TRUE(r.ok()) << r.error().message();
        logits[fused].assign(r->row<float>(0), r->row<float>(0) + 20 * V);
    }
    EXPECT_LE(max_abs_diff(logits[0].data(), logits[1].data(), int64_t(logits[0].size())), 1e-4);
}

// Merged gate_up experts ([n_expert, 2·d_ff, d_model], per expert the gate rows then the up rows) compute what
// separate gate and up tensors compute, bit for bit: the test model rewritten with merged tensors and read through
// an arch file that names them.
TEST(ModelLoad, MergedGateUpExpertsEqualSeparateOnes) {
    const std::string plain = family_model("qwen3moe", "q8_0");
    auto src = formats::GgufFile::open(plain);
    ASSERT_TRUE(src.ok());
    formats::GgufWriter w;
    for (const auto& e : src->metadata()) w.set(std::string(e.key), e.to_owned());
    for (const auto& t : src->tensors()) {
        const std::string name(t.name);
        if (name.find("ffn_up_exps") != std::string::npos) continue;
        if (name.find("ffn_gate_exps") == std::string::npos) {
            w.add_tensor(name, t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.bytes));
            continue;
        }
        const formats::TensorInfo* up = src->tensor(std::string(name).replace(name.find("gate"), 4, "up"));
        ASSERT_NE(up, nullptr);
        const size_t slab = t.bytes / size_t(t.shape[0]);  // one expert's rows
        std::vector<uint8_t> merged;
        for (int64_t e = 0; e < t.shape[0]; ++e) {
            merged.insert(merged.end(), t.data + e * slab, t.data + (e + 1) * slab);
            merged.insert(merged.end(), up->data + e * slab, up->data + (e + 1) * slab);
        }
        w.add_tensor(std::string(name).replace(name.find("gate_exps"), 9, "gate_up_exps"), t.type,
                     {t.shape[0], 2 * t.shape[1], t.shape[2]}, std::move(merged));
    }
    const std::string merged_path = test::scratch_path("merged-qwen3moe.gguf");
    ASSERT_TRUE(w.write(merged_path).ok());
    std::ifstream arch_in(data_dir() + "/../../archs/qwen3moe.arch.toml");
    std::string arch((std::istreambuf_iterator<char>(arch_in)), std::istreambuf_iterator<char>());
    const std::string separate =
        "gate = \"blk.{layer}.ffn_gate_exps.weight\"\nup = \"blk.{layer}.ffn_up_exps.weight\"\n";
    ASSERT_NE(arch.find(separate), std::string::npos);
    arch.replace(arch.find(separate), separate.size(), "gate_up = \"blk.{layer}.ffn_gate_up_exps.weight\"\n");
    const std::string arch_path = test::scratch_path("merged-qwen3moe.arch.toml");
    std::ofstream(arch_path) << arch;

    std::vector<float> logits[2];
    for (int merged = 0; merged < 2; ++merged) {
        LoadOptions lo;
        if (merged) lo.arch_file = arch_path;
        auto m = Model::load(merged ? merged_path : plain, lo);
        ASSERT_TRUE(m.ok()) << m.error().message();
        SessionOptions so;
        so.n_threads = 2;
        so.n_ctx = 64;
        auto s = Session::create(**m, so);
        ASSERT_TRUE(s.ok());
        const std::vector<int32_t> tokens = some_tokens(20, (*m)->n_vocab(), 5);
        auto r = (*s)->stateless(tokens);
        ASSERT_TRUE(r.ok()) << r.error().message();
        logits[merged].assign(r->row<float>(0), r->row<float>(0) + 20 * (*m)->n_vocab());
    }
    EXPECT_EQ(std::memcmp(logits[0].data(), logits[1].data(), logits[0].size() * 4), 0);
}

// Per-expert output scales (`ffn_down_exps.scale`, [n_expert] f32, as llama.cpp applies them when a file has them)
// multiply each routed row of the down projection by its expert's scale: with powers of two the scaled layer-0
// rows are exactly the unscaled ones times the chosen expert's scale.
TEST(ModelLoad, PerExpertScalesMultiplyTheirExpertsRows) {
    const std::string plain = family_model("qwen3moe", "f32");
    auto src = formats::GgufFile::open(plain);
    ASSERT_TRUE(src.ok());
    formats::GgufWriter w;
    for (const auto& e : src->metadata()) w.set(std::string(e.key), e.to_owned());
    for (const auto& t : src->tensors())
        w.add_tensor(std::string(t.name), t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.bytes));
    std::vector<float> scale(16);
    for (size_t e = 0; e < scale.size(); ++e) scale[e] = e % 2 ? 4.f : 0.5f;
    std::vector<uint8_t> bytes(scale.size() * 4);
    std::memcpy(bytes.data(), scale.data(), bytes.size());
    w.add_tensor("blk.0.ffn_down_exps.scale", DType::f32, {16}, bytes);
    const std::string scaled = test::scratch_path("scaled-qwen3moe.gguf");
    ASSERT_TRUE(w.write(scaled).ok());

    std::vector<float> down[2];
    std::vector<int32_t> ids;
    for (int with_scale = 0; with_scale < 2; ++with_scale) {
        Loaded l = load(with_scale ? scaled : plain, DType::f32, 64);
        ASSERT_TRUE(l.session);
        l.session->set_dump([&](const std::string& name, const TensorView& t) {
            if (name == "l0.moe.down") down[with_scale].assign(t.row<float>(0), t.row<float>(0) + t.n_elements());
            if (name == "l0.moe.ids" && with_scale) ids.assign(t.row<int32_t>(0), t.row<int32_t>(0) + t.n_elements());
        });
        const std::vector<int32_t> tokens = some_tokens(6, l.model->n_vocab(), 9);
        ASSERT_TRUE(l.session->stateless(tokens).ok());
    }
    ASSERT_EQ(down[0].size(), down[1].size());
    ASSERT_EQ(ids.size() * 256, down[0].size());
    for (size_t i = 0; i < down[0].size(); ++i)
        ASSERT_EQ(down[1][i], down[0][i] * scale[size_t(ids[i / 256])]) << "element " << i;
}

TEST(ModelLoad, UnknownArchitectureNamesTheSupportedOnes) {
    formats::GgufWriter w;
    w.set("general.architecture", std::string("nosuchfamily"));
    const std::string path = test::scratch_path("nosuch.gguf");
    ASSERT_TRUE(w.write(path).ok());
    auto m = Model::load(path);
    ASSERT_FALSE(m.ok());
    EXPECT_NE(m.error().message().find("architecture 'nosuchfamily' has no file"), std::string::npos);
    EXPECT_NE(
        m.error().message().find(
            "deepseek2, gemma3, gemma4, llada, llada-moe, llama, qwen2, qwen2moe, qwen3, qwen35, qwen35moe, qwen3moe"),
        std::string::npos)
        << m.error().message();
}

TEST(Session, BadBatchesAreErrors) {
    Loaded l = load(family_model("qwen3", "f32"), DType::f32, 16);
    ASSERT_TRUE(l.session);
    const int32_t bad[] = {int32_t(l.model->n_vocab())};
    auto r = l.session->decode(Batch::sequence(bad, 0));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("outside the vocabulary"), std::string::npos);
    const std::vector<int32_t> many(17, 5);
    auto full = l.session->decode(Batch::sequence(many, 0));
    ASSERT_FALSE(full.ok());
    EXPECT_NE(full.error().message().find("does not fit the context of 16"), std::string::npos)
        << full.error().message();
    // After the failure the session still works.
    const int32_t ok[] = {5, 6};
    EXPECT_TRUE(l.session->decode(Batch::sequence(ok, 0)).ok());
}

}  // namespace
}  // namespace loom::runtime

namespace loom::runtime {
namespace {

// The default model (Gemma 3 270M Q4_K_M), greedy from the golden's prompt: llama.cpp's 64 tokens exactly.
TEST(Goldens, DefaultModelGreedyTextMatchesLlamaCpp) {
    auto path = default_model_path();
    if (!path.ok() || !std::ifstream(*path).good()) GTEST_SKIP() << "default model not installed (scripts/setup.sh)";
    std::ifstream in(data_dir() + "/goldens/default.json");
    ASSERT_TRUE(in.good());
    const nlohmann::json g = nlohmann::json::parse(in);
    Loaded l = load(*path, DType::f32, 512);
    ASSERT_TRUE(l.session);
    GenerateOptions opt;
    opt.sampling.temperature = 0;
    opt.n_predict = int64_t(g["greedy"]["tokens"].size());
    std::vector<int32_t> got;
    const auto prompt = g["tokens"].get<std::vector<int32_t>>();
    auto st = generate(*l.session, prompt, opt, [&](int32_t t) { return got.push_back(t), true; });
    ASSERT_TRUE(st.ok()) << st.error().message();
    EXPECT_EQ(got, g["greedy"]["tokens"].get<std::vector<int32_t>>());
}

}  // namespace
}  // namespace loom::runtime
