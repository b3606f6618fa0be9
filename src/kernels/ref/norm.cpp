// Reference norms over the last dim: RMS, layer and L2, rounded as ggml's CPU ops (ops.cpp
// ggml_compute_forward_{rms_norm,norm,l2_norm}_f32) and, for the weight and bias, its separate mul/add ops.
#include "kernels/check.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::ref {

const char* op_name(NormKind k) {
    switch (k) {
        case NormKind::rms: return "rms_norm";
        case NormKind::layer: return "layer_norm";
        case NormKind::l2: return "l2_norm";
    }
    return "norm";
}

Status check_norm_args(const NormArgs& a) {
    const char* op = op_name(a.kind);
    LOOM_RETURN_IF_ERROR(check_f32_rows(op, "x", a.x));
    LOOM_RETURN_IF_ERROR(check_f32_rows(op, "y", a.y));
    LOOM_RETURN_IF_ERROR(check_same_shape(op, "x", a.x, "y", a.y));
    const int64_t d = a.x.row_length();
    if (!a.w.empty()) {
        if (a.kind == NormKind::l2) return Error::invalid("{}: w is given, but L2 norm has no weight", op);
        LOOM_RETURN_IF_ERROR(check_tensor(op, "w", a.w, DType::f32, {d}));
    }
    if (!a.b.empty()) {
        if (a.kind != NormKind::layer) return Error::invalid("{}: b is given, but only layer norm has a bias", op);
        LOOM_RETURN_IF_ERROR(check_tensor(op, "b", a.b, DType::f32, {d}));
    }
    if (!(a.eps >= 0.0f)) return Error::invalid("{}: eps is {} (expected >= 0)", op, a.eps);
    return Ok{};
}

namespace {

// y = x / sqrt(mean(x²) + eps) ⊙ w. ggml squares in f32 and sums the squares in double, rounds the mean to
// f32, and takes 1/sqrtf in f32; the weight is a separate multiply: (x · scale) · w.
void rms_norm_row(const float* x, float* y, const float* w, int64_t d, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < d; ++i) sum += double(x[i] * x[i]);
    const float mean = float(sum / double(d));
    const float scale = 1.0f / std::sqrt(mean + eps);
    for (int64_t i = 0; i < d; ++i) y[i] = w ? (x[i] * scale) * w[i] : x[i] * scale;
}

// y = x / max(‖x‖₂, eps): ggml multiplies by the f32 reciprocal of the clamped norm.
void l2_norm_row(const float* x, float* y, int64_t d, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < d; ++i) sum += double(x[i] * x[i]);
    const float scale = 1.0f / std::fmax(std::sqrt(float(sum)), eps);
    for (int64_t i = 0; i < d; ++i) y[i] = x[i] * scale;
}

}  // namespace

// ggml: the mean is a double sum rounded to f32 and divided in f32; the variance sums the f32 squares of the
// centred values in double (ggml_vec_cvar_f32). Weight and bias are separate ops: ((x − mean)·scale)·w + b.
void layer_norm_row(const float* x, float* y, const float* w, const float* b, int64_t d, float eps) {
    double sum = 0.0;
    for (int64_t i = 0; i < d; ++i) sum += double(x[i]);
    const float mean = float(sum) / float(d);
    double sum_sq = 0.0;
    for (int64_t i = 0; i < d; ++i) {
        const float v = x[i] - mean;
        y[i] = v;
        sum_sq += double(v * v);
    }
    const float variance = float(sum_sq / double(d));
    const float scale = 1.0f / std::sqrt(variance + eps);
    for (int64_t i = 0; i < d; ++i) {
        float v = y[i] * scale;
        if (w) v = v * w[i];
        if (b) v = v + b[i];
        y[i] = v;
    }
}

Status norm(const NormArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_norm_args(a));
    const int64_t d = a.x.row_length();
    const float* w = a.w.empty() ? nullptr : a.w.row<float>(0);
    const float* b = a.b.empty() ? nullptr : a.b.row<float>(0);
    for (int64_t r = 0; r < a.x.n_rows(); ++r) {
        const float* x = a.x.row<float>(r);
        float* y = a.y.row<float>(r);
        switch (a.kind) {
            case NormKind::rms: rms_norm_row(x, y, w, d, a.eps); break;
            case NormKind::layer: layer_norm_row(x, y, w, b, d, a.eps); break;
            case NormKind::l2: l2_norm_row(x, y, d, a.eps); break;
        }
    }
    return Ok{};
}

}  // namespace loom::kernels::ref
