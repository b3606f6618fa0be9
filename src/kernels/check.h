// Argument checks shared by every backend: a wiring mistake becomes an Error naming the op, the
// tensor and the shapes, never a crash or a silent wrong answer.
#pragma once

#include <initializer_list>
#include <string_view>

#include "core/error.h"
#include "core/tensor.h"

namespace loom::kernels {

// `t` must be present, of dtype `dtype`, and of exactly `shape` (a −1 entry matches any size).
Status check_tensor(std::string_view op, std::string_view what, const TensorView& t, DType dtype,
                    std::initializer_list<int64_t> shape);
// As above but any of `dtypes`.
Status check_tensor(std::string_view op, std::string_view what, const TensorView& t,
                    std::initializer_list<DType> dtypes, std::initializer_list<int64_t> shape);
// `a` and `b` have the same shape.
Status check_same_shape(std::string_view op, std::string_view what_a, const TensorView& a, std::string_view what_b,
                        const TensorView& b);
// The last dimension of `t` is contiguous (core/tensor.h), as every kernel reads it.
Status check_rows_contiguous(std::string_view op, std::string_view what, const TensorView& t);

}  // namespace loom::kernels
