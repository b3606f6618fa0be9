// Reference unary, binary, scale and gated-linear-unit ops: one scalar loop per row, any outer shape.
#include "kernels/check.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::ref {

Status check_f32_rows(const char* op, const char* what, const TensorView& t) {
    if (t.empty()) return Error::invalid("{}: {} is missing", op, what);
    if (t.device != Device::cpu) return Error::invalid("{}: {} is not in host memory", op, what);
    if (t.dtype != DType::f32) return Error::invalid("{}: {} has type {} (expected f32)", op, what, t.dtype);
    if (t.rank < 1) return Error::invalid("{}: {} has rank 0 (expected at least 1)", op, what);
    if (t.stride[t.rank - 1] != int64_t(sizeof(float)))
        return Error::invalid("{}: {} rows are not contiguous (element stride {} bytes)", op, what,
                              t.stride[t.rank - 1]);
    return Ok{};
}

const char* op_name(BinaryOp op) {
    switch (op) {
        case BinaryOp::add: return "add";
        case BinaryOp::sub: return "sub";
        case BinaryOp::mul: return "mul";
        case BinaryOp::div: return "div";
    }
    return "binary";
}

Status check_unary_args(const UnaryArgs& a) {
    const char* op = name(a.op);
    LOOM_RETURN_IF_ERROR(check_f32_rows(op, "x", a.x));
    LOOM_RETURN_IF_ERROR(check_f32_rows(op, "y", a.y));
    return check_same_shape(op, "x", a.x, "y", a.y);
}

Status check_binary_args(const BinaryArgs& a) {
    const char* op = op_name(a.op);
    LOOM_RETURN_IF_ERROR(check_f32_rows(op, "a", a.a));
    LOOM_RETURN_IF_ERROR(check_f32_rows(op, "b", a.b));
    LOOM_RETURN_IF_ERROR(check_f32_rows(op, "y", a.y));
    LOOM_RETURN_IF_ERROR(check_same_shape(op, "a", a.a, "y", a.y));
    const bool column = a.b.rank >= 2 && a.b.row_length() == 1;  // [n_rows', 1]: one value per row of a
    if ((a.b.row_length() != a.a.row_length() && !column) || a.b.n_rows() == 0 || a.a.n_rows() % a.b.n_rows() != 0)
        return Error::invalid(
            "{}: b has shape {}, which does not broadcast to a's shape {} (expected rows of {} or "
            "of 1, and a row count dividing {})",
            op, shape_string(a.b), shape_string(a.a), a.a.row_length(), a.a.n_rows());
    return Ok{};
}

Status check_scale_args(const ScaleArgs& a) {
    LOOM_RETURN_IF_ERROR(check_f32_rows("scale", "x", a.x));
    LOOM_RETURN_IF_ERROR(check_f32_rows("scale", "y", a.y));
    return check_same_shape("scale", "x", a.x, "y", a.y);
}

Status check_glu_args(const GluArgs& a) {
    LOOM_RETURN_IF_ERROR(check_f32_rows("glu", "gate", a.gate));
    LOOM_RETURN_IF_ERROR(check_f32_rows("glu", "up", a.up));
    LOOM_RETURN_IF_ERROR(check_f32_rows("glu", "y", a.y));
    LOOM_RETURN_IF_ERROR(check_same_shape("glu", "gate", a.gate, "up", a.up));
    return check_same_shape("glu", "gate", a.gate, "y", a.y);
}

Status unary(const UnaryArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_unary_args(a));
    const int64_t d = a.x.row_length();
    for (int64_t r = 0; r < a.x.n_rows(); ++r) {
        const float* x = a.x.row<float>(r);
        float* y = a.y.row<float>(r);
        for (int64_t i = 0; i < d; ++i) y[i] = apply_unary(a.op, x[i]);
    }
    return Ok{};
}

// Row r of a meets row r % n_rows(b) of b: a [d] or [1, d] b repeats over every row of a; a b row of one value
// meets every value of the row.
Status binary(const BinaryArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_binary_args(a));
    const int64_t d = a.a.row_length(), nb = a.b.n_rows();
    const int64_t step = a.b.row_length() == d ? 1 : 0;
    for (int64_t r = 0; r < a.a.n_rows(); ++r) {
        const float* x = a.a.row<float>(r);
        const float* b = a.b.row<float>(r % nb);
        float* y = a.y.row<float>(r);
        for (int64_t i = 0; i < d; ++i) y[i] = apply_binary(a.op, x[i], b[i * step]);
    }
    return Ok{};
}

Status scale(const ScaleArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_scale_args(a));
    const int64_t d = a.x.row_length();
    for (int64_t r = 0; r < a.x.n_rows(); ++r) {
        const float* x = a.x.row<float>(r);
        float* y = a.y.row<float>(r);
        for (int64_t i = 0; i < d; ++i) y[i] = scale_bias(x[i], a.scale, a.bias);
    }
    return Ok{};
}

// act(gate) ⊙ up, as ggml's swiglu/geglu/... (vec.h ggml_vec_*glu_f32): the activation of gate is computed
// exactly as the unary op would, then multiplied by up.
Status glu(const GluArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_glu_args(a));
    const int64_t d = a.gate.row_length();
    for (int64_t r = 0; r < a.gate.n_rows(); ++r) {
        const float* g = a.gate.row<float>(r);
        const float* u = a.up.row<float>(r);
        float* y = a.y.row<float>(r);
        for (int64_t i = 0; i < d; ++i) y[i] = apply_unary(a.act, g[i]) * u[i];
    }
    return Ok{};
}

}  // namespace loom::kernels::ref
