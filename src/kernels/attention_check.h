// Argument checks for the attention family (attention, conv1d, delta_net), shared by every backend so
// that each reports a wiring mistake the same way: the op, the tensor and both shapes.
#pragma once

#include "core/error.h"
#include "kernels/ops.h"

namespace loom::kernels {

Status check_attention(const AttentionArgs& a);
Status check_conv1d(const Conv1dArgs& a);
Status check_delta_net(const DeltaNetArgs& a);

}  // namespace loom::kernels
