// The fast CPU op table: each op family registers its widest variant for this CPU.
#include "kernels/cpu/cpu_ops.h"

#include "kernels/cpu/register.h"

namespace loom::kernels::cpu {

OpTable make_op_table(const CpuFeatures& f) {
    // AVX-512 kernels exist for the matmul family only; the other families run their AVX2 variant there.
    const char* variant = !f.avx2_kernels() ? "cpu portable" : f.avx512_kernels() ? "cpu avx512 (matmul) avx2" : "cpu avx2";
    OpTable t{Backend::cpu, variant};
    register_matmul(t, f);
    register_elementwise(t, f);
    register_attention(t, f);
    return t;
}

}  // namespace loom::kernels::cpu
