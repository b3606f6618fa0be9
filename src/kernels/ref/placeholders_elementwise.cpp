// Placeholders for the elementwise family's reference ops until they land (delete this file then).
#include "kernels/ref/ref_ops.h"

namespace loom::kernels::ref {
#define LOOM_REF_PLACEHOLDER(op, Args) \
    Status op(const Args&, Stream&) { return Error::unsupported("ref " #op ": not implemented yet"); }
LOOM_REF_PLACEHOLDER(norm, NormArgs)
LOOM_REF_PLACEHOLDER(rope, RopeArgs)
LOOM_REF_PLACEHOLDER(softmax, SoftmaxArgs)
LOOM_REF_PLACEHOLDER(unary, UnaryArgs)
LOOM_REF_PLACEHOLDER(binary, BinaryArgs)
LOOM_REF_PLACEHOLDER(scale, ScaleArgs)
LOOM_REF_PLACEHOLDER(glu, GluArgs)
LOOM_REF_PLACEHOLDER(top_k, TopKArgs)
}  // namespace loom::kernels::ref
