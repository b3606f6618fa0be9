// Hugging Face directories against GGUF files of the same weights. For each family with an [hf] section, the test
// writes a checkpoint as Hugging Face stores it from a synthetic GGUF (its own table of HF names and layouts below,
// written from the shared reference §2.5, not from the arch files: Q/K rows in rotate-half order for llama, Gemma
// norms zero-centred), single-file and sharded, and asserts that loom's logits from the directory equal loom's
// logits from the GGUF bit for bit. Gemma's "+1" is not exact in f32 ((g − 1) + 1 ≠ g), so for families with
// such tensors the GGUF side is the converter's output: the synthetic GGUF with those tensors replaced by (g−1)+1.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "runtime/hf_directory.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "unit/formats/safetensors_bytes.h"
#include "unit/test_env.h"

namespace loom::runtime {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

// How a GGUF tensor is stored in the checkpoint.
enum class Layout : uint8_t {
    as_is,
    rope_q,     // rows in Hugging Face's rotate-half order, heads = attention.head_count
    rope_k,     // the same with attention.head_count_kv
    minus_one,  // a zero-centred norm: the checkpoint holds g − 1
    experts,    // [n_expert, ...] stored as one tensor per expert ({expert} in the name)
    row,        // a vector [n] stored as [1, n]
};

struct TensorName {
    std::string gguf, hf;  // {layer} in both or neither
    Layout layout = Layout::as_is;
};

struct Family {
    std::string name, hf_class;
    std::vector<std::pair<std::string, std::string>> config;  // GGUF key after "<arch>." → config.json key
    std::vector<TensorName> tensors;
};

std::vector<TensorName> dense_tensors(Layout q, Layout k, Layout norm, bool gemma_norms) {
    const std::string L = "model.layers.{layer}.", B = "blk.{layer}.";
    std::vector<TensorName> t = {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output_norm.weight", "model.norm.weight", norm},
        {"output.weight", "lm_head.weight"},
        {B + "attn_norm.weight", L + "input_layernorm.weight", norm},
        {B + "attn_q.weight", L + "self_attn.q_proj.weight", q},
        {B + "attn_k.weight", L + "self_attn.k_proj.weight", k},
        {B + "attn_v.weight", L + "self_attn.v_proj.weight"},
        {B + "attn_q.bias", L + "self_attn.q_proj.bias", q},
        {B + "attn_k.bias", L + "self_attn.k_proj.bias", k},
        {B + "attn_v.bias", L + "self_attn.v_proj.bias"},
        {B + "attn_output.weight", L + "self_attn.o_proj.weight"},
        {B + "attn_q_norm.weight", L + "self_attn.q_norm.weight", norm},
        {B + "attn_k_norm.weight", L + "self_attn.k_norm.weight", norm},
        {B + "ffn_gate.weight", L + "mlp.gate_proj.weight"},
        {B + "ffn_up.weight", L + "mlp.up_proj.weight"},
        {B + "ffn_down.weight", L + "mlp.down_proj.weight"},
    };
    if (gemma_norms) {
        t.push_back({B + "post_attention_norm.weight", L + "post_attention_layernorm.weight", norm});
        t.push_back({B + "ffn_norm.weight", L + "pre_feedforward_layernorm.weight", norm});
        t.push_back({B + "post_ffw_norm.weight", L + "post_feedforward_layernorm.weight", norm});
    } else {
        t.push_back({B + "ffn_norm.weight", L + "post_attention_layernorm.weight", norm});
    }
    return t;
}

std::vector<TensorName> moe_tensors(bool shared) {
    const std::string L = "model.layers.{layer}.", B = "blk.{layer}.";
    std::vector<TensorName> t = dense_tensors(Layout::as_is, Layout::as_is, Layout::as_is, false);
    t.push_back({B + "ffn_gate_inp.weight", L + "mlp.gate.weight"});
    t.push_back({B + "ffn_gate_exps.weight", L + "mlp.experts.{expert}.gate_proj.weight", Layout::experts});
    t.push_back({B + "ffn_up_exps.weight", L + "mlp.experts.{expert}.up_proj.weight", Layout::experts});
    t.push_back({B + "ffn_down_exps.weight", L + "mlp.experts.{expert}.down_proj.weight", Layout::experts});
    if (shared) {
        t.push_back({B + "ffn_gate_shexp.weight", L + "mlp.shared_expert.gate_proj.weight"});
        t.push_back({B + "ffn_up_shexp.weight", L + "mlp.shared_expert.up_proj.weight"});
        t.push_back({B + "ffn_down_shexp.weight", L + "mlp.shared_expert.down_proj.weight"});
        t.push_back({B + "ffn_gate_inp_shexp.weight", L + "mlp.shared_expert_gate.weight", Layout::row});
    }
    return t;
}

const std::vector<std::pair<std::string, std::string>> kDenseConfig = {
    {"block_count", "num_hidden_layers"},
    {"context_length", "max_position_embeddings"},
    {"embedding_length", "hidden_size"},
    {"feed_forward_length", "intermediate_size"},
    {"attention.head_count", "num_attention_heads"},
    {"attention.head_count_kv", "num_key_value_heads"},
    {"attention.key_length", "head_dim"},
    {"attention.layer_norm_rms_epsilon", "rms_norm_eps"},
    {"rope.freq_base", "rope_theta"},
};

const std::vector<std::pair<std::string, std::string>> kMoeConfig = {
    {"expert_count", "num_experts"},
    {"expert_used_count", "num_experts_per_tok"},
    {"expert_feed_forward_length", "moe_intermediate_size"},
    {"expert_shared_feed_forward_length", "shared_expert_intermediate_size"},
};

std::vector<Family> families() {
    auto with = [](std::vector<std::pair<std::string, std::string>> extra) {
        auto c = kDenseConfig;
        c.insert(c.end(), extra.begin(), extra.end());
        return c;
    };
    return {
        {"llama", "LlamaForCausalLM", with({}), dense_tensors(Layout::rope_q, Layout::rope_k, Layout::as_is, false)},
        {"qwen2", "Qwen2ForCausalLM", with({}), dense_tensors(Layout::as_is, Layout::as_is, Layout::as_is, false)},
        {"qwen3", "Qwen3ForCausalLM", with({}), dense_tensors(Layout::as_is, Layout::as_is, Layout::as_is, false)},
        {"gemma3", "Gemma3ForCausalLM",
         with({{"rope.freq_base_swa", "rope_local_base_freq"},
               {"attention.sliding_window", "sliding_window"},
               {"attention.sliding_window_pattern", "sliding_window_pattern"}}),
         dense_tensors(Layout::as_is, Layout::as_is, Layout::minus_one, true)},
        {"qwen3moe", "Qwen3MoeForCausalLM", with(kMoeConfig), moe_tensors(false)},
        {"qwen2moe", "Qwen2MoeForCausalLM", with(kMoeConfig), moe_tensors(true)},
    };
}

std::string with_layer(std::string s, int64_t layer) {
    if (auto at = s.find("{layer}"); at != std::string::npos) s.replace(at, 7, std::to_string(layer));
    return s;
}

// The checkpoint name and layout of a GGUF tensor, from the family's table.
const TensorName* find_name(const Family& f, const std::string& gguf, int64_t& layer) {
    layer = -1;
    std::string pattern = gguf;
    if (gguf.rfind("blk.", 0) == 0) {
        const size_t dot = gguf.find('.', 4);
        layer = std::stoll(gguf.substr(4, dot - 4));
        pattern = "blk.{layer}" + gguf.substr(dot);
    }
    for (const TensorName& t : f.tensors)
        if (t.gguf == pattern) return &t;
    return nullptr;
}

// Rows of a head-major tensor from GGUF's adjacent-pair order to Hugging Face's rotate-half order: within head h,
// GGUF row 2i + s holds what Hugging Face keeps at row s·(d/2) + i.
std::vector<uint8_t> to_rotate_half(const formats::TensorInfo& t, int64_t heads) {
    const int64_t rows = t.shape[0], d = rows / heads;
    const size_t row = size_t(t.bytes) / size_t(rows);
    std::vector<uint8_t> out(t.bytes);
    for (int64_t h = 0; h < heads; ++h)
        for (int64_t i = 0; i < d / 2; ++i)
            for (int64_t s = 0; s < 2; ++s)
                std::memcpy(out.data() + size_t(h * d + s * d / 2 + i) * row, t.data + size_t(h * d + 2 * i + s) * row,
                            row);
    return out;
}

std::vector<float> floats(const formats::TensorInfo& t) {
    std::vector<float> v(size_t(t.n_elements()));
    std::memcpy(v.data(), t.data, v.size() * 4);
    return v;
}

std::string safetensors_dtype(DType t) { return t == DType::f32 ? "F32" : t == DType::bf16 ? "BF16" : "F16"; }

struct Written {
    std::string dir, gguf;  // the checkpoint, and the GGUF of the same weights
};

// Writes `src` (a synthetic GGUF of family `f`) as a Hugging Face directory in `shards` files, and the GGUF the
// converter would make of it.
Written write_hf(const Family& f, const std::string& src, const std::string& tag, int shards) {
    auto g = formats::GgufFile::open(src);
    EXPECT_TRUE(g.ok()) << g.error().message();
    Written out{test::scratch_path("hf-" + tag), test::scratch_path("hf-" + tag + ".gguf")};
    fs::remove_all(out.dir);
    fs::create_directories(out.dir);

    json config = {{"architectures", {f.hf_class}}, {"model_type", f.name}, {"torch_dtype", "bfloat16"}};
    for (const auto& [key, hf] : f.config) {
        const std::string full = f.name + "." + key;
        if (!g->has(full)) continue;
        const formats::MetaEntry* e = g->find(full);
        if (e->type == formats::GgufType::f32 || e->type == formats::GgufType::f64) config[hf] = *g->get_float(full);
        else config[hf] = *g->get_int(full);
    }
    config["vocab_size"] = g->tensor("token_embd.weight")->shape[0];
    const int64_t heads = *g->get_int(f.name + ".attention.head_count");
    const int64_t kv_heads =
        g->has(f.name + ".attention.head_count_kv") ? *g->get_int(f.name + ".attention.head_count_kv") : heads;
    std::ofstream(out.dir + "/config.json") << config.dump(2);

    formats::GgufWriter converted;  // the synthetic file with the converter's (g − 1) + 1 where that is not g
    for (const formats::MetaEntry& e : g->metadata()) converted.set(std::string(e.key), e.to_owned());
    std::vector<testutil::SafetensorsBuilder> files{size_t(shards)};
    json weight_map = json::object();
    int n = 0;
    for (const formats::TensorInfo& t : g->tensors()) {
        int64_t layer = -1;
        const TensorName* name = find_name(f, std::string(t.name), layer);
        EXPECT_NE(name, nullptr) << f.name << ": no checkpoint name for " << t.name;
        if (!name) continue;
        const std::string hf = with_layer(name->hf, layer);
        std::vector<uint8_t> bytes(t.data, t.data + t.bytes);
        std::vector<uint8_t> gguf_bytes = bytes;
        if (name->layout == Layout::rope_q) bytes = to_rotate_half(t, heads);
        if (name->layout == Layout::rope_k) bytes = to_rotate_half(t, kv_heads);
        if (name->layout == Layout::minus_one) {
            EXPECT_EQ(t.type, DType::f32) << t.name;
            std::vector<float> v = floats(t), back(v.size());
            for (size_t i = 0; i < v.size(); ++i) v[i] -= 1.0f, back[i] = v[i] + 1.0f;
            std::memcpy(bytes.data(), v.data(), bytes.size());
            std::memcpy(gguf_bytes.data(), back.data(), bytes.size());
        }
        const size_t shard = size_t(n++ % shards);
        if (name->layout == Layout::experts) {
            const int64_t n_expert = t.shape[0];
            const size_t slab = bytes.size() / size_t(n_expert);
            for (int64_t e = 0; e < n_expert; ++e) {
                std::string one = hf;
                one.replace(one.find("{expert}"), 8, std::to_string(e));
                files[shard].add(one, safetensors_dtype(t.type), {t.shape.begin() + 1, t.shape.end()},
                                 {bytes.begin() + std::ptrdiff_t(size_t(e) * slab),
                                  bytes.begin() + std::ptrdiff_t(size_t(e + 1) * slab)});
                weight_map[one] = fmt::format("model-{:05d}-of-{:05d}.safetensors", shard + 1, shards);
            }
            converted.add_tensor(std::string(t.name), t.type, t.shape, std::move(gguf_bytes));
            continue;
        }
        std::vector<int64_t> shape = t.shape;
        if (name->layout == Layout::row) shape.insert(shape.begin(), 1);
        files[shard].add(hf, safetensors_dtype(t.type), shape, std::move(bytes));
        converted.add_tensor(std::string(t.name), t.type, t.shape, std::move(gguf_bytes));
        weight_map[hf] = fmt::format("model-{:05d}-of-{:05d}.safetensors", shard + 1, shards);
    }
    if (shards == 1) {
        EXPECT_TRUE(files[0].write(out.dir + "/model.safetensors"));
    } else {
        for (int i = 0; i < shards; ++i)
            EXPECT_TRUE(
                files[size_t(i)].write(out.dir + fmt::format("/model-{:05d}-of-{:05d}.safetensors", i + 1, shards)));
        std::ofstream(out.dir + "/model.safetensors.index.json")
            << json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump(2);
    }
    EXPECT_TRUE(converted.write(out.gguf).ok());
    return out;
}

// Logits of a 12-token prompt (one batch) and 3 single-token steps.
std::vector<float> logits_of(const std::string& path) {
    LoadOptions lo;
    auto m = Model::load(path, lo);
    EXPECT_TRUE(m.ok()) << m.error().message();
    if (!m.ok()) return {};
    SessionOptions so;
    so.n_threads = 2;
    so.n_ctx = 64;
    so.kv_type = DType::f32;
    auto s = Session::create(**m, so);
    EXPECT_TRUE(s.ok()) << s.error().message();
    const int64_t V = (*m)->n_vocab();
    std::vector<int32_t> tokens(15);
    for (int32_t i = 0; i < 15; ++i) tokens[size_t(i)] = int32_t((i * 7919 + 13) % (V - 3) + 3);
    auto prompt = (*s)->decode(Batch::sequence({tokens.data(), 12}, 0, 0, true));
    EXPECT_TRUE(prompt.ok()) << prompt.error().message();
    if (!prompt.ok()) return {};
    std::vector<float> out(prompt->row<float>(0), prompt->row<float>(0) + 12 * V);
    for (int32_t i = 12; i < 15; ++i) {
        auto step = (*s)->decode(Batch::sequence({&tokens[size_t(i)], 1}, i, 0, true));
        EXPECT_TRUE(step.ok()) << step.error().message();
        if (step.ok()) out.insert(out.end(), step->row<float>(0), step->row<float>(0) + V);
    }
    return out;
}

class HfDirectory : public ::testing::TestWithParam<std::tuple<std::string, std::string, int>> {};

TEST_P(HfDirectory, LogitsEqualTheGgufBitForBit) {
    const auto& [family, type, shards] = GetParam();
    Family f;
    for (const Family& x : families())
        if (x.name == family) f = x;
    const std::string tag = fmt::format("{}-{}-{}", family, type, shards);
    const Written w = write_hf(f, test::synth_model(family, type), tag, shards);
    const std::vector<float> from_gguf = logits_of(w.gguf), from_dir = logits_of(w.dir);
    ASSERT_FALSE(from_gguf.empty());
    ASSERT_EQ(from_gguf.size(), from_dir.size());
    EXPECT_EQ(std::memcmp(from_gguf.data(), from_dir.data(), from_gguf.size() * 4), 0) << tag;
}

INSTANTIATE_TEST_SUITE_P(Families, HfDirectory,
                         ::testing::Combine(::testing::Values("llama", "qwen2", "qwen3", "gemma3", "qwen3moe",
                                                              "qwen2moe"),
                                            ::testing::Values("f32", "bf16"), ::testing::Values(1, 3)),
                         [](const auto& info) {
                             return fmt::format("{}_{}_{}file", std::get<0>(info.param), std::get<1>(info.param),
                                                std::get<2>(info.param));
                         });

Family family(const std::string& name) {
    for (const Family& f : families())
        if (f.name == name) return f;
    return {};
}

// The loom binary on a directory: inspect reports the transforms; run generates through the directory's
// tokenizer.json (llama 3's, cut to 278 tokens) with EOS from generation_config.json.
TEST(HfDirectoryCli, InspectReportsTransformsAndRunGenerates) {
    const Written w = write_hf(family("llama"), test::synth_model("llama", "f32"), "cli", 1);
    fs::copy_file(test::data_dir() + "/../fuzz/corpus/hf_vocab/seed_llama3", w.dir + "/tokenizer.json");
    std::ofstream(w.dir + "/tokenizer_config.json")
        << R"({"bos_token": "<|begin_of_text|>", "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.content }}{% endfor %}"})";
    std::ofstream(w.dir + "/generation_config.json") << R"({"eos_token_id": [276, 277]})";
    const test::ShellResult inspect = test::shell(fmt::format("'{}' inspect '{}' 2>&1", LOOM_BINARY, w.dir));
    EXPECT_EQ(inspect.status, 0) << inspect.out;
    EXPECT_NE(inspect.out.find("loom.hf.transforms"), std::string::npos) << inspect.out;
    EXPECT_NE(inspect.out.find("blk.0.attn_q.weight ← model.layers.0.self_attn.q_proj.weight: rope_permute(4)"),
              std::string::npos)
        << inspect.out;
    EXPECT_NE(inspect.out.find("blk.0.attn_k.weight ← model.layers.0.self_attn.k_proj.weight: rope_permute(2)"),
              std::string::npos);
    EXPECT_NE(inspect.out.find("tokenizer.chat_template"), std::string::npos);
    EXPECT_NE(inspect.out.find("tokenizer.ggml.eos_token_id             u32     276"), std::string::npos);
    const test::ShellResult run =
        test::shell(fmt::format("'{}' run -m '{}' -t 2 -c 64 -n 6 --temp 0 -p 'Hello world' 2>&1", LOOM_BINARY, w.dir));
    EXPECT_EQ(run.status, 0) << run.out;
    EXPECT_NE(run.out.find("Hello world"), std::string::npos) << run.out;
}

// A directory's problems are errors that name the directory, the file and the tensor.
TEST(HfDirectoryErrors, NameTheProblem) {
    const Written w = write_hf(family("qwen2"), test::synth_model("qwen2", "f32"), "errors", 1);
    auto expect_error = [&](const std::string& what, const std::string& part) {
        auto f = open_hf_directory(w.dir);
        ASSERT_FALSE(f.ok()) << what;
        EXPECT_NE(f.error().message().find(part), std::string::npos) << what << ": " << f.error().message();
    };
    json config = json::parse(std::ifstream(w.dir + "/config.json"));
    const json good = config;

    config["architectures"] = {"NoSuchForCausalLM"};
    std::ofstream(w.dir + "/config.json") << config.dump();
    expect_error("unknown class", "config.json architecture 'NoSuchForCausalLM' is not one loom maps");
    config = good;
    config.erase("architectures");
    std::ofstream(w.dir + "/config.json") << config.dump();
    expect_error("no class", "no \"architectures\" list");
    config = good;
    config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}};
    std::ofstream(w.dir + "/config.json") << config.dump();
    expect_error("refused value", "config.json: 'rope_scaling.rope_type' = \"llama3\": RoPE scaling");
    std::ofstream(w.dir + "/config.json") << "{not json";
    expect_error("bad config", "config.json: not a JSON object");
    std::ofstream(w.dir + "/config.json") << good.dump();

    const std::string st = w.dir + "/model.safetensors";
    fs::rename(st, st + ".bak");
    testutil::SafetensorsBuilder extra;
    extra.add_f32("model.layers.0.mystery.weight", {2}, {1, 2});
    ASSERT_TRUE(extra.write(st));
    expect_error("unmapped", "model.layers.0.mystery.weight");
    testutil::SafetensorsBuilder ints;
    ints.add("model.norm.weight", "I64", {1}, std::vector<uint8_t>(8));
    ASSERT_TRUE(ints.write(st));
    expect_error("dtype", "tensor 'model.norm.weight' @0x");
    expect_error("dtype", "unsupported dtype I64");
    fs::rename(st + ".bak", st);
    EXPECT_TRUE(open_hf_directory(w.dir).ok());
}

}  // namespace
}  // namespace loom::runtime
