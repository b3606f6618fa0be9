// Argument checks for the matmul family (matmul, matmul_id, get_rows), shared by the reference and the fast
// CPU backend so both reject the same inputs with the same messages.
#pragma once

#include <string_view>

#include "kernels/ops.h"

namespace loom::kernels::ref {

// Shapes and types as documented on MatmulArgs: w [n_out, n_in] of a type with a dequantizer, n_in a multiple
// of its block size; x [..., n_in] f32; y [..., n_out] f32 with x's outer shape. x and y may have rank 1..4.
Status check_matmul_args(const MatmulArgs& a, std::string_view op);

// As MatmulIdArgs documents; also every id must lie in [0, n_expert) (ids are read on the host).
Status check_matmul_id_args(const MatmulIdArgs& a, std::string_view op);

// As GetRowsArgs documents; also every id must lie in [0, n_rows).
Status check_get_rows_args(const GetRowsArgs& a, std::string_view op);

}  // namespace loom::kernels::ref
