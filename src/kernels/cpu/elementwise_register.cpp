// Placeholder until the elementwise family lands: registers nothing, so the table reports it unsupported.
#include "kernels/cpu/register.h"

namespace loom::kernels::cpu {
void register_elementwise(OpTable&, const CpuFeatures&) {}
}  // namespace loom::kernels::cpu
