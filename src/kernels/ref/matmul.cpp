// Reference matmul, expert matmul and row lookup: readable scalar loops over ref::vec_dot (paired mode) or over
// dequantized rows in double (f32 mode). Also the argument checks both CPU backends share (ref/matmul.h).
#include "kernels/ref/matmul.h"

#include <cstring>
#include <vector>

#include "kernels/check.h"
#include "kernels/ref/quant.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/ref/vec_dot.h"

namespace loom::kernels::ref {
namespace {

// A weight/table type the matmul family can read: it needs a dequantizer.
Status check_weight_type(std::string_view op, std::string_view what, const TensorView& w) {
    if (w.empty()) return Error::invalid("{}: {} is missing", op, what);
    if (!info(w.dtype).loom_can_dequantize)
        return Error::unsupported("{}: {} has type {}, which has no dequantizer", op, what, w.dtype);
    return Ok{};
}

Status check_row_length(std::string_view op, std::string_view what, const TensorView& w) {
    const int64_t n_in = w.row_length(), blk = info(w.dtype).block_elems;
    if (n_in % blk != 0)
        return Error::invalid("{}: {} {} has rows of {} values, not a multiple of {}'s block size {}", op, what,
                              shape_string(w), n_in, w.dtype, blk);
    return Ok{};
}

// x [..., n_in] and y [..., n_out], both f32, with the same outer shape.
Status check_act_out(std::string_view op, const TensorView& x, const TensorView& y, int64_t n_in, int64_t n_out) {
    if (x.empty()) return Error::invalid("{}: x is missing", op);
    if (y.empty()) return Error::invalid("{}: y is missing", op);
    if (x.dtype != DType::f32) return Error::invalid("{}: x has type {} (expected f32)", op, x.dtype);
    if (y.dtype != DType::f32) return Error::invalid("{}: y has type {} (expected f32)", op, y.dtype);
    if (x.row_length() != n_in)
        return Error::invalid("{}: x has shape {} but w has rows of {} values (expected [..., {}])", op,
                              shape_string(x), n_in, n_in);
    bool same_outer = x.rank == y.rank;
    for (int k = 0; same_outer && k + 1 < x.rank; ++k) same_outer = x.shape[k] == y.shape[k];
    if (!same_outer || y.row_length() != n_out)
        return Error::invalid("{}: y has shape {} (expected x's outer shape with {} outputs, x is {})", op,
                              shape_string(y), n_out, shape_string(x));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "x", x));
    return check_rows_contiguous(op, "y", y);
}

// ids[i] as a flat index over ids' elements (any rank, honouring strides).
int32_t id_at(const TensorView& ids, int64_t i) {
    const int64_t n = ids.row_length();
    int32_t v;
    std::memcpy(&v, ids.row<uint8_t>(i / n) + (i % n) * ids.stride[ids.rank - 1], 4);
    return v;
}

Status check_ids_range(std::string_view op, const TensorView& ids, int64_t limit, std::string_view what) {
    const int64_t n = ids.n_elements();
    for (int64_t i = 0; i < n; ++i) {
        const int32_t v = id_at(ids, i);
        if (v < 0 || v >= limit)
            return Error::make(ErrorCode::out_of_range, "{}: ids element {} is {} (expected 0 <= id < {}, the {})", op,
                               i, v, limit, what);
    }
    return Ok{};
}

// The 2-D view of expert e's matrix inside w [n_expert, n_out, n_in].
TensorView expert_view(const TensorView& w, int64_t e) {
    TensorView m = w;
    m.data = static_cast<uint8_t*>(w.data) + e * w.stride[0];
    m.rank = 2;
    m.shape = {w.shape[1], w.shape[2], 0, 0};
    m.stride = {w.stride[1], w.stride[2], 0, 0};
    return m;
}

// y[o] = Σ_i w[o, i]·x[i] for one activation row, in the given mode.
Status matvec_row(const TensorView& w, const float* x, float* y, MatmulMode mode) {
    const int64_t n_out = w.dim(0), n_in = w.dim(1);
    const VecDotFn dot = mode == MatmulMode::paired ? vec_dot_fn(w.dtype) : nullptr;
    if (dot) {
        const DType act = paired_act_type(w.dtype);
        std::vector<uint8_t> q(static_cast<size_t>(row_bytes(act, n_in)));
        LOOM_RETURN_IF_ERROR(quantize_activations(act, x, q.data(), n_in));
        for (int64_t o = 0; o < n_out; ++o) y[o] = dot(n_in, w.row(o), q.data());
        return Ok{};
    }
    // f32: the weight row dequantized, the activation unrounded, the sum in double.
    std::vector<float> wf(static_cast<size_t>(n_in));
    for (int64_t o = 0; o < n_out; ++o) {
        LOOM_RETURN_IF_ERROR(dequantize_row(w.dtype, w.row(o), wf.data(), n_in));
        double sum = 0.0;
        for (int64_t i = 0; i < n_in; ++i) sum += double(wf[size_t(i)]) * double(x[i]);
        y[o] = float(sum);
    }
    return Ok{};
}

}  // namespace

Status check_matmul_args(const MatmulArgs& a, std::string_view op) {
    LOOM_RETURN_IF_ERROR(check_weight_type(op, "w", a.w));
    if (a.w.rank != 2) return Error::invalid("{}: w has shape {} (expected [n_out, n_in])", op, shape_string(a.w));
    LOOM_RETURN_IF_ERROR(check_row_length(op, "w", a.w));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "w", a.w));
    return check_act_out(op, a.x, a.y, a.w.dim(1), a.w.dim(0));
}

Status check_matmul_id_args(const MatmulIdArgs& a, std::string_view op) {
    LOOM_RETURN_IF_ERROR(check_weight_type(op, "w", a.w));
    if (a.w.rank != 3)
        return Error::invalid("{}: w has shape {} (expected [n_expert, n_out, n_in])", op, shape_string(a.w));
    LOOM_RETURN_IF_ERROR(check_row_length(op, "w", a.w));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "w", a.w));
    const int64_t n_expert = a.w.dim(0), n_out = a.w.dim(1), n_in = a.w.dim(2);
    LOOM_RETURN_IF_ERROR(check_tensor(op, "ids", a.ids, DType::i32, {-1, -1}));
    const int64_t n_tok = a.ids.dim(0), n_used = a.ids.dim(1);
    LOOM_RETURN_IF_ERROR(check_tensor(op, "x", a.x, DType::f32, {n_tok, -1, n_in}));
    if (a.x.dim(1) != 1 && a.x.dim(1) != n_used)
        return Error::invalid("{}: x has shape {} (expected [{}, 1 or {}, {}])", op, shape_string(a.x), n_tok, n_used,
                              n_in);
    LOOM_RETURN_IF_ERROR(check_tensor(op, "y", a.y, DType::f32, {n_tok, n_used, n_out}));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "x", a.x));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "y", a.y));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "ids", a.ids));
    return check_ids_range(op, a.ids, n_expert, "number of experts in w");
}

Status check_get_rows_args(const GetRowsArgs& a, std::string_view op) {
    LOOM_RETURN_IF_ERROR(check_weight_type(op, "table", a.table));
    if (a.table.rank != 2)
        return Error::invalid("{}: table has shape {} (expected [n_rows, d])", op, shape_string(a.table));
    LOOM_RETURN_IF_ERROR(check_row_length(op, "table", a.table));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "table", a.table));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "ids", a.ids, DType::i32, {-1}));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "y", a.y, DType::f32, {a.ids.dim(0), a.table.dim(1)}));
    LOOM_RETURN_IF_ERROR(check_rows_contiguous(op, "y", a.y));
    return check_ids_range(op, a.ids, a.table.dim(0), "number of rows in table");
}

Status matmul(const MatmulArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_matmul_args(a, "ref matmul"));
    const int64_t n_tok = a.x.n_rows();
    for (int64_t t = 0; t < n_tok; ++t)
        LOOM_RETURN_IF_ERROR(matvec_row(a.w, a.x.row<float>(t), a.y.row<float>(t), a.mode));
    return Ok{};
}

Status matmul_id(const MatmulIdArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_matmul_id_args(a, "ref matmul_id"));
    const int64_t n_tok = a.ids.dim(0), n_used = a.ids.dim(1), n_x = a.x.dim(1);
    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t s = 0; s < n_used; ++s) {
            const int32_t e = id_at(a.ids, t * n_used + s);
            const float* x = a.x.row<float>(t * n_x + (n_x == 1 ? 0 : s));
            LOOM_RETURN_IF_ERROR(matvec_row(expert_view(a.w, e), x, a.y.row<float>(t * n_used + s), a.mode));
        }
    }
    return Ok{};
}

Status get_rows(const GetRowsArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_get_rows_args(a, "ref get_rows"));
    const int64_t n = a.ids.dim(0), d = a.table.dim(1);
    for (int64_t i = 0; i < n; ++i)
        LOOM_RETURN_IF_ERROR(dequantize_row(a.table.dtype, a.table.row(id_at(a.ids, i)), a.y.row<float>(i), d));
    return Ok{};
}

}  // namespace loom::kernels::ref
