// The factories of the registered block kinds (one .cpp each); blocks/registry.cpp names them.
#pragma once

#include "blocks/block.h"

namespace loom::blocks {

std::unique_ptr<Block> make_rms_norm(BindContext& c);
std::unique_ptr<Block> make_layer_norm(BindContext& c);
std::unique_ptr<Block> make_l2_norm(BindContext& c);
std::unique_ptr<Block> make_embedding(BindContext& c);
std::unique_ptr<Block> make_linear(BindContext& c);
std::unique_ptr<Block> make_softcap(BindContext& c);
std::unique_ptr<Block> make_scale(BindContext& c);
std::unique_ptr<Block> make_attention(BindContext& c);
std::unique_ptr<Block> make_ffn_glu(BindContext& c);
std::unique_ptr<Block> make_moe(BindContext& c);
std::unique_ptr<Block> make_gated_delta_net(BindContext& c);
std::unique_ptr<Block> make_mla_attention(BindContext& c);

}  // namespace loom::blocks
