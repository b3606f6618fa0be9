// The fast CPU op tables: one per ISA variant this CPU runs, each family registered at that variant.
#include "kernels/cpu/cpu_ops.h"

#include "kernels/cpu/register.h"

namespace loom::kernels::cpu {

namespace {

OpTable make_table(CpuIsa isa) {
    // AVX-512 kernels exist for the matmul family only; the other families run their AVX2 variant there.
    const char* variant = isa == CpuIsa::portable ? "cpu portable"
                          : isa == CpuIsa::avx2   ? "cpu avx2"
                                                  : "cpu avx512 (matmul) avx2";
    OpTable t{Backend::cpu, variant};
    register_matmul(t, isa);
    register_elementwise(t, isa);
    register_attention(t, isa);
    return t;
}

}  // namespace

std::vector<OpTable> make_variants(const CpuFeatures& f) {
    std::vector<OpTable> v{make_table(CpuIsa::portable)};
    if (f.avx2_kernels()) v.push_back(make_table(CpuIsa::avx2));
    if (f.avx2_kernels() && f.avx512_kernels()) v.push_back(make_table(CpuIsa::avx512));
    return v;
}

}  // namespace loom::kernels::cpu
