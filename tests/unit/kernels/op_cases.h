// The harness's case tables, one function per OpTable slot (op_cases_*.cpp); op_harness_test.cpp checks that
// every registered slot has cases.
#pragma once

#include <vector>

#include "unit/kernels/op_harness.h"

namespace loom::kernels::testing {

std::vector<OpCase<MatmulArgs>> matmul_cases();
std::vector<OpCase<MatmulIdArgs>> matmul_id_cases();
std::vector<OpCase<GetRowsArgs>> get_rows_cases();
std::vector<OpCase<NormArgs>> norm_cases();
std::vector<OpCase<RopeArgs>> rope_cases();
std::vector<OpCase<SoftmaxArgs>> softmax_cases();
std::vector<OpCase<UnaryArgs>> unary_cases();
std::vector<OpCase<BinaryArgs>> binary_cases();
std::vector<OpCase<ScaleArgs>> scale_cases();
std::vector<OpCase<GluArgs>> glu_cases();
std::vector<OpCase<TopKArgs>> top_k_cases();
std::vector<OpCase<MoeRouteArgs>> moe_route_cases();
std::vector<OpCase<WeightedSumArgs>> weighted_sum_cases();
std::vector<OpCase<AttentionArgs>> attention_cases();
std::vector<OpCase<Conv1dArgs>> conv1d_cases();
std::vector<OpCase<DeltaNetArgs>> delta_net_cases();

}  // namespace loom::kernels::testing
