// Placeholders for the matmul family's reference ops until they land (delete this file then).
#include "kernels/ref/ref_ops.h"

namespace loom::kernels::ref {
#define LOOM_REF_PLACEHOLDER(op, Args) \
    Status op(const Args&, Stream&) { return Error::unsupported("ref " #op ": not implemented yet"); }
LOOM_REF_PLACEHOLDER(matmul, MatmulArgs)
LOOM_REF_PLACEHOLDER(matmul_id, MatmulIdArgs)
LOOM_REF_PLACEHOLDER(get_rows, GetRowsArgs)
}  // namespace loom::kernels::ref
