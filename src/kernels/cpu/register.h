// One register function per op family (each in its own file): fills the table entries it implements.
#pragma once

#include "core/cpu_features.h"
#include "kernels/registry.h"

namespace loom::kernels::cpu {

void register_matmul(OpTable& t, const CpuFeatures& f);       // matmul, matmul_id, get_rows
void register_elementwise(OpTable& t, const CpuFeatures& f);  // norm, rope, softmax, unary, binary, scale, glu, top_k,
                                                              // moe_route, weighted_sum
void register_attention(OpTable& t, const CpuFeatures& f);    // attention, conv1d, delta_net

}  // namespace loom::kernels::cpu
