// The fast CPU op table: each op family registers its widest variant for this CPU.
#include "kernels/cpu/cpu_ops.h"

#include "kernels/cpu/register.h"

namespace loom::kernels::cpu {

OpTable make_op_table(const CpuFeatures& f) {
    OpTable t{Backend::cpu, f.avx2_kernels() ? "cpu avx2" : "cpu portable"};
    register_matmul(t, f);
    register_elementwise(t, f);
    register_attention(t, f);
    return t;
}

}  // namespace loom::kernels::cpu
