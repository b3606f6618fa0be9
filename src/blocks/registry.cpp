// Block kinds by name: the vocabulary architecture files write in `kind = "..."`.
#include <utility>

#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

constexpr std::pair<const char*, BlockFactory> kKinds[] = {
    {"embedding", make_embedding},  // token ids → rows of a table, optionally scaled
    {"rms_norm", make_rms_norm},
    {"layer_norm", make_layer_norm},
    {"l2_norm", make_l2_norm},
    {"attention", make_attention},  // GQA self-attention: QKV, QK-norm, rope, window, soft-cap, KV cache
    {"ffn_glu", make_ffn_glu},      // gated feed-forward (SwiGLU, GeGLU)
    {"moe", make_moe},              // mixture of experts: router, top-k, expert FFNs, optional shared expert
    {"gated_delta_net", make_gated_delta_net},  // linear attention with a recurrent state (conv + delta rule)
    {"mla_attention", make_mla_attention},      // multi-head latent attention (absorbed weights, K-only memory)
    {"linear", make_linear},                    // y = W x (+ b): the output head
    {"softcap", make_softcap},                  // y = c · tanh(x / c)
    {"scale", make_scale},                      // y = x · s (a constant, or a one-value weight)
};

}  // namespace

BlockFactory find_kind(const std::string& kind) {
    for (const auto& [name, fn] : kKinds)
        if (kind == name) return fn;
    return nullptr;
}

std::vector<std::string> kinds() {
    std::vector<std::string> out;
    for (const auto& [name, fn] : kKinds) out.emplace_back(name);
    return out;
}

}  // namespace loom::blocks
