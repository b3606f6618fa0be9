// One register function per op family (each in its own file): fills the table entries it implements, at the
// ISA variant asked for (cpu_ops.cpp asks only for variants this CPU runs).
#pragma once

#include <cstdint>

#include "kernels/registry.h"

namespace loom::kernels::cpu {

// The CPU variants, narrowest first. A family without kernels of a variant's ISA fills in its widest narrower
// ones (AVX-512 kernels exist for the matmul family only).
enum class CpuIsa : uint8_t { portable, avx2, avx512 };

void register_matmul(OpTable& t, CpuIsa isa);       // matmul, matmul_id, get_rows, pack_weight
void register_elementwise(OpTable& t, CpuIsa isa);  // norm, rope, softmax, unary, binary, scale, glu, top_k,
                                                    // moe_route, weighted_sum
void register_attention(OpTable& t, CpuIsa isa);    // attention, conv1d, delta_net

}  // namespace loom::kernels::cpu
