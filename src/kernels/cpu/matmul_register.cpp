// Registers the matmul family (matmul, matmul_id, get_rows, and packing weights for matmul) at a variant.
#include "core/error.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/cpu/register.h"

namespace loom::kernels::cpu {
namespace {

const MatmulKernels& kernels_of(CpuIsa isa) {
    // Null where the ISA's kernels are not built (not x86-64); cpu_ops.cpp asks for such a variant only on a CPU
    // that runs it, which is an x86-64 one.
    const MatmulKernels* k = isa == CpuIsa::avx512 ? avx512_matmul_kernels()
                             : isa == CpuIsa::avx2 ? avx2_matmul_kernels()
                                                   : &portable_matmul_kernels();
    LOOM_ASSERT(k != nullptr, "matmul kernels of CPU variant {} are not built", int(isa));
    return *k;
}

// The table holds plain function pointers: one set per variant, each bound to that variant's kernels.
template <CpuIsa kIsa>
struct Bound {
    static const MatmulKernels& k() {
        static const MatmulKernels& kernels = kernels_of(kIsa);
        return kernels;
    }
    static Status matmul(const MatmulArgs& a, Stream& s) { return matmul_with(k(), a, s); }
    static Status matmul_id(const MatmulIdArgs& a, Stream& s) { return matmul_id_with(k(), a, s); }
    static Status get_rows(const GetRowsArgs& a, Stream& s) { return get_rows_with(k(), a, s); }
    static Result<std::unique_ptr<PackedWeight>> pack_weight(const TensorView& w, Stream& s) {
        return pack_weight_with(k(), w, s);
    }

    static void fill(OpTable& t) {
        t.matmul = matmul;
        t.matmul_id = matmul_id;
        t.get_rows = get_rows;
        t.pack_weight = pack_weight;
    }
};

}  // namespace

void register_matmul(OpTable& t, CpuIsa isa) {
    switch (isa) {
        case CpuIsa::portable: Bound<CpuIsa::portable>::fill(t); return;
        case CpuIsa::avx2: Bound<CpuIsa::avx2>::fill(t); return;
        case CpuIsa::avx512: Bound<CpuIsa::avx512>::fill(t); return;
    }
}

}  // namespace loom::kernels::cpu
