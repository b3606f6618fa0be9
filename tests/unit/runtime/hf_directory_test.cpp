// Hugging Face directories against GGUF files of the same weights. For each family with an [hf] section, the test
// writes a checkpoint as Hugging Face stores it from a synthetic GGUF (its own table of HF names and layouts below,
// written from the shared reference §2.5, not from the arch files: Q/K rows in rotate-half order for llama, Gemma
// norms zero-centred), single-file and sharded, and asserts that loom's logits from the directory equal loom's
// logits from the GGUF bit for bit. Gemma's "+1" is not exact in f32 ((g − 1) + 1 ≠ g), so for families with
// such tensors the GGUF side is the converter's output: the synthetic GGUF with those tensors replaced by (g−1)+1.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "kernels/ref/quant.h"
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
    // Qwen 3.5's value heads: GGUF tiles them ([j][g]), the checkpoint groups them by key head ([g][j]).
    v_rows,   // the rows after the q and k rows (2·key_dim) of the fused qkv, in blocks of head_v_dim
    v_heads,  // every row, in blocks of rows / n_v_heads (z: head_v_dim; a, b: 1)
    v_cols,   // the columns (out_proj), in blocks of head_v_dim
    v_conv,   // conv1d [C, K]: the V channels as v_rows, stored as [C, 1, K]
    a_log,    // ssm_a = −exp(A_log), value heads as v_heads: the checkpoint holds A_log = log(−a)
    // Two GGUF tensors fused into one checkpoint tensor along dimension 1 (the first, second part):
    gate_up_first,  // experts' gate [E, F, D] and up → gate_up_proj [E, 2F, D]
    gate_up_second,
    kv_b_first,   // DeepSeek's k_b [H, kv_lora, nope], transposed, and v_b [H, v, kv_lora] → kv_b_proj
    kv_b_second,  // [H·(nope + v), kv_lora]
    generated,    // not in the checkpoint: the converter computes it from config.json (Gemma 4's rope_freqs)
};

struct TensorName {
    std::string gguf, hf;  // {layer} in both or neither
    Layout layout = Layout::as_is;
};

struct Family {
    std::string name, hf_class;
    std::vector<std::pair<std::string, std::string>> config;  // GGUF key after "<arch>." → config.json key
    std::vector<TensorName> tensors;
    std::string spec;  // the synth spec, when not the family's name
    // config.json values that are not one GGUF key each (computed from the GGUF's).
    std::function<void(json&, const formats::GgufFile&)> more_config;
    std::string text_prefix;           // a multimodal checkpoint: "model." names under this, config under text_config
    std::vector<std::string> foreign;  // tensors such a checkpoint holds besides the language model (dropped)
    std::vector<std::string> drop;     // synthetic tensors left out of both sides (a layout HF cannot express)
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

// Qwen 3.5 (vision-and-safetensors §2.5 qwen35): zero-centred norms except the delta-net's, value heads grouped
// by key head in the checkpoint.
std::vector<TensorName> qwen35_tensors(bool moe) {
    const std::string L = "model.layers.{layer}.", B = "blk.{layer}.", A = L + "linear_attn.";
    std::vector<TensorName> t = {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output_norm.weight", "model.norm.weight", Layout::minus_one},
        {"output.weight", "lm_head.weight"},
        {B + "attn_norm.weight", L + "input_layernorm.weight", Layout::minus_one},
        {B + "post_attention_norm.weight", L + "post_attention_layernorm.weight", Layout::minus_one},
        {B + "attn_q.weight", L + "self_attn.q_proj.weight"},
        {B + "attn_k.weight", L + "self_attn.k_proj.weight"},
        {B + "attn_v.weight", L + "self_attn.v_proj.weight"},
        {B + "attn_output.weight", L + "self_attn.o_proj.weight"},
        {B + "attn_q_norm.weight", L + "self_attn.q_norm.weight", Layout::minus_one},
        {B + "attn_k_norm.weight", L + "self_attn.k_norm.weight", Layout::minus_one},
        {B + "attn_qkv.weight", A + "in_proj_qkv.weight", Layout::v_rows},
        {B + "attn_gate.weight", A + "in_proj_z.weight", Layout::v_heads},
        {B + "ssm_beta.weight", A + "in_proj_b.weight", Layout::v_heads},
        {B + "ssm_alpha.weight", A + "in_proj_a.weight", Layout::v_heads},
        {B + "ssm_a", A + "A_log", Layout::a_log},
        {B + "ssm_dt.bias", A + "dt_bias", Layout::v_heads},
        {B + "ssm_conv1d.weight", A + "conv1d.weight", Layout::v_conv},
        {B + "ssm_norm.weight", A + "norm.weight"},
        {B + "ssm_out.weight", A + "out_proj.weight", Layout::v_cols},
    };
    if (!moe) {
        t.push_back({B + "ffn_gate.weight", L + "mlp.gate_proj.weight"});
        t.push_back({B + "ffn_up.weight", L + "mlp.up_proj.weight"});
        t.push_back({B + "ffn_down.weight", L + "mlp.down_proj.weight"});
        return t;
    }
    // Fused experts as transformers 5 stores Qwen 3.5-MoE.
    t.push_back({B + "ffn_gate_inp.weight", L + "mlp.gate.weight"});
    t.push_back({B + "ffn_gate_exps.weight", L + "mlp.experts.gate_up_proj", Layout::gate_up_first});
    t.push_back({B + "ffn_up_exps.weight", L + "mlp.experts.gate_up_proj", Layout::gate_up_second});
    t.push_back({B + "ffn_down_exps.weight", L + "mlp.experts.down_proj"});
    t.push_back({B + "ffn_gate_shexp.weight", L + "mlp.shared_expert.gate_proj.weight"});
    t.push_back({B + "ffn_up_shexp.weight", L + "mlp.shared_expert.up_proj.weight"});
    t.push_back({B + "ffn_down_shexp.weight", L + "mlp.shared_expert.down_proj.weight"});
    t.push_back({B + "ffn_gate_inp_shexp.weight", L + "mlp.shared_expert_gate.weight", Layout::row});
    return t;
}

// config.json's Qwen 3.5 keys, v5 style (rope values under rope_parameters, the layer kinds listed).
void qwen35_config(json& c, const formats::GgufFile& g) {
    const std::string a = std::string(*g.get_string("general.architecture")) + ".";
    auto i = [&](const std::string& k) { return *g.get_int(a + k); };
    c["linear_conv_kernel_dim"] = i("ssm.conv_kernel");
    c["linear_key_head_dim"] = i("ssm.state_size");
    c["linear_num_key_heads"] = i("ssm.group_count");
    c["linear_num_value_heads"] = i("ssm.time_step_rank");
    c["linear_value_head_dim"] = i("ssm.inner_size") / i("ssm.time_step_rank");
    c["rope_parameters"] = {{"rope_type", "default"},
                            {"rope_theta", *g.get_float(a + "rope.freq_base")},
                            {"partial_rotary_factor",
                             double(i("rope.dimension_count")) / double(i("attention.key_length"))},
                            {"mrope_section", {11, 11, 10}}};
    // The layer kinds: the file's per-layer array, or every interval-th layer full attention.
    std::vector<int32_t> recurrent;
    if (auto r = g.get_array<int32_t>(a + "attention.recurrent_layers"); r.ok())
        for (size_t l = 0; l < r->size(); ++l) recurrent.push_back((*r)[l]);
    const int64_t interval = g.has(a + "full_attention_interval") ? i("full_attention_interval") : 4;
    json kinds = json::array();
    for (int64_t l = 0; l < i("block_count"); ++l) {
        const bool linear = recurrent.empty() ? (l + 1) % interval != 0 : recurrent[size_t(l)] != 0;
        kinds.push_back(linear ? "linear_attention" : "full_attention");
    }
    c["layer_types"] = kinds;
    if (g.has(a + "full_attention_interval")) c["full_attention_interval"] = interval;
}

// DeepSeek-V2/V3 (§2.5 deepseek2): latent attention with kv_b_proj holding k_b (transposed) and v_b per head.
std::vector<TensorName> deepseek2_tensors(bool lite) {
    const std::string L = "model.layers.{layer}.", B = "blk.{layer}.";
    std::vector<TensorName> t = {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output_norm.weight", "model.norm.weight"},
        {"output.weight", "lm_head.weight"},
        {B + "attn_norm.weight", L + "input_layernorm.weight"},
        {B + "attn_kv_a_mqa.weight", L + "self_attn.kv_a_proj_with_mqa.weight"},
        {B + "attn_kv_a_norm.weight", L + "self_attn.kv_a_layernorm.weight"},
        {B + "attn_k_b.weight", L + "self_attn.kv_b_proj.weight", Layout::kv_b_first},
        {B + "attn_v_b.weight", L + "self_attn.kv_b_proj.weight", Layout::kv_b_second},
        {B + "attn_output.weight", L + "self_attn.o_proj.weight"},
        {B + "ffn_norm.weight", L + "post_attention_layernorm.weight"},
        {B + "ffn_gate.weight", L + "mlp.gate_proj.weight"},
        {B + "ffn_up.weight", L + "mlp.up_proj.weight"},
        {B + "ffn_down.weight", L + "mlp.down_proj.weight"},
        {B + "ffn_gate_inp.weight", L + "mlp.gate.weight"},
        {B + "exp_probs_b.bias", L + "mlp.gate.e_score_correction_bias"},
        {B + "ffn_gate_exps.weight", L + "mlp.experts.{expert}.gate_proj.weight", Layout::experts},
        {B + "ffn_up_exps.weight", L + "mlp.experts.{expert}.up_proj.weight", Layout::experts},
        {B + "ffn_down_exps.weight", L + "mlp.experts.{expert}.down_proj.weight", Layout::experts},
        {B + "ffn_gate_shexp.weight", L + "mlp.shared_experts.gate_proj.weight"},
        {B + "ffn_up_shexp.weight", L + "mlp.shared_experts.up_proj.weight"},
        {B + "ffn_down_shexp.weight", L + "mlp.shared_experts.down_proj.weight"},
    };
    if (lite) {
        t.push_back({B + "attn_q.weight", L + "self_attn.q_proj.weight"});
    } else {
        t.push_back({B + "attn_q_a.weight", L + "self_attn.q_a_proj.weight"});
        t.push_back({B + "attn_q_a_norm.weight", L + "self_attn.q_a_layernorm.weight"});
        t.push_back({B + "attn_q_b.weight", L + "self_attn.q_b_proj.weight"});
    }
    return t;
}

void deepseek2_config(json& c, const formats::GgufFile& g) {
    auto i = [&](const std::string& k) { return *g.get_int("deepseek2." + k); };
    auto f = [&](const std::string& k) { return *g.get_float("deepseek2." + k); };
    c["num_key_value_heads"] = i("attention.head_count");  // as Hugging Face has it; the GGUF says 1 (MQA)
    c["qk_rope_head_dim"] = i("rope.dimension_count");
    c["qk_nope_head_dim"] = i("attention.key_length_mla") - i("rope.dimension_count");
    c["v_head_dim"] = i("attention.value_length_mla");
    c["kv_lora_rank"] = i("attention.kv_lora_rank");
    c["q_lora_rank"] = i("attention.q_lora_rank") > 0 ? json(i("attention.q_lora_rank")) : json(nullptr);
    c["n_routed_experts"] = i("expert_count");
    c["num_experts_per_tok"] = i("expert_used_count");
    c["moe_intermediate_size"] = i("expert_feed_forward_length");
    c["n_shared_experts"] = i("expert_shared_count");
    c["first_k_dense_replace"] = i("leading_dense_block_count");
    c["routed_scaling_factor"] = f("expert_weights_scale");
    c["norm_topk_prob"] = *g.get<bool>("deepseek2.expert_weights_norm");
    c["scoring_func"] = i("expert_gating_func") == 2 ? "sigmoid" : "softmax";
    if (g.has("deepseek2.expert_group_count")) {
        c["n_group"] = i("expert_group_count");
        c["topk_group"] = i("expert_group_used_count");
        c["topk_method"] = "noaux_tc";
    }
}

// LLaDA-8B (OLMo-style names; gguf-py's tensor map): Q/K in rotate-half order as llama's, with biases.
std::vector<TensorName> llada_tensors() {
    const std::string L = "model.transformer.blocks.{layer}.", B = "blk.{layer}.";
    return {
        {"token_embd.weight", "model.transformer.wte.weight"},
        {"output_norm.weight", "model.transformer.ln_f.weight"},
        {"output.weight", "model.transformer.ff_out.weight"},
        {B + "attn_norm.weight", L + "attn_norm.weight"},
        {B + "attn_q.weight", L + "q_proj.weight", Layout::rope_q},
        {B + "attn_k.weight", L + "k_proj.weight", Layout::rope_k},
        {B + "attn_v.weight", L + "v_proj.weight"},
        {B + "attn_q.bias", L + "q_proj.bias", Layout::rope_q},
        {B + "attn_k.bias", L + "k_proj.bias", Layout::rope_k},
        {B + "attn_v.bias", L + "v_proj.bias"},
        {B + "attn_output.weight", L + "attn_out.weight"},
        {B + "attn_output.bias", L + "attn_out.bias"},
        {B + "ffn_norm.weight", L + "ff_norm.weight"},
        {B + "ffn_gate.weight", L + "ff_proj.weight"},
        {B + "ffn_up.weight", L + "up_proj.weight"},
        {B + "ffn_down.weight", L + "ff_out.weight"},
        {B + "ffn_down.bias", L + "ff_out.bias"},
    };
}

void llada_config(json& c, const formats::GgufFile& g) {
    c["mask_token_id"] = *g.get_int("tokenizer.ggml.mask_token_id");
}

// Gemma 4 (§2.5 gemma4, and transformers' Gemma4TextModel names): norms as stored (no +1), experts fused as HF
// keeps them, layer_scalar a [1] buffer, per-layer embeddings; rope_freqs is not in the checkpoint.
std::vector<TensorName> gemma4_tensors() {
    const std::string L = "model.layers.{layer}.", B = "blk.{layer}.";
    return {
        {"token_embd.weight", "model.embed_tokens.weight"},
        {"output_norm.weight", "model.norm.weight"},
        {"rope_freqs.weight", "", Layout::generated},
        {"per_layer_token_embd.weight", "model.embed_tokens_per_layer.weight"},
        {"per_layer_model_proj.weight", "model.per_layer_model_projection.weight"},
        {"per_layer_proj_norm.weight", "model.per_layer_projection_norm.weight"},
        {B + "attn_norm.weight", L + "input_layernorm.weight"},
        {B + "attn_q.weight", L + "self_attn.q_proj.weight"},
        {B + "attn_k.weight", L + "self_attn.k_proj.weight"},
        {B + "attn_v.weight", L + "self_attn.v_proj.weight"},
        {B + "attn_output.weight", L + "self_attn.o_proj.weight"},
        {B + "attn_q_norm.weight", L + "self_attn.q_norm.weight"},
        {B + "attn_k_norm.weight", L + "self_attn.k_norm.weight"},
        {B + "post_attention_norm.weight", L + "post_attention_layernorm.weight"},
        {B + "ffn_norm.weight", L + "pre_feedforward_layernorm.weight"},
        {B + "post_ffw_norm.weight", L + "post_feedforward_layernorm.weight"},
        {B + "ffn_gate.weight", L + "mlp.gate_proj.weight"},
        {B + "ffn_up.weight", L + "mlp.up_proj.weight"},
        {B + "ffn_down.weight", L + "mlp.down_proj.weight"},
        {B + "layer_output_scale.weight", L + "layer_scalar"},
        {B + "inp_gate.weight", L + "per_layer_input_gate.weight"},
        {B + "proj.weight", L + "per_layer_projection.weight"},
        {B + "post_norm.weight", L + "post_per_layer_input_norm.weight"},
        {B + "pre_ffw_norm_2.weight", L + "pre_feedforward_layernorm_2.weight"},
        {B + "post_ffw_norm_1.weight", L + "post_feedforward_layernorm_1.weight"},
        {B + "post_ffw_norm_2.weight", L + "post_feedforward_layernorm_2.weight"},
        {B + "ffn_gate_inp.weight", L + "router.proj.weight"},
        {B + "ffn_gate_inp.scale", L + "router.scale"},
        {B + "ffn_down_exps.scale", L + "router.per_expert_scale"},
        {B + "ffn_gate_up_exps.weight", L + "experts.gate_up_proj"},
        {B + "ffn_down_exps.weight", L + "experts.down_proj"},
    };
}

// Gemma4TextConfig's keys for a synthetic gemma4 GGUF. The full layers' head size and KV heads: the released
// configs' global_head_dim / num_global_key_value_heads (`legacy`), or transformers' per_layer_config, which
// current releases write. Both with attention_k_eq_v (full layers project no V).
void gemma4_config(json& c, const formats::GgufFile& g, bool legacy) {
    auto i = [&](const std::string& k) { return *g.get_int("gemma4." + k); };
    auto f = [&](const std::string& k) { return *g.get_float("gemma4." + k); };
    const auto sliding = *g.get_array<bool>("gemma4.attention.sliding_window_pattern");
    const auto kv = g.get_array<int32_t>("gemma4.attention.head_count_kv")->to_vector();
    const auto ff = g.get_array<int32_t>("gemma4.feed_forward_length")->to_vector();
    const int64_t n = i("block_count");
    const int64_t shared = g.has("gemma4.attention.shared_kv_layers") ? i("attention.shared_kv_layers") : 0;
    json types = json::array(), per_layer = json::object();
    for (int64_t l = 0; l < n; ++l) {
        types.push_back(sliding[size_t(l)] ? "sliding_attention" : "full_attention");
        if (!sliding[size_t(l)])
            per_layer[std::to_string(l)] = {{"head_dim", i("attention.key_length")},
                                            {"num_key_value_heads", kv[size_t(l)]}};
    }
    c["layer_types"] = types;
    c["num_key_value_heads"] = kv[0];  // layer 0 is a sliding one in both test models
    c["attention_k_eq_v"] = true;
    if (legacy) {
        c["global_head_dim"] = i("attention.key_length");
        c["num_global_key_value_heads"] = kv[1];
    } else {
        c["per_layer_config"] = per_layer;
    }
    c["head_dim"] = i("attention.key_length_swa");
    c["intermediate_size"] = ff[0];
    c["use_double_wide_mlp"] = ff.back() == 2 * ff[0];
    c["num_kv_shared_layers"] = shared;
    c["sliding_window"] = i("attention.sliding_window");
    const int64_t ple = i("embedding_length_per_layer_input");
    c["hidden_size_per_layer_input"] = ple > 0 ? json(ple) : json(nullptr);
    c["vocab_size_per_layer_input"] = g.tensor("token_embd.weight")->shape[0];
    // rope_freqs: the first pairs rotate (1), the rest not (1e30): partial_rotary_factor = 2·rotating / head size.
    const formats::TensorInfo* freqs = g.tensor("rope_freqs.weight");
    int64_t rotating = 0;
    for (int64_t k = 0; k < freqs->n_elements(); ++k) {
        float x = 0;
        std::memcpy(&x, freqs->data + k * 4, 4);
        rotating += x == 1.0f;
    }
    c["rope_parameters"] = {{"full_attention",
                             {{"rope_type", "proportional"},
                              {"partial_rotary_factor", double(2 * rotating) / double(i("attention.key_length"))},
                              {"rope_theta", f("rope.freq_base")}}},
                            {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", f("rope.freq_base_swa")}}}};
    if (g.has("gemma4.expert_count")) {
        c["enable_moe_block"] = true;
        c["num_experts"] = i("expert_count");
        c["top_k_experts"] = i("expert_used_count");
        c["moe_intermediate_size"] = i("expert_feed_forward_length");
    }
    if (g.has("gemma4.final_logit_softcapping")) c["final_logit_softcapping"] = f("final_logit_softcapping");
}

std::vector<Family> families() {
    auto with = [](std::vector<std::pair<std::string, std::string>> extra) {
        auto c = kDenseConfig;
        c.insert(c.end(), extra.begin(), extra.end());
        return c;
    };
    // Qwen 3.5: the rope values go under rope_parameters (qwen35_config).
    std::vector<std::pair<std::string, std::string>> kQwen35Config;
    for (const auto& kv : kDenseConfig)
        if (kv.first != "rope.freq_base") kQwen35Config.push_back(kv);
    auto qwen35moe_config = kQwen35Config;
    qwen35moe_config.insert(qwen35moe_config.end(), kMoeConfig.begin(), kMoeConfig.end());
    const std::vector<std::pair<std::string, std::string>> kLladaConfig = {
        {"block_count", "n_layers"},
        {"context_length", "max_sequence_length"},
        {"embedding_length", "d_model"},
        {"feed_forward_length", "mlp_hidden_size"},
        {"attention.head_count", "n_heads"},
        {"attention.head_count_kv", "n_kv_heads"},
        {"attention.layer_norm_rms_epsilon", "rms_norm_eps"},
        {"rope.freq_base", "rope_theta"},
    };
    // Gemma 4: the scalar keys (the rest, per layer or under rope_parameters, in gemma4_config).
    const std::vector<std::pair<std::string, std::string>> kGemma4Config = {
        {"block_count", "num_hidden_layers"},
        {"context_length", "max_position_embeddings"},
        {"embedding_length", "hidden_size"},
        {"attention.head_count", "num_attention_heads"},
        {"attention.layer_norm_rms_epsilon", "rms_norm_eps"},
    };
    const std::vector<std::pair<std::string, std::string>> kDeepseekConfig = {
        {"block_count", "num_hidden_layers"},
        {"context_length", "max_position_embeddings"},
        {"embedding_length", "hidden_size"},
        {"feed_forward_length", "intermediate_size"},
        {"attention.head_count", "num_attention_heads"},
        {"attention.layer_norm_rms_epsilon", "rms_norm_eps"},
        {"rope.freq_base", "rope_theta"},
    };
    auto make = [](std::string name, std::string hf_class, std::vector<std::pair<std::string, std::string>> config,
                   std::vector<TensorName> tensors,
                   std::function<void(json&, const formats::GgufFile&)> more_config = {}) {
        Family f;
        f.name = std::move(name);
        f.hf_class = std::move(hf_class);
        f.config = std::move(config);
        f.tensors = std::move(tensors);
        f.more_config = std::move(more_config);
        return f;
    };
    std::vector<Family> all = {
        make("llama", "LlamaForCausalLM", with({}),
             dense_tensors(Layout::rope_q, Layout::rope_k, Layout::as_is, false)),
        make("qwen2", "Qwen2ForCausalLM", with({}), dense_tensors(Layout::as_is, Layout::as_is, Layout::as_is, false)),
        make("qwen3", "Qwen3ForCausalLM", with({}), dense_tensors(Layout::as_is, Layout::as_is, Layout::as_is, false)),
        make("gemma3", "Gemma3ForCausalLM",
             with({{"rope.freq_base_swa", "rope_local_base_freq"},
                   {"attention.sliding_window", "sliding_window"},
                   {"attention.sliding_window_pattern", "sliding_window_pattern"}}),
             dense_tensors(Layout::as_is, Layout::as_is, Layout::minus_one, true)),
        make("qwen3moe", "Qwen3MoeForCausalLM", with(kMoeConfig), moe_tensors(false)),
        make("qwen2moe", "Qwen2MoeForCausalLM", with(kMoeConfig), moe_tensors(true)),
        make("qwen35", "Qwen3_5ForConditionalGeneration", kQwen35Config, qwen35_tensors(false), qwen35_config),
        make("qwen35moe", "Qwen3_5MoeForCausalLM", qwen35moe_config, qwen35_tensors(true), qwen35_config),
        make("llada", "LLaDAModelLM", kLladaConfig, llada_tensors(), llada_config),
        make("deepseek2", "DeepseekV3ForCausalLM", kDeepseekConfig, deepseek2_tensors(false), deepseek2_config),
        make("deepseek2", "DeepseekV2ForCausalLM", kDeepseekConfig, deepseek2_tensors(true), deepseek2_config),
        make("gemma4", "Gemma4ForConditionalGeneration", kGemma4Config, gemma4_tensors(),
             [](json& c, const formats::GgufFile& g) { gemma4_config(c, g, false); }),
        make("gemma4", "Gemma4ForCausalLM", kGemma4Config, gemma4_tensors(),
             [](json& c, const formats::GgufFile& g) { gemma4_config(c, g, true); }),
        // LLaDA-MoE: qwen3moe's names (per-head QK norms, experts one tensor each), its own expert width key.
        make("llada-moe", "LLaDAMoEModelLM",
             with({{"expert_count", "num_experts"},
                   {"expert_used_count", "num_experts_per_tok"},
                   {"expert_feed_forward_length", "expert_intermediate_size"}}),
             moe_tensors(false), llada_config),
    };
    all[6].text_prefix = "model.language_model.";  // qwen35: as the multimodal checkpoint stores it
    all[6].foreign = {"model.visual.blocks.0.attn.qkv.weight", "mtp.fc.weight"};
    all[10].spec = "deepseek2lite";
    // Gemma 4 E2B-like, as the multimodal checkpoint stores it (the vision and audio towers dropped). The synthetic
    // model's full layer 3 has a V projection, which attention_k_eq_v (full layers have none) cannot express.
    all[11].text_prefix = "model.language_model.";
    all[11].foreign = {"model.vision_tower.encoder.layers.0.self_attn.q_proj.linear.weight",
                       "model.embed_vision.embedding_projection.weight",
                       "model.audio_tower.layers.0.feed_forward1.ffw_layer_1.linear.weight",
                       "model.embed_audio.embedding_projection.weight"};
    all[11].drop = {"blk.3.attn_v.weight"};
    // Gemma 4 mixture of experts (26B-A4B-like), text only. The synthetic model's layer 0 is dense (its router is
    // absent) where HF's enable_moe_block makes every layer MoE: loom reads the tensors the checkpoint has.
    all[12].spec = "gemma4moe";
    all[13].spec = "lladamoe";
    return all;
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

// Value heads from GGUF's tiled order to the checkpoint's grouped order along one axis of a tensor seen as
// [outer, n, inner bytes]: from entry `start` on, heads of `block` entries; checkpoint head g·(heads/groups) + j
// is GGUF head j·groups + g.
std::vector<uint8_t> to_grouped(const std::vector<uint8_t>& in, int64_t outer, int64_t n, size_t inner, int64_t start,
                                int64_t groups, int64_t heads, int64_t block) {
    std::vector<uint8_t> out(in);
    const int64_t per = heads / groups;
    for (int64_t o = 0; o < outer; ++o)
        for (int64_t g = 0; g < groups; ++g)
            for (int64_t j = 0; j < per; ++j)
                std::memcpy(out.data() + size_t(o * n + start + (g * per + j) * block) * inner,
                            in.data() + size_t(o * n + start + (j * groups + g) * block) * inner,
                            size_t(block) * inner);
    return out;
}

// [a, b, c] → [a, c, b].
std::vector<uint8_t> swap_last_two(const std::vector<uint8_t>& in, const std::vector<int64_t>& shape, size_t el) {
    const int64_t a = shape[0], b = shape[1], c = shape[2];
    std::vector<uint8_t> out(in.size());
    for (int64_t x = 0; x < a; ++x)
        for (int64_t y = 0; y < b; ++y)
            for (int64_t z = 0; z < c; ++z)
                std::memcpy(out.data() + size_t((x * c + z) * b + y) * el, in.data() + size_t((x * b + y) * c + z) * el,
                            el);
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

// The head of a checkpoint with tie_word_embeddings: true.
enum class Tie : uint8_t {
    as_synth,  // the synthetic model's head, no tie_word_embeddings key
    no_head,   // no lm_head: the head is the embedding (output.weight left out of both sides)
    head,      // an lm_head all the same (the synthetic one, or the embedding halved where it has none): the
               // converter writes it as output.weight, but DeepSeek's drops it (`tied_head_dropped`)
};

// Writes `src` (a synthetic GGUF of family `f`) as a Hugging Face directory in `shards` files, and the GGUF the
// converter would make of it.
Written write_hf(const Family& f, const std::string& src, const std::string& tag, int shards, Tie tie = Tie::as_synth,
                 bool tied_head_dropped = false) {
    auto g = formats::GgufFile::open(src);
    EXPECT_TRUE(g.ok()) << g.error().message();
    Written out{test::scratch_path("hf-" + tag), test::scratch_path("hf-" + tag + ".gguf")};
    fs::remove_all(out.dir);
    fs::create_directories(out.dir);

    json config = {{"model_type", f.name}, {"torch_dtype", "bfloat16"}};
    for (const auto& [key, hf] : f.config) {
        const std::string full = f.name + "." + key;
        if (!g->has(full)) continue;
        const formats::MetaEntry* e = g->find(full);
        if (e->type == formats::GgufType::f32 || e->type == formats::GgufType::f64) config[hf] = *g->get_float(full);
        else config[hf] = *g->get_int(full);
    }
    config["vocab_size"] = g->tensor("token_embd.weight")->shape[0];
    // Q and K heads, for the rope permutation (families that have it keep scalar counts).
    auto heads = [&] { return *g->get_int(f.name + ".attention.head_count"); };
    auto kv_heads = [&] {
        return g->has(f.name + ".attention.head_count_kv") ? *g->get_int(f.name + ".attention.head_count_kv") : heads();
    };
    if (f.more_config) f.more_config(config, *g);
    // Qwen 3.5's value heads (zero when the family has none).
    auto meta = [&](const std::string& k) { return g->has(f.name + "." + k) ? *g->get_int(f.name + "." + k) : 0; };
    const int64_t n_k = meta("ssm.group_count"), n_v = meta("ssm.time_step_rank");
    const int64_t head_v = n_v ? meta("ssm.inner_size") / n_v : 0, qk_rows = 2 * n_k * meta("ssm.state_size");
    if (!f.text_prefix.empty()) config = {{"text_config", config}};  // a multimodal checkpoint
    config["architectures"] = {f.hf_class};
    if (tie != Tie::as_synth) config["tie_word_embeddings"] = true;
    std::ofstream(out.dir + "/config.json") << config.dump(2);

    formats::GgufWriter converted;  // the synthetic file with the converter's (g − 1) + 1 where that is not g
    for (const formats::MetaEntry& e : g->metadata()) converted.set(std::string(e.key), e.to_owned());
    std::vector<testutil::SafetensorsBuilder> files{size_t(shards)};
    json weight_map = json::object();
    int n = 0;
    // Tensors a multimodal checkpoint holds besides the language model (an MTP one too): all dropped.
    for (const std::string& other : f.foreign) {
        files[0].add_f32(other, {2, 2}, {1, 2, 3, 4});
        weight_map[other] = fmt::format("model-{:05d}-of-{:05d}.safetensors", 1, shards);
    }
    // Fused tensors wait here for their other part: checkpoint name → (first part, second part).
    std::map<std::string, std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> halves;
    std::map<std::string, std::pair<std::vector<int64_t>, std::vector<int64_t>>> half_shapes;
    for (const formats::TensorInfo& t : g->tensors()) {
        int64_t layer = -1;
        if (std::find(f.drop.begin(), f.drop.end(), std::string(t.name)) != f.drop.end()) continue;
        if (tie == Tie::no_head && std::string(t.name) == "output.weight") continue;
        const TensorName* name = find_name(f, std::string(t.name), layer);
        EXPECT_NE(name, nullptr) << f.name << ": no checkpoint name for " << t.name;
        if (!name) continue;
        if (name->layout == Layout::generated) {
            converted.add_tensor(std::string(t.name), t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.bytes));
            continue;
        }
        std::string hf = with_layer(name->hf, layer);
        if (!f.text_prefix.empty() && hf.rfind("model.", 0) == 0) hf = f.text_prefix + hf.substr(6);
        std::vector<uint8_t> bytes(t.data, t.data + t.bytes);
        std::vector<uint8_t> gguf_bytes = bytes;
        const size_t el = t.type == DType::f32 ? 4 : 2, row = size_t(t.bytes) / size_t(t.shape[0]);
        std::vector<int64_t> shape = t.shape;
        if (name->layout == Layout::rope_q) bytes = to_rotate_half(t, heads());
        if (name->layout == Layout::rope_k) bytes = to_rotate_half(t, kv_heads());
        if (name->layout == Layout::v_rows || name->layout == Layout::v_conv)
            bytes = to_grouped(bytes, 1, t.shape[0], row, qk_rows, n_k, n_v, head_v);
        if (name->layout == Layout::v_conv) shape = {t.shape[0], 1, t.shape[1]};
        if (name->layout == Layout::v_heads || name->layout == Layout::a_log)
            bytes = to_grouped(bytes, 1, t.shape[0], row, 0, n_k, n_v, t.shape[0] / n_v);
        if (name->layout == Layout::v_cols) bytes = to_grouped(bytes, t.shape[0], t.shape[1], el, 0, n_k, n_v, head_v);
        if (name->layout == Layout::a_log) {
            // The checkpoint holds log(−a); the converter's ssm_a is −exp of that, not always a again.
            EXPECT_EQ(t.type, DType::f32) << t.name;
            std::vector<float> v(bytes.size() / 4), back(v.size());
            std::memcpy(v.data(), bytes.data(), bytes.size());
            for (float& x : v) x = std::log(-x);
            std::memcpy(bytes.data(), v.data(), bytes.size());
            std::vector<float> a = floats(t);
            for (size_t i = 0; i < a.size(); ++i) back[i] = -std::exp(std::log(-a[i]));
            std::memcpy(gguf_bytes.data(), back.data(), bytes.size());
        }
        const bool first = name->layout == Layout::gate_up_first || name->layout == Layout::kv_b_first;
        if (first || name->layout == Layout::gate_up_second || name->layout == Layout::kv_b_second) {
            converted.add_tensor(std::string(t.name), t.type, t.shape, std::move(gguf_bytes));
            if (name->layout == Layout::kv_b_first) {
                bytes = swap_last_two(bytes, t.shape, el);
                std::swap(shape[1], shape[2]);
            }
            (first ? halves[hf].first : halves[hf].second) = std::move(bytes);
            (first ? half_shapes[hf].first : half_shapes[hf].second) = shape;
            auto& [a, b] = halves[hf];
            if (a.empty() || b.empty()) continue;
            // Both parts: joined along dimension 1 ([n, r1, c] and [n, r2, c] → [n, r1 + r2, c]).
            const auto& [sa, sb] = half_shapes[hf];
            std::vector<uint8_t> joined;
            const size_t pa = a.size() / size_t(sa[0]), pb = b.size() / size_t(sb[0]);
            for (int64_t i = 0; i < sa[0]; ++i) {
                joined.insert(joined.end(), a.begin() + std::ptrdiff_t(size_t(i) * pa),
                              a.begin() + std::ptrdiff_t(size_t(i + 1) * pa));
                joined.insert(joined.end(), b.begin() + std::ptrdiff_t(size_t(i) * pb),
                              b.begin() + std::ptrdiff_t(size_t(i + 1) * pb));
            }
            std::vector<int64_t> js = {sa[0], sa[1] + sb[1], sa[2]};
            if (name->layout == Layout::kv_b_first || name->layout == Layout::kv_b_second)
                js = {sa[0] * (sa[1] + sb[1]), sa[2]};  // kv_b_proj is 2-D
            const size_t shard = size_t(n++ % shards);
            files[shard].add(hf, safetensors_dtype(t.type), js, std::move(joined));
            weight_map[hf] = fmt::format("model-{:05d}-of-{:05d}.safetensors", shard + 1, shards);
            continue;
        }
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
        if (name->layout == Layout::row) shape.insert(shape.begin(), 1);
        files[shard].add(hf, safetensors_dtype(t.type), shape, std::move(bytes));
        if (!(tie == Tie::head && tied_head_dropped && std::string(t.name) == "output.weight"))
            converted.add_tensor(std::string(t.name), t.type, t.shape, std::move(gguf_bytes));
        weight_map[hf] = fmt::format("model-{:05d}-of-{:05d}.safetensors", shard + 1, shards);
    }
    if (tie == Tie::head && !g->tensor("output.weight")) {
        // A head of its own: the embedding halved (exact in f32).
        const formats::TensorInfo* e = g->tensor("token_embd.weight");
        EXPECT_EQ(e->type, DType::f32);
        std::vector<float> head = floats(*e);
        for (float& x : head) x *= 0.5f;
        std::vector<uint8_t> bytes(head.size() * 4);
        std::memcpy(bytes.data(), head.data(), bytes.size());
        files[0].add("lm_head.weight", "F32", e->shape, bytes);
        weight_map["lm_head.weight"] = fmt::format("model-{:05d}-of-{:05d}.safetensors", 1, shards);
        if (!tied_head_dropped) converted.add_tensor("output.weight", DType::f32, e->shape, std::move(bytes));
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
std::vector<float> logits_of(const std::string& path, const std::string& quantize = "") {
    LoadOptions lo;
    lo.quantize = quantize;
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
    if ((*m)->diffusion()) {  // no cache: one bidirectional pass over the whole sequence
        auto all = (*s)->stateless(tokens);
        EXPECT_TRUE(all.ok()) << all.error().message();
        if (!all.ok()) return {};
        return std::vector<float>(all->row<float>(0), all->row<float>(0) + 15 * V);
    }
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
        if ((x.spec.empty() ? x.name : x.spec) == family) f = x;
    const std::string tag = fmt::format("{}-{}-{}", family, type, shards);
    const Written w = write_hf(f, test::synth_model(f.spec.empty() ? f.name : f.spec, type), tag, shards);
    const std::vector<float> from_gguf = logits_of(w.gguf), from_dir = logits_of(w.dir);
    ASSERT_FALSE(from_gguf.empty());
    ASSERT_EQ(from_gguf.size(), from_dir.size());
    EXPECT_EQ(std::memcmp(from_gguf.data(), from_dir.data(), from_gguf.size() * 4), 0) << tag;
}

INSTANTIATE_TEST_SUITE_P(Families, HfDirectory,
                         ::testing::Combine(::testing::Values("llama", "qwen2", "qwen3", "gemma3", "qwen3moe",
                                                              "qwen2moe", "qwen35", "qwen35moe", "deepseek2",
                                                              "deepseek2lite", "llada", "gemma4", "gemma4moe",
                                                              "lladamoe"),
                                            ::testing::Values("f32", "bf16"), ::testing::Values(1, 3)),
                         [](const auto& info) {
                             return fmt::format("{}_{}_{}file", std::get<0>(info.param), std::get<1>(info.param),
                                                std::get<2>(info.param));
                         });

// tie_word_embeddings (vision-and-safetensors §2.4): without an lm_head the head is the embedding; with one, the
// converter writes it as output.weight (llama, qwen, Gemma 3 and 4: the converter's Gemma3Model keeps it) except
// DeepSeek's, which drops a tied head (conversion/deepseek.py). Logits equal the converted GGUF's bit for bit.
class HfTied : public ::testing::TestWithParam<std::tuple<std::string, Tie>> {};

TEST_P(HfTied, HeadAsTheConverterWritesIt) {
    const auto& [spec, tie] = GetParam();
    Family f;
    for (const Family& x : families())
        if ((x.spec.empty() ? x.name : x.spec) == spec) f = x;
    const std::string tag = fmt::format("tied-{}-{}", spec, tie == Tie::head ? "head" : "no-head");
    const Written w = write_hf(f, test::synth_model(spec, "f32"), tag, 1, tie, f.name == "deepseek2");
    auto want = formats::GgufFile::open(w.gguf);
    ASSERT_TRUE(want.ok());
    EXPECT_EQ(want->tensor("output.weight") != nullptr, tie == Tie::head && f.name != "deepseek2");
    const std::vector<float> from_gguf = logits_of(w.gguf), from_dir = logits_of(w.dir);
    ASSERT_FALSE(from_gguf.empty());
    ASSERT_EQ(from_gguf.size(), from_dir.size());
    EXPECT_EQ(std::memcmp(from_gguf.data(), from_dir.data(), from_gguf.size() * 4), 0) << tag;
}

INSTANTIATE_TEST_SUITE_P(
    Heads, HfTied,
    ::testing::Values(std::make_tuple("llama", Tie::no_head), std::make_tuple("llama", Tie::head),
                      std::make_tuple("qwen3moe", Tie::no_head), std::make_tuple("gemma3", Tie::head),
                      std::make_tuple("gemma4moe", Tie::head), std::make_tuple("deepseek2", Tie::no_head),
                      std::make_tuple("deepseek2", Tie::head)),
    [](const auto& info) {
        return fmt::format("{}_{}", std::get<0>(info.param), std::get<1>(info.param) == Tie::head ? "head" : "no_head");
    });

// Linear RoPE scaling in config.json (rope_scaling or rope_parameters, Gemma 3's split into full_attention and
// sliding_attention; `type` or `rope_type`), where the family's GGUF keys support it: the converter (TextModel)
// writes rope.scaling.type "linear" and the factor. longrope (which needs factor tensors) stays refused.
TEST(HfRopeScaling, LinearAsTheConverterWritesIt) {
    struct Case {
        std::string spec;
        float factor;
        std::function<void(json&, const std::string&)> set;  // config.json with this rope type
    };
    const std::vector<Case> cases = {
        {"llada", 2,
         [](json& c, const std::string& t) {
             c["rope_scaling"] = {{"type", t}, {"factor", 2.0}};
         }},
        {"lladamoe", 2,
         [](json& c, const std::string& t) {
             c["rope_parameters"] = {{"rope_type", t}, {"factor", 2.0}, {"rope_theta", c["rope_theta"]}};
         }},
        {"gemma3", 8,
         [](json& c, const std::string& t) {
             c["rope_scaling"] = {{"rope_type", t}, {"factor", 8.0}};
         }},
        {"llama", 4,
         [](json& c, const std::string& t) {
             c["rope_scaling"] = {{"rope_type", t}, {"factor", 4}};  // an integer: the converter writes an f32
         }},
        {"qwen2", 2,
         [](json& c, const std::string& t) {
             c["rope_scaling"] = {{"type", t}, {"factor", 2.0}};
         }},
        {"qwen3moe", 2,
         [](json& c, const std::string& t) {
             c["rope_parameters"] = {{"type", t}, {"factor", 2.0}};
         }},
        {"deepseek2", 4,
         [](json& c, const std::string& t) {
             c["rope_scaling"] = {{"type", t}, {"factor", 4.0}};
         }},
        {"gemma3", 8,  // transformers 5
         [](json& c, const std::string& t) {
             c["rope_parameters"] = {{"full_attention",
                                      {{"rope_type", t}, {"factor", 8.0}, {"rope_theta", c["rope_theta"]}}},
                                     {"sliding_attention",
                                      {{"rope_type", "default"}, {"rope_theta", c["rope_local_base_freq"]}}}};
             c.erase("rope_theta");
             c.erase("rope_local_base_freq");
         }},
    };
    int n = 0;
    for (const Case& k : cases) {
        const std::string tag = fmt::format("rope-{}-{}", k.spec, n++);
        Family f;
        for (const Family& x : families())
            if ((x.spec.empty() ? x.name : x.spec) == k.spec) f = x;
        const Written w = write_hf(f, test::synth_model(k.spec, "f32"), tag, 1);
        const json plain_config = json::parse(std::ifstream(w.dir + "/config.json"));
        json config = plain_config;
        k.set(config, "linear");
        std::ofstream(w.dir + "/config.json") << config.dump();

        auto g = formats::GgufFile::open(w.gguf);
        ASSERT_TRUE(g.ok());
        formats::GgufWriter scaled;
        for (const formats::MetaEntry& e : g->metadata()) scaled.set(std::string(e.key), e.to_owned());
        scaled.set(f.name + ".rope.scaling.type", std::string("linear"));
        scaled.set(f.name + ".rope.scaling.factor", k.factor);
        for (const formats::TensorInfo& t : g->tensors())
            scaled.add_tensor(std::string(t.name), t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.bytes));
        const std::string path = test::scratch_path(tag + "-scaled.gguf");
        ASSERT_TRUE(scaled.write(path).ok());

        const std::vector<float> plain = logits_of(w.gguf), want = logits_of(path), got = logits_of(w.dir);
        ASSERT_FALSE(want.empty());
        ASSERT_EQ(want.size(), got.size());
        EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * 4), 0) << tag;
        EXPECT_NE(std::memcmp(want.data(), plain.data(), want.size() * 4), 0) << tag << ": the scaling changed nothing";

        auto dir = open_hf_directory(w.dir);
        ASSERT_TRUE(dir.ok());
        auto factor = dir->get<float>(f.name + ".rope.scaling.factor");  // strict: an f32, as the converter writes
        ASSERT_TRUE(factor.ok()) << tag << ": " << factor.error().message();
        EXPECT_EQ(*factor, k.factor) << tag;

        config = plain_config;
        k.set(config, "longrope");
        std::ofstream(w.dir + "/config.json") << config.dump();
        auto bad = open_hf_directory(w.dir);
        ASSERT_FALSE(bad.ok()) << tag;
        EXPECT_NE(bad.error().message().find("= \"longrope\": RoPE scaling other than linear"), std::string::npos)
            << bad.error().message();
    }
}

// The metadata of a directory (or file) as owned values, by key.
std::map<std::string, formats::GgufValue> metadata_of(const formats::GgufFile& g) {
    std::map<std::string, formats::GgufValue> out;
    for (const formats::MetaEntry& e : g.metadata()) out[std::string(e.key)] = e.to_owned();
    return out;
}

// YaRN in config.json, for the families whose GGUF keys loom reads for it: the keys TextModel writes (conversion/
// base.py: type, factor and original context; extrapolation_factor, attention_factor (or attn_factor), beta_fast
// and beta_slow when given; from rope_parameters, else rope_scaling, `type` read as rope_type, the original context
// also from the top level) and DeepseekV2Model's 0.1 × mscale_all_dim log multiplier, each with the type the
// converter writes. Logits equal a GGUF with exactly those keys, bit for bit, and differ from the unscaled ones.
TEST(HfRopeScaling, YarnAsTheConverterWritesIt) {
    using V = formats::GgufValue;
    struct Case {
        std::string spec;
        std::function<void(json&)> set;
        std::vector<std::pair<std::string, V>> keys;  // after "<arch>.rope.scaling."
    };
    const std::vector<Case> cases = {
        {"llama",
         [](json& c) {
             c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 8}};
         },
         {{"type", V(std::string("yarn"))}, {"factor", V(4.0f)}, {"original_context_length", V(uint32_t(8))}}},
        {"qwen2",
         [](json& c) {  // Qwen2.5's model card
             c["rope_scaling"] = {{"type", "yarn"}, {"factor", 4}, {"original_max_position_embeddings", 8}};
         },
         {{"type", V(std::string("yarn"))}, {"factor", V(4.0f)}, {"original_context_length", V(uint32_t(8))}}},
        {"qwen3",
         [](json& c) {
             c["rope_parameters"] = {{"rope_type", "yarn"},
                                     {"factor", 2.0},
                                     {"rope_theta", c["rope_theta"]},
                                     {"original_max_position_embeddings", 6},
                                     {"beta_fast", 16.0},
                                     {"beta_slow", 2},
                                     {"extrapolation_factor", 1.0},
                                     {"attention_factor", 1.25}};
             c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 8.0}};  // not read: rope_parameters wins
         },
         {{"type", V(std::string("yarn"))},
          {"factor", V(2.0f)},
          {"original_context_length", V(uint32_t(6))},
          {"yarn_ext_factor", V(1.0f)},
          {"yarn_attn_factor", V(1.25f)},
          {"yarn_beta_fast", V(16.0f)},
          {"yarn_beta_slow", V(2.0f)}}},
        {"qwen2moe",
         [](json& c) {  // the original context from the top level
             c["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}, {"attn_factor", 0.5}};
             c["original_max_position_embeddings"] = 8;
         },
         {{"type", V(std::string("yarn"))},
          {"factor", V(4.0f)},
          {"original_context_length", V(uint32_t(8))},
          {"yarn_attn_factor", V(0.5f)}}},
        {"qwen3moe",
         [](json& c) {
             c["rope_scaling"] = {{"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 8}};
         },
         {{"type", V(std::string("yarn"))}, {"factor", V(4.0f)}, {"original_context_length", V(uint32_t(8))}}},
        {"llada",
         [](json& c) {
             c["rope_scaling"] = {{"type", "yarn"}, {"factor", 3.0}, {"original_max_position_embeddings", 8}};
         },
         {{"type", V(std::string("yarn"))}, {"factor", V(3.0f)}, {"original_context_length", V(uint32_t(8))}}},
        {"lladamoe",
         [](json& c) {
             c["rope_parameters"] = {{"rope_type", "yarn"},
                                     {"factor", 4.0},
                                     {"rope_theta", c["rope_theta"]},
                                     {"original_max_position_embeddings", 8}};
         },
         {{"type", V(std::string("yarn"))}, {"factor", V(4.0f)}, {"original_context_length", V(uint32_t(8))}}},
        {"deepseek2",
         [](json& c) {  // DeepSeek-V2-Lite's shape of rope_scaling
             c["rope_scaling"] = {{"type", "yarn"},         {"factor", 4.0},  {"original_max_position_embeddings", 8},
                                  {"beta_fast", 32},        {"beta_slow", 1}, {"mscale", 0.707},
                                  {"mscale_all_dim", 0.707}};
         },
         {{"type", V(std::string("yarn"))},
          {"factor", V(4.0f)},
          {"original_context_length", V(uint32_t(8))},
          {"yarn_beta_fast", V(32.0f)},
          {"yarn_beta_slow", V(1.0f)},
          {"yarn_log_multiplier", V(float(0.1 * 0.707))}}},
        {"deepseek2lite",
         [](json& c) {  // DeepSeek-V3's
             c["rope_scaling"] = {{"type", "yarn"},
                                  {"factor", 40},
                                  {"original_max_position_embeddings", 4},
                                  {"mscale", 1.0},
                                  {"mscale_all_dim", 1.0}};
         },
         {{"type", V(std::string("yarn"))},
          {"factor", V(40.0f)},
          {"original_context_length", V(uint32_t(4))},
          {"yarn_log_multiplier", V(float(0.1 * 1.0))}}},
    };
    for (const Case& k : cases) {
        const std::string tag = "yarn-" + k.spec;
        Family f;
        for (const Family& x : families())
            if ((x.spec.empty() ? x.name : x.spec) == k.spec) f = x;
        const Written w = write_hf(f, test::synth_model(k.spec, "f32"), tag, 1);
        const json plain_config = json::parse(std::ifstream(w.dir + "/config.json"));
        json config = plain_config;
        k.set(config);
        std::ofstream(w.dir + "/config.json") << config.dump();

        auto g = formats::GgufFile::open(w.gguf);
        ASSERT_TRUE(g.ok());
        formats::GgufWriter scaled;
        for (const formats::MetaEntry& e : g->metadata()) scaled.set(std::string(e.key), e.to_owned());
        for (const auto& [key, v] : k.keys) scaled.set(f.name + ".rope.scaling." + key, v);
        for (const formats::TensorInfo& t : g->tensors())
            scaled.add_tensor(std::string(t.name), t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.bytes));
        const std::string path = test::scratch_path(tag + "-scaled.gguf");
        ASSERT_TRUE(scaled.write(path).ok());

        // The directory's rope.scaling keys are exactly the converter's, with its types.
        auto dir = open_hf_directory(w.dir);
        ASSERT_TRUE(dir.ok()) << tag << ": " << dir.error().message();
        std::map<std::string, V> got_keys, want_keys;
        for (const auto& [key, v] : metadata_of(*dir))
            if (key.find(".rope.scaling.") != std::string::npos) got_keys[key] = v;
        for (const auto& [key, v] : k.keys) want_keys[f.name + ".rope.scaling." + key] = v;
        EXPECT_EQ(got_keys.size(), want_keys.size()) << tag;
        for (const auto& [key, v] : want_keys) {
            ASSERT_TRUE(got_keys.count(key)) << tag << ": no " << key;
            EXPECT_EQ(got_keys[key].index(), v.index()) << tag << ": " << key << " has another type";
            EXPECT_TRUE(got_keys[key] == v) << tag << ": " << key;
        }

        const std::vector<float> plain = logits_of(w.gguf), want = logits_of(path), got = logits_of(w.dir);
        ASSERT_FALSE(want.empty());
        ASSERT_EQ(want.size(), got.size());
        EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * 4), 0) << tag;
        EXPECT_NE(std::memcmp(want.data(), plain.data(), want.size() * 4), 0) << tag << ": the scaling changed nothing";

        // The converter cannot write YaRN without the original context (a KeyError); loom says which key.
        for (const char* table : {"rope_scaling", "rope_parameters"})
            if (config.contains(table)) config[table].erase("original_max_position_embeddings");
        config.erase("original_max_position_embeddings");
        std::ofstream(w.dir + "/config.json") << config.dump();
        auto bad = open_hf_directory(w.dir);
        ASSERT_FALSE(bad.ok()) << tag;
        EXPECT_NE(bad.error().message().find("config.json: the value of " + f.name +
                                             ".rope.scaling.original_context_length: "),
                  std::string::npos)
            << bad.error().message();
        EXPECT_NE(bad.error().message().find("rope_scaling type yarn needs original_max_position_embeddings"),
                  std::string::npos)
            << bad.error().message();
    }
}

// llama3 RoPE scaling (conversion/llama.py, LlamaModel.generate_extra_tensors): the rope_freqs.weight loom generates
// from config.json equals, bit for bit, what the converter's own code made with torch (tests/data/hf/
// llama3_rope_freqs.json, tools/record_llama3_rope_freqs.py) for the released Llama 3.1 8B and 3.2 1B / 3B values
// and for the synthetic llama's head with a short original context and with the converter's defaults. A directory
// with it gives the logits of the GGUF holding the converter's tensor, bit for bit, and not the unscaled ones.
TEST(HfLlama3Rope, RopeFreqsAreTheConvertersBits) {
    const json ref = json::parse(std::ifstream(test::data_dir() + "/hf/llama3_rope_freqs.json"));
    ASSERT_EQ(ref["cases"].size(), 5u);
    Family f;
    for (const Family& x : families())
        if (x.name == "llama") f = x;
    const Written w = write_hf(f, test::synth_model("llama", "f32"), "llama3-rope", 1);
    const json plain_config = json::parse(std::ifstream(w.dir + "/config.json"));
    ASSERT_FALSE(plain_config.contains("head_dim"));  // the synthetic head: hidden_size / num_attention_heads (64)
    auto bits_of = [](const json& c) {
        std::vector<uint32_t> out;
        for (const json& h : c["bits"]) out.push_back(uint32_t(std::stoul(h.get<std::string>(), nullptr, 16)));
        return out;
    };
    for (const json& c : ref["cases"]) {
        const std::string name = c["name"].get<std::string>();
        json config = plain_config;
        const json& h = c["config"];
        // The head size as the converter finds it; the synthetic tensors keep their shapes (only metadata is read).
        const int64_t dim = h.contains("head_dim")
                                ? h["head_dim"].get<int64_t>()
                                : h["hidden_size"].get<int64_t>() / h["num_attention_heads"].get<int64_t>();
        if (dim != 64) config["head_dim"] = dim;
        config["rope_theta"] = h["rope_theta"];
        config["rope_scaling"] = c["rope_scaling"];
        std::ofstream(w.dir + "/config.json") << config.dump();
        auto dir = open_hf_directory(w.dir);
        ASSERT_TRUE(dir.ok()) << name << ": " << dir.error().message();
        const formats::TensorInfo* t = dir->tensor("rope_freqs.weight");
        ASSERT_NE(t, nullptr) << name;
        ASSERT_EQ(t->type, DType::f32);
        const std::vector<uint32_t> want = bits_of(c);
        ASSERT_EQ(t->n_elements(), int64_t(want.size())) << name;
        for (size_t i = 0; i < want.size(); ++i) {
            uint32_t got = 0;
            std::memcpy(&got, t->data + 4 * i, 4);
            EXPECT_EQ(got, want[i]) << name << " pair " << i;
        }
    }

    // The synthetic llama with the converter's tensor, against the directory.
    const json& c = ref["cases"][3];
    ASSERT_EQ(c["name"], "synth-llama");
    json config = plain_config;
    config["rope_scaling"] = c["rope_scaling"];
    std::ofstream(w.dir + "/config.json") << config.dump();
    auto g = formats::GgufFile::open(w.gguf);
    ASSERT_TRUE(g.ok());
    formats::GgufWriter scaled;
    for (const formats::MetaEntry& e : g->metadata()) scaled.set(std::string(e.key), e.to_owned());
    for (const formats::TensorInfo& t : g->tensors())
        scaled.add_tensor(std::string(t.name), t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.bytes));
    const std::vector<uint32_t> bits = bits_of(c);
    std::vector<uint8_t> bytes(bits.size() * 4);
    std::memcpy(bytes.data(), bits.data(), bytes.size());
    scaled.add_tensor("rope_freqs.weight", DType::f32, {int64_t(bits.size())}, std::move(bytes));
    const std::string path = test::scratch_path("llama3-rope-scaled.gguf");
    ASSERT_TRUE(scaled.write(path).ok());
    const std::vector<float> plain = logits_of(w.gguf), want = logits_of(path), got = logits_of(w.dir);
    ASSERT_FALSE(want.empty());
    ASSERT_EQ(want.size(), got.size());
    EXPECT_EQ(std::memcmp(want.data(), got.data(), want.size() * 4), 0);
    EXPECT_NE(std::memcmp(want.data(), plain.data(), want.size() * 4), 0) << "the scaling changed nothing";

    // Without llama3 scaling there is no tensor; a factor that is not a number is an error naming the tensor.
    config = plain_config;
    config["rope_scaling"] = {{"rope_type", "default"}};
    std::ofstream(w.dir + "/config.json") << config.dump();
    auto none = open_hf_directory(w.dir);
    ASSERT_TRUE(none.ok()) << none.error().message();
    EXPECT_EQ(none->tensor("rope_freqs.weight"), nullptr);
    config["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", "eight"}};
    std::ofstream(w.dir + "/config.json") << config.dump();
    auto bad = open_hf_directory(w.dir);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("config.json: [hf.generated] 'rope_freqs.weight'"), std::string::npos)
        << bad.error().message();
    EXPECT_NE(bad.error().message().find("f32() needs a number"), std::string::npos) << bad.error().message();
}

// --quantize: the type llama-quantize gives a tensor for a plain target type, written here from llama.cpp's
// src/llama-quant.cpp (not from loom's rule): 2-D and 3-D weights but norms, routers and ssm_conv1d; output.weight
// (token_embd when tied) q6_k unless the target is q8_0; rows the type's blocks do not divide fall back
// (q4_k → q5_0, q6_k → q8_0, ..., then f16).
DType llama_quantize_type(const std::string& name, const std::vector<int64_t>& shape, DType stored, DType target,
                          bool tied) {
    auto has = [&](const char* part) { return name.find(part) != std::string::npos; };
    if (shape.size() < 2 || name.size() < 6 || name.substr(name.size() - 6) != "weight" || has("_norm.weight") ||
        has("ffn_gate_inp.weight") || has("ssm_conv1d") || has("per_layer_model_proj"))
        return stored;
    const int64_t row = shape.back();
    auto fits = [&](DType t) { return row % info(t).block_elems == 0; };
    DType want = target;
    if (name == "output.weight" || (tied && (name == "token_embd.weight" || name == "per_layer_token_embd.weight")))
        want = !fits(target) || target == DType::q8_0 ? DType::q8_0 : DType::q6_k;
    if (fits(want)) return want;
    const std::map<DType, DType> next = {{DType::q4_k, DType::q5_0},
                                         {DType::q5_k, DType::q5_1},
                                         {DType::q6_k, DType::q8_0},
                                         {DType::q2_k, DType::q4_0},
                                         {DType::q3_k, DType::q4_0}};
    const auto n = next.find(want);
    return n != next.end() && fits(n->second) ? n->second : DType::f16;
}

// The GGUF loom would load after quantizing the converted file tensor by tensor to those types.
std::string quantized_gguf(const std::string& src, DType target, const std::string& out) {
    auto g = formats::GgufFile::open(src);
    EXPECT_TRUE(g.ok());
    formats::GgufWriter w;
    for (const formats::MetaEntry& e : g->metadata()) w.set(std::string(e.key), e.to_owned());
    const bool tied = g->tensor("output.weight") == nullptr;
    for (const formats::TensorInfo& t : g->tensors()) {
        const DType to = llama_quantize_type(std::string(t.name), t.shape, t.type, target, tied);
        if (to == t.type) {
            w.add_tensor(std::string(t.name), t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.bytes));
            continue;
        }
        const int64_t row = t.shape.back(), rows = t.n_elements() / row;
        std::vector<float> x(static_cast<size_t>(row));
        std::vector<uint8_t> q(size_t(rows * row_bytes(to, row)));
        for (int64_t r = 0; r < rows; ++r) {
            EXPECT_TRUE(kernels::ref::dequantize_row(t.type, t.data + r * row_bytes(t.type, row), x.data(), row).ok());
            EXPECT_TRUE(kernels::ref::quantize_row(to, x.data(), q.data() + r * row_bytes(to, row), row).ok());
        }
        w.add_tensor(std::string(t.name), to, t.shape, std::move(q));
    }
    EXPECT_TRUE(w.write(out).ok());
    return out;
}

Family family(const std::string& name);

class HfQuantize : public ::testing::TestWithParam<std::tuple<std::string, std::string, std::string>> {};

// -m DIR --quantize T gives the tensor types llama-quantize would, and the logits of the GGUF quantized so.
TEST_P(HfQuantize, EqualsTheGgufQuantizedTheSameWay) {
    const auto& [spec, type, quant] = GetParam();
    Family f;
    for (const Family& x : families())
        if ((x.spec.empty() ? x.name : x.spec) == spec) f = x;
    const std::string tag = fmt::format("q-{}-{}-{}", spec, type, quant);
    const Written w = write_hf(f, test::synth_model(spec, type), tag, 1);
    const DType target = *dtype_from_name(quant);
    const std::string gguf = quantized_gguf(w.gguf, target, test::scratch_path(tag + "-quantized.gguf"));

    auto dir = open_hf_directory(w.dir, "", formats::LoadMode::map, quant);
    ASSERT_TRUE(dir.ok()) << dir.error().message();
    auto want = formats::GgufFile::open(gguf);
    ASSERT_TRUE(want.ok());
    int quantized = 0;
    for (const formats::TensorInfo& t : want->tensors()) {
        const formats::TensorInfo* got = dir->tensor(t.name);
        ASSERT_NE(got, nullptr) << t.name;
        EXPECT_EQ(name(got->type), name(t.type)) << t.name;
        quantized += t.type != DType::f32 && t.type != DType::bf16;
    }
    EXPECT_GT(quantized, 5);
    const std::vector<float> from_gguf = logits_of(gguf), from_dir = logits_of(w.dir, quant);
    ASSERT_FALSE(from_gguf.empty());
    ASSERT_EQ(from_gguf.size(), from_dir.size());
    EXPECT_EQ(std::memcmp(from_gguf.data(), from_dir.data(), from_gguf.size() * 4), 0) << tag;
}

INSTANTIATE_TEST_SUITE_P(
    Types, HfQuantize,
    ::testing::Values(std::make_tuple("llama", "bf16", "q4_k"), std::make_tuple("llama", "f32", "q8_0"),
                      std::make_tuple("qwen35", "bf16", "q6_k"), std::make_tuple("deepseek2", "bf16", "q4_k"),
                      std::make_tuple("qwen3moe", "f32", "q4_0"), std::make_tuple("gemma4", "bf16", "q4_k"),
                      std::make_tuple("lladamoe", "f32", "q8_0")),
    [](const auto& info) {
        return fmt::format("{}_{}_{}", std::get<0>(info.param), std::get<1>(info.param), std::get<2>(info.param));
    });

TEST(HfQuantizeErrors, NameTheProblem) {
    const Written w = write_hf(family("qwen2"), test::synth_model("qwen2", "f32"), "qerrors", 1);
    auto bad = open_hf_directory(w.dir, "", formats::LoadMode::map, "q9_9");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("--quantize q9_9: not a type loom quantizes weights to"), std::string::npos)
        << bad.error().message();
    auto gguf = open_model_file(w.gguf, "", formats::LoadMode::map, {}, "q8_0");
    ASSERT_FALSE(gguf.ok());
    EXPECT_NE(gguf.error().message().find("--quantize applies to Hugging Face directories"), std::string::npos);
}

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

// The tokenizer a directory loads with: a family with [hf] sentencepiece reads tokenizer.model before
// tokenizer.json (sentencepiece's test model, tests/data/tokenizer/spm/), padded to config.json's vocab_size; a family
// without it keeps reading tokenizer.json; a broken tokenizer.model is an error naming the file and field.
TEST(HfDirectoryTokenizer, SentencePieceWhereTheFamilyPrefersIt) {
    auto tokens_of = [](const std::string& dir) -> std::vector<std::string> {
        auto f = open_hf_directory(dir);
        EXPECT_TRUE(f.ok()) << f.error().message();
        if (!f.ok()) return {};
        auto model = f->get_string("tokenizer.ggml.model");
        auto t = f->get_string_array("tokenizer.ggml.tokens");
        if (!model.ok() || !t.ok()) return {};
        std::vector<std::string> out{std::string(*model)};
        for (std::string_view x : *t) out.emplace_back(x);
        return out;
    };
    const std::string spm = test::data_dir() + "/tokenizer/spm/dir/tokenizer.model";
    const std::string bpe = test::data_dir() + "/../fuzz/corpus/hf_vocab/seed_llama3";
    for (const char* name : {"llama", "gemma3", "qwen2"}) {
        const Written w = write_hf(family(name), test::synth_model(name, "f32"), std::string("tok-") + name, 1);
        fs::copy_file(spm, w.dir + "/tokenizer.model");
        fs::copy_file(bpe, w.dir + "/tokenizer.json");
        const json config = json::parse(std::ifstream(w.dir + "/config.json"));
        const auto n_vocab = config.contains("vocab_size") ? config["vocab_size"].get<size_t>()
                                                           : config["text_config"]["vocab_size"].get<size_t>();
        const std::vector<std::string> t = tokens_of(w.dir);
        ASSERT_EQ(t.size(), 1 + n_vocab) << name;
        const bool spm = std::string(name) != "qwen2";
        EXPECT_EQ(t[0], spm ? "llama" : "gpt2") << name;
        if (spm) {
            EXPECT_EQ(t[1], "<unk>");
            EXPECT_EQ(t[1 + 7], "\xE2\x96\x81the");
        }
        // gemma3's converter writes add_space_prefix = false; llama's leaves it to tokenizer_config.json (none here).
        auto f = open_hf_directory(w.dir);
        ASSERT_TRUE(f.ok());
        auto prefix = f->get<bool>("tokenizer.ggml.add_space_prefix");
        EXPECT_EQ(prefix.ok(), std::string(name) == "gemma3") << name;
        if (prefix.ok()) EXPECT_FALSE(*prefix);
        if (std::string(name) != "llama") continue;
        std::ofstream(w.dir + "/tokenizer.model", std::ios::binary) << std::string("\x0a\x05\x0a\x01", 4);
        auto bad = open_hf_directory(w.dir);
        ASSERT_FALSE(bad.ok());
        EXPECT_NE(bad.error().message().find("tokenizer.model: ModelProto @0x1: field 1: length 5 runs past"),
                  std::string::npos)
            << bad.error().message();
    }
}

// CodeLlama (config.json vocab_size 32016): llama's set_vocab runs gguf-py's SpecialVocab again over the FIM types
// prefix/suffix/middle/eot with the fallback ids 32007-32010 (conversion/llama.py). The pinned gguf-py has a writer
// only for eot, so the file gets tokenizer.ggml.eot_token_id: tokenizer_config.json's eot_token among tokenizer.json's
// added tokens, else config.json's eot_token_id, else 32010; and no prefix/suffix/middle keys.
TEST(HfDirectoryTokenizer, CodeLlamaEotAsTheConverterSetsIt) {
    const Written w = write_hf(family("llama"), test::synth_model("llama", "f32"), "codellama", 1);
    fs::copy_file(test::data_dir() + "/tokenizer/spm/dir/tokenizer.model", w.dir + "/tokenizer.model");
    const json plain = json::parse(std::ifstream(w.dir + "/config.json"));
    auto eot_of = [&](const json& config) -> std::optional<uint32_t> {
        std::ofstream(w.dir + "/config.json") << config.dump();
        auto f = open_hf_directory(w.dir);
        EXPECT_TRUE(f.ok()) << f.error().message();
        if (!f.ok()) return std::nullopt;
        for (const char* k :
             {"tokenizer.ggml.prefix_token_id", "tokenizer.ggml.suffix_token_id", "tokenizer.ggml.middle_token_id"})
            EXPECT_FALSE(f->has(k)) << k;
        auto eot = f->get<uint32_t>("tokenizer.ggml.eot_token_id");
        return eot.ok() ? std::optional<uint32_t>(*eot) : std::nullopt;
    };
    json config = plain;
    config["vocab_size"] = 32016;
    EXPECT_EQ(eot_of(config), 32010u);
    config["vocab_size"] = 32000;
    EXPECT_EQ(eot_of(config), std::nullopt);

    config["vocab_size"] = 32016;
    config["eot_token_id"] = 9;
    EXPECT_EQ(eot_of(config), 9u);
    std::ofstream(w.dir + "/tokenizer_config.json") << json{{"eot_token", "<x>"}}.dump();
    std::ofstream(w.dir + "/tokenizer.json") << json{{"added_tokens", {{{"id", 5}, {"content", "<x>"}}}}}.dump();
    EXPECT_EQ(eot_of(config), 5u);

    config["eot_token_id"] = -1;
    std::ofstream(w.dir + "/tokenizer.json") << json{{"added_tokens", json::array()}}.dump();
    std::ofstream(w.dir + "/config.json") << config.dump();
    auto bad = open_hf_directory(w.dir);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("invalid value for special token type eot: -1"), std::string::npos)
        << bad.error().message();
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

// Values computed from config.json: a wrong type is an error naming the key; absent inputs give the defaults.
TEST(HfDirectoryErrors, ComputedConfigValues) {
    const Written w = write_hf(family("qwen35"), test::synth_model("qwen35", "f32"), "computed", 1);
    json config = json::parse(std::ifstream(w.dir + "/config.json"));
    config["text_config"]["layer_types"] = 5;
    std::ofstream(w.dir + "/config.json") << config.dump();
    auto bad = open_hf_directory(w.dir);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("config.json: the value of qwen35.attention.recurrent_layers: "
                                         "'each_eq('layer_types', 'linear_attention')': each_eq(): config.json "
                                         "'layer_types' is not an array"),
              std::string::npos)
        << bad.error().message();
    config["text_config"].erase("layer_types");
    config["text_config"].erase("rope_parameters");
    std::ofstream(w.dir + "/config.json") << config.dump();
    auto ok = open_hf_directory(w.dir);
    ASSERT_TRUE(ok.ok()) << ok.error().message();
    EXPECT_FALSE(ok->has("qwen35.attention.recurrent_layers"));
    EXPECT_EQ(*ok->get_int("qwen35.rope.dimension_count"), 32);  // head_dim 128 × the default 0.25
    auto sections = ok->get_array<int32_t>("qwen35.rope.dimension_sections");
    ASSERT_TRUE(sections.ok());
    ASSERT_EQ(sections->size(), 4u);
    EXPECT_EQ((std::vector<int32_t>{(*sections)[0], (*sections)[1], (*sections)[2], (*sections)[3]}),
              (std::vector<int32_t>{11, 11, 10, 0}));
    EXPECT_EQ(*ok->get_float("qwen35.rope.freq_base"), 10000.0);  // rope_theta absent: the default
}

// Gemma 4's values computed from config.json: the per-layer keys, the generated rope_freqs (the converter's
// 1 / 1e30 factors), their defaults, and the rope types llama.cpp's converter does not take.
TEST(HfDirectoryGemma4, PerLayerKeysAndGeneratedRopeFreqs) {
    Family f;
    for (const Family& x : families())
        if (x.spec == "gemma4moe") f = x;
    const std::string src = test::synth_model("gemma4moe", "f32");
    const Written w = write_hf(f, src, "gemma4-values", 1);
    auto want = formats::GgufFile::open(src);
    ASSERT_TRUE(want.ok());
    auto dir = open_hf_directory(w.dir);
    ASSERT_TRUE(dir.ok()) << dir.error().message();
    auto ints = [&](const formats::GgufFile& g, const std::string& key) {
        auto a = g.get_array<int32_t>(key);
        EXPECT_TRUE(a.ok()) << key;
        return a.ok() ? a->to_vector() : std::vector<int32_t>{};
    };
    EXPECT_EQ(ints(*dir, "gemma4.attention.head_count_kv"), ints(*want, "gemma4.attention.head_count_kv"));
    EXPECT_EQ(ints(*dir, "gemma4.feed_forward_length"), ints(*want, "gemma4.feed_forward_length"));
    EXPECT_EQ(ints(*dir, "gemma4.attention.sliding_window_pattern"), (std::vector<int32_t>{1, 0, 1, 0}));
    EXPECT_EQ(*dir->get_int("gemma4.embedding_length_per_layer_input"), 0);  // null in config.json
    EXPECT_EQ(*dir->get_int("gemma4.rope.dimension_count_swa"), 128);
    const formats::TensorInfo* got = dir->tensor("rope_freqs.weight");
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(got->shape, want->tensor("rope_freqs.weight")->shape);
    EXPECT_EQ(std::memcmp(got->data, want->tensor("rope_freqs.weight")->data, got->bytes), 0);
    auto report = dir->get_string_array(kHfTransformsKey);
    ASSERT_TRUE(report.ok());
    bool generated = false;
    for (std::string_view line : *report) generated = generated || line.find("rope_freqs.weight ← generated: 128") == 0;
    EXPECT_TRUE(generated);

    json config = json::parse(std::ifstream(w.dir + "/config.json"));
    const json good = config;
    auto expect_error = [&](const std::string& what, const std::string& part) {
        std::ofstream(w.dir + "/config.json") << config.dump();
        auto bad = open_hf_directory(w.dir);
        ASSERT_FALSE(bad.ok()) << what;
        EXPECT_NE(bad.error().message().find(part), std::string::npos) << what << ": " << bad.error().message();
        config = good;
    };
    config["rope_parameters"]["full_attention"]["rope_type"] = "yarn";
    expect_error("full rope type", "'rope_parameters.full_attention.rope_type' = \"yarn\": llama.cpp's Gemma 4");
    config["rope_parameters"]["sliding_attention"]["rope_type"] = "linear";
    expect_error("sliding rope type", "'rope_parameters.sliding_attention.rope_type' = \"linear\"");
    config["rope_parameters"]["full_attention"]["partial_rotary_factor"] = "a quarter";
    expect_error("bad factor", "[hf.generated] 'rope_freqs.weight'");

    // Without layer_types: transformers' default, 5 sliding layers to 1 full, the last one full.
    config.erase("layer_types");
    std::ofstream(w.dir + "/config.json") << config.dump();
    auto defaults = open_hf_directory(w.dir);
    ASSERT_TRUE(defaults.ok()) << defaults.error().message();
    EXPECT_EQ(ints(*defaults, "gemma4.attention.sliding_window_pattern"), (std::vector<int32_t>{1, 1, 1, 0}));
    EXPECT_EQ(ints(*defaults, "gemma4.attention.head_count_kv"), (std::vector<int32_t>{2, 2, 2, 1}));
}

}  // namespace
}  // namespace loom::runtime
