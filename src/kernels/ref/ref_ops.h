// The scalar reference implementation of every op: readable, no SIMD, single-threaded. The oracle
// that every fast kernel is tested against.
#pragma once

#include "kernels/registry.h"

namespace loom::kernels::ref {

OpTable make_op_table();

Status matmul(const MatmulArgs& a, Stream& s);
Status matmul_id(const MatmulIdArgs& a, Stream& s);
Status get_rows(const GetRowsArgs& a, Stream& s);
Status norm(const NormArgs& a, Stream& s);
Status rope(const RopeArgs& a, Stream& s);
Status softmax(const SoftmaxArgs& a, Stream& s);
Status attention(const AttentionArgs& a, Stream& s);
Status unary(const UnaryArgs& a, Stream& s);
Status binary(const BinaryArgs& a, Stream& s);
Status scale(const ScaleArgs& a, Stream& s);
Status glu(const GluArgs& a, Stream& s);
Status top_k(const TopKArgs& a, Stream& s);
Status moe_route(const MoeRouteArgs& a, Stream& s);
Status weighted_sum(const WeightedSumArgs& a, Stream& s);
Status conv1d(const Conv1dArgs& a, Stream& s);
Status delta_net(const DeltaNetArgs& a, Stream& s);

}  // namespace loom::kernels::ref
