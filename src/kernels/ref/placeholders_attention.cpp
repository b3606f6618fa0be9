// Placeholders for the attention family's reference ops until they land (delete this file then).
#include "kernels/ref/ref_ops.h"

namespace loom::kernels::ref {
#define LOOM_REF_PLACEHOLDER(op, Args) \
    Status op(const Args&, Stream&) { return Error::unsupported("ref " #op ": not implemented yet"); }
LOOM_REF_PLACEHOLDER(attention, AttentionArgs)
LOOM_REF_PLACEHOLDER(conv1d, Conv1dArgs)
LOOM_REF_PLACEHOLDER(delta_net, DeltaNetArgs)
}  // namespace loom::kernels::ref
