// The fast CPU backend: SIMD variants chosen at run time from the CPU's features, threaded over the
// Stream's pool. Each op family lives in its own file; ISA-specific code in x86/avx2/ (own flags).
#pragma once

#include <vector>

#include "core/cpu_features.h"
#include "kernels/registry.h"

namespace loom::kernels::cpu {

// Every variant this CPU runs, narrowest first: portable, then avx2 and avx512 where f has them. The last is
// the one the backend uses (op_table); the others are there so that tests check every ISA's kernels.
std::vector<OpTable> make_variants(const CpuFeatures& f);

}  // namespace loom::kernels::cpu
