// Shape, type and layout checks for attention, conv1d and delta_net (see kernels/ops.h for the contracts).
#include "kernels/attention_check.h"

#include "kernels/check.h"

namespace loom::kernels {

namespace {
struct Named {
    const char* what;
    const TensorView* t;
};

// The last dim must be contiguous (kernels walk rows with plain pointers).
Status check_rows(std::string_view op, std::string_view what, const TensorView& t) {
    const int64_t elem = info(t.dtype).block_bytes;
    if (t.stride[t.rank - 1] != elem)
        return Error::invalid("{}: {} rows are not contiguous (element stride {} bytes, expected {})", op, what,
                              t.stride[t.rank - 1], elem);
    return Ok{};
}
}  // namespace

Status check_attention(const AttentionArgs& a) {
    constexpr std::string_view op = "attention";
    LOOM_RETURN_IF_ERROR(check_tensor(op, "q", a.q, DType::f32, {-1, -1, -1}));
    const int64_t n_tok = a.q.shape[0], n_head = a.q.shape[1], d_head = a.q.shape[2];
    LOOM_RETURN_IF_ERROR(check_tensor(op, "k", a.k, {DType::f16, DType::f32}, {-1, -1, d_head}));
    const int64_t n_kv = a.k.shape[0], n_head_kv = a.k.shape[1];
    LOOM_RETURN_IF_ERROR(check_tensor(op, "v", a.v, {DType::f16, DType::f32}, {n_kv, n_head_kv, -1}));
    const int64_t d_v = a.v.shape[2];
    LOOM_RETURN_IF_ERROR(check_tensor(op, "out", a.out, DType::f32, {n_tok, n_head, d_v}));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "q_pos", a.q_pos, DType::i32, {n_tok}));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "kv_pos", a.kv_pos, DType::i32, {n_kv}));
    if (n_head_kv <= 0 || n_head % n_head_kv != 0)
        return Error::invalid("{}: n_head {} is not a multiple of n_head_kv {} (q {}, k {})", op, n_head, n_head_kv,
                              shape_string(a.q), shape_string(a.k));
    if (d_head <= 0 || d_v <= 0) return Error::invalid("{}: empty head (d_head {}, d_v {})", op, d_head, d_v);
    for (const Named& n :
         {Named{"q", &a.q}, {"k", &a.k}, {"v", &a.v}, {"out", &a.out}, {"q_pos", &a.q_pos}, {"kv_pos", &a.kv_pos}})
        LOOM_RETURN_IF_ERROR(check_rows(op, n.what, *n.t));
    if (a.window < 0) return Error::invalid("{}: window {} (expected >= 0)", op, a.window);
    if (a.kv_skip < 0 || a.kv_skip % kAttentionSkipAlign != 0)
        return Error::invalid("{}: kv_skip {} (expected a multiple of {} >= 0)", op, a.kv_skip, kAttentionSkipAlign);
    if (!(a.softcap >= 0.f)) return Error::invalid("{}: softcap {} (expected >= 0)", op, a.softcap);
    return Ok{};
}

Status check_conv1d(const Conv1dArgs& a) {
    constexpr std::string_view op = "conv1d";
    LOOM_RETURN_IF_ERROR(check_tensor(op, "x", a.x, DType::f32, {-1, -1}));
    const int64_t n_tok = a.x.shape[0], n_ch = a.x.shape[1];
    LOOM_RETURN_IF_ERROR(check_tensor(op, "w", a.w, DType::f32, {n_ch, -1}));
    const int64_t k = a.w.shape[1];
    if (k < 2) return Error::invalid("{}: kernel size {} (expected >= 2; w {})", op, k, shape_string(a.w));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "state", a.state, DType::f32, {k - 1, n_ch}));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "y", a.y, DType::f32, {n_tok, n_ch}));
    for (const Named& n : {Named{"x", &a.x}, {"w", &a.w}, {"state", &a.state}, {"y", &a.y}})
        LOOM_RETURN_IF_ERROR(check_rows(op, n.what, *n.t));
    if (a.y.data == a.x.data && n_tok > 0) return Error::invalid("{}: y aliases x", op);
    return Ok{};
}

Status check_delta_net(const DeltaNetArgs& a) {
    constexpr std::string_view op = "delta_net";
    LOOM_RETURN_IF_ERROR(check_tensor(op, "q", a.q, DType::f32, {-1, -1, -1}));
    const int64_t n_tok = a.q.shape[0], n_hk = a.q.shape[1], d_k = a.q.shape[2];
    LOOM_RETURN_IF_ERROR(check_tensor(op, "k", a.k, DType::f32, {n_tok, n_hk, d_k}));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "v", a.v, DType::f32, {n_tok, -1, -1}));
    const int64_t n_hv = a.v.shape[1], d_v = a.v.shape[2];
    LOOM_RETURN_IF_ERROR(check_tensor(op, "g", a.g, DType::f32, {n_tok, n_hv}));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "beta", a.beta, DType::f32, {n_tok, n_hv}));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "state", a.state, DType::f32, {n_hv, d_v, d_k}));
    LOOM_RETURN_IF_ERROR(check_tensor(op, "out", a.out, DType::f32, {n_tok, n_hv, d_v}));
    if (n_hk <= 0 || n_hv % n_hk != 0)
        return Error::invalid("{}: n_hv {} is not a multiple of n_hk {} (v {}, k {})", op, n_hv, n_hk,
                              shape_string(a.v), shape_string(a.k));
    for (const Named& n : {Named{"q", &a.q},
                           {"k", &a.k},
                           {"v", &a.v},
                           {"g", &a.g},
                           {"beta", &a.beta},
                           {"state", &a.state},
                           {"out", &a.out}})
        LOOM_RETURN_IF_ERROR(check_rows(op, n.what, *n.t));
    if (!a.state.is_dense()) return Error::invalid("{}: state {} is not dense", op, shape_string(a.state));
    return Ok{};
}

}  // namespace loom::kernels
