// Placeholder until the matmul family lands: registers nothing, so the table reports it unsupported.
#include "kernels/cpu/register.h"

namespace loom::kernels::cpu {
void register_matmul(OpTable&, const CpuFeatures&) {}
}  // namespace loom::kernels::cpu
