// Registers the matmul family (matmul, matmul_id, get_rows, and packing weights for matmul) at the widest variant this CPU supports.
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/cpu/register.h"

namespace loom::kernels::cpu {
namespace {

const MatmulKernels* g_kernels = nullptr;  // set once by register_matmul, before any op runs

Status matmul_op(const MatmulArgs& a, Stream& s) { return matmul_with(*g_kernels, a, s); }
Status matmul_id_op(const MatmulIdArgs& a, Stream& s) { return matmul_id_with(*g_kernels, a, s); }
Status get_rows_op(const GetRowsArgs& a, Stream& s) { return get_rows_with(*g_kernels, a, s); }
Result<std::unique_ptr<PackedWeight>> pack_weight_op(const TensorView& w, Stream& s) {
    return pack_weight_with(*g_kernels, w, s);
}

}  // namespace

void register_matmul(OpTable& t, const CpuFeatures& f) {
    const MatmulKernels* avx2 = f.avx2_kernels() ? avx2_matmul_kernels() : nullptr;
    const MatmulKernels* avx512 = avx2 && f.avx512_kernels() ? avx512_matmul_kernels() : nullptr;
    g_kernels = avx512 ? avx512 : avx2 ? avx2 : &portable_matmul_kernels();
    t.matmul = matmul_op;
    t.matmul_id = matmul_id_op;
    t.get_rows = get_rows_op;
    t.pack_weight = pack_weight_op;
}

}  // namespace loom::kernels::cpu
