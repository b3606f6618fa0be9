// Kernel dispatch: one table of op functions per backend. The reference table is always complete
// (it is the oracle); other backends fill what they implement and fall back to nothing: a missing
// op is a clear Error::unsupported, never a silent fallback to a slow path.
#pragma once

#include <memory>
#include <span>

#include "core/packed_weight.h"
#include "kernels/ops.h"

namespace loom::kernels {

template <typename Args>
using OpFn = Status (*)(const Args&, Stream&);

struct OpTable {
    Backend backend;
    const char* variant;  // e.g. "ref", "cpu avx2"
    OpFn<MatmulArgs> matmul = nullptr;
    OpFn<MatmulIdArgs> matmul_id = nullptr;
    OpFn<GetRowsArgs> get_rows = nullptr;
    OpFn<NormArgs> norm = nullptr;
    OpFn<RopeArgs> rope = nullptr;
    OpFn<SoftmaxArgs> softmax = nullptr;
    OpFn<AttentionArgs> attention = nullptr;
    OpFn<UnaryArgs> unary = nullptr;
    OpFn<BinaryArgs> binary = nullptr;
    OpFn<ScaleArgs> scale = nullptr;
    OpFn<GluArgs> glu = nullptr;
    OpFn<TopKArgs> top_k = nullptr;
    OpFn<MoeRouteArgs> moe_route = nullptr;
    OpFn<WeightedSumArgs> weighted_sum = nullptr;
    OpFn<Conv1dArgs> conv1d = nullptr;
    OpFn<DeltaNetArgs> delta_net = nullptr;
    // The load-time packed form of a matmul weight for this backend's kernels (core/packed_weight.h), or nullptr
    // when it has none for w's type and shape (also: nullptr entry). Run once per weight; the result is owned
    // by whoever keeps w (the model) and attached to w's views as TensorView::packed.
    Result<std::unique_ptr<PackedWeight>> (*pack_weight)(const TensorView& w, Stream& s) = nullptr;
};

// The table for a backend (cpu: the widest variant this CPU supports, see core/cpu_features.h).
// Backends that are not built or not present return nullptr.
const OpTable* op_table(Backend b);

// Every variant of a backend that this machine runs, narrowest first; the last is op_table(b). cpu: portable,
// then avx2 and avx512 where the CPU has them (LOOM_CPU caps them too). The op tests run each one against the
// reference, so a variant's kernels are checked on any CPU that has its ISA, not only where it is the widest.
// Empty for backends that are not built or not present.
std::span<const OpTable> variants(Backend b);

}  // namespace loom::kernels
