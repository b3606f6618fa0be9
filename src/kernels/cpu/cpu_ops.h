// The fast CPU backend: SIMD variants chosen at run time from the CPU's features, threaded over the
// Stream's pool. Each op family lives in its own file; ISA-specific code in x86/avx2/ (own flags).
#pragma once

#include "core/cpu_features.h"
#include "kernels/registry.h"

namespace loom::kernels::cpu {

// The table for this CPU: every op the fast backend implements, each at its widest ISA variant.
OpTable make_op_table(const CpuFeatures& f);

}  // namespace loom::kernels::cpu
