// attention: multi-head self-attention with grouped KV heads (architectures §1.5).
//   q, k, v = W x (+ b)            separate projections, or one fused qkv (rows Q, then K, then V)
//   q, k    = RMSNorm per head     optional QK-norm (qwen3, gemma3), before rope
//   q, k    = rope(q, k)           optional; mode, rotated dims, base/scale and YaRN from the [rope] table
//   q       = q · q_scale          optional: a query scale applied to q itself (its own rounding, as llama.cpp
//                                  does for families that scale queries before attention) instead of in `scale`
//   o       = softmax(scale · q kᵀ (soft-capped) + causal/window mask) v, per sequence, over the KV cache
//   y       = W_o o (+ b)
// The cache stores K after rope and V, rounded to the cache type; the stateless pass rounds the batch's
// own K/V to the same type, so both paths see the same numbers.
#include <fmt/format.h>

#include <cstring>

#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

// Rows [first, first + count) of a view along its outermost dim.
TensorView narrow(TensorView t, int64_t first, int64_t count) {
    t.data = static_cast<uint8_t*>(t.data) + first * t.stride[0];
    t.shape[0] = count;
    return t;
}

class Attention final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass& pass) const override;
    std::optional<exec::KvLayerSpec> kv_spec() const override { return exec::KvLayerSpec{n_head_kv_, d_k_, d_v_}; }

    int64_t n_head_ = 0, n_head_kv_ = 0, d_k_ = 0, d_v_ = 0;
    Linear q_, k_, v_, qkv_;      // [n_head·d_k | n_head_kv·d_k | n_head_kv·d_v, d_model], optional biases
    TensorView q_norm_, k_norm_;  // [d_k] f32 or empty
    Linear o_;                    // [d_model, n_head·d_v]
    float norm_eps_ = 1e-6f;
    bool rope_ = false;
    kernels::RopeArgs rope_args_;  // options only; x/y/pos are filled per pass
    float scale_ = 1.f, softcap_ = 0.f, q_scale_ = 1.f;
    int window_ = 0;
    bool causal_ = true;
};

TensorView Attention::forward(exec::Exec& ex, const TensorView& x, const Pass& pass) const {
    const int64_t n_tok = x.dim(0);
    TensorView q, k, v;  // [n_tok, heads · d]
    if (!qkv_.empty()) {
        TensorView qkv = qkv_(ex, x);
        if (ex.failed()) return {};
        q = ex.tensor(DType::f32, {n_tok, n_head_ * d_k_});
        k = ex.tensor(DType::f32, {n_tok, n_head_kv_ * d_k_});
        v = ex.tensor(DType::f32, {n_tok, n_head_kv_ * d_v_});
        for (int64_t t = 0; t < n_tok; ++t) {
            const float* row = qkv.row<float>(t);
            std::memcpy(q.row<float>(t), row, size_t(q.row_length()) * 4);
            std::memcpy(k.row<float>(t), row + q.row_length(), size_t(k.row_length()) * 4);
            std::memcpy(v.row<float>(t), row + q.row_length() + k.row_length(), size_t(v.row_length()) * 4);
        }
    } else {
        q = q_(ex, x);
        k = k_(ex, x);
        v = v_(ex, x);
    }
    if (ex.failed()) return {};
    const std::string& me = label();
    TensorView q3 = TensorView::dense(q.data, DType::f32, {n_tok, n_head_, d_k_});
    TensorView k3 = TensorView::dense(k.data, DType::f32, {n_tok, n_head_kv_, d_k_});
    TensorView v3 = TensorView::dense(v.data, DType::f32, {n_tok, n_head_kv_, d_v_});
    if (!q_norm_.empty()) q3 = ex.norm(exec::NormKind::rms, q3, q_norm_, norm_eps_);
    if (!k_norm_.empty()) k3 = ex.norm(exec::NormKind::rms, k3, k_norm_, norm_eps_);
    if (rope_) {
        kernels::RopeArgs r = rope_args_;
        r.pos = pass.pos;
        ex.rope(q3, r);
        ex.rope(k3, r);
    }
    ex.name(q3, me + ".q");
    ex.name(k3, me + ".k");
    ex.name(v3, me + ".v");
    if (q_scale_ != 1.f) ex.scale(q3, q_scale_);
    if (ex.failed()) return {};

    TensorView out = ex.tensor(DType::f32, {n_tok, n_head_, d_v_});
    for (const Segment& s : pass.segments) {
        kernels::AttentionArgs a;
        a.q = narrow(q3, s.first, s.count);
        a.q_pos = narrow(pass.pos, s.first, s.count);
        a.out = narrow(out, s.first, s.count);
        a.scale = scale_;
        a.softcap = softcap_;
        a.window = window_;
        a.causal = causal_;
        const TensorView ks = narrow(k3, s.first, s.count), vs = narrow(v3, s.first, s.count);
        if (pass.kv) {
            // Slot = position: write this segment's rows, then attend over the sequence's used prefix.
            const TensorView kc = pass.kv->k(pass.layer, s.seq), vc = pass.kv->v(pass.layer, s.seq);
            for (int64_t i = 0; i < s.count; ++i) {
                const int64_t p = a.q_pos.row<int32_t>(0)[i];
                ex.convert(narrow(ks, i, 1).as_2d(), narrow(kc, p, 1).as_2d());
                ex.convert(narrow(vs, i, 1).as_2d(), narrow(vc, p, 1).as_2d());
            }
            const int64_t used = pass.kv->n_used(s.seq);
            a.k = narrow(kc, 0, used);
            a.v = narrow(vc, 0, used);
            a.kv_pos = narrow(pass.kv->slot_pos(s.seq), 0, used);
        } else {
            a.k = ex.tensor(pass.kv_type, {s.count, n_head_kv_, d_k_});
            a.v = ex.tensor(pass.kv_type, {s.count, n_head_kv_, d_v_});
            ex.convert(ks.as_2d(), a.k.as_2d());
            ex.convert(vs.as_2d(), a.v.as_2d());
            a.kv_pos = a.q_pos;
        }
        ex.attention(a);
    }
    ex.name(out, me + ".attn");
    return o_(ex, TensorView::dense(out.data, DType::f32, {n_tok, n_head_ * d_v_}));
}

const std::vector<std::string> kRopeModes = {"norm", "neox", "imrope"};

void bind_rope(BindContext& c, Attention& b, int64_t d_k) {
    if (!c.spec.has("rope")) {
        (void)c.spec.table("rope");  // marks the key as known
        return;
    }
    auto sub = c.spec.table("rope");
    if (!sub.ok()) return c.record(sub.error());
    BindContext r{*sub, c.scope, c.layer, c.weights};
    kernels::RopeArgs& a = b.rope_args_;
    const std::string mode = r.word("mode", kRopeModes, "norm");
    a.mode = mode == "norm"   ? kernels::RopeMode::norm
             : mode == "neox" ? kernels::RopeMode::neox
                              : kernels::RopeMode::imrope;
    a.n_rot = int(r.integer("n_rot", "head_dim"));
    a.freq_base = float(r.number("base", "rope_base"));
    a.freq_scale = float(r.number("freq_scale", "1"));
    a.ext_factor = float(r.number("ext_factor", "0"));
    a.attn_factor = float(r.number("attn_factor", "1"));
    a.beta_fast = float(r.number("beta_fast", "32"));
    a.beta_slow = float(r.number("beta_slow", "1"));
    a.n_ctx_orig = int(r.integer("n_ctx_orig", "n_ctx_train"));
    a.freq_factors = c.weights.bind_f32(*sub, "freq_factors", {a.n_rot / 2}, c.layer, false);
    if (a.mode == kernels::RopeMode::imrope) {
        auto e = sub->expr("sections");
        if (!e.ok()) return c.record(e.error());
        auto v = e->eval(c.scope);
        if (!v.ok() || v->kind != arch::Value::Kind::array || v->arr.size() != 4)
            return c.weights.error(fmt::format("{}: rope sections must be an array of 4 numbers", sub->where()));
        for (int i = 0; i < 4; ++i) a.sections[size_t(i)] = int(v->arr[size_t(i)]);
    }
    if (a.n_rot <= 0 || a.n_rot > d_k || a.n_rot % 2 != 0)
        c.weights.error(
            fmt::format("{}: rope n_rot = {} must be even and within 1..head_dim ({})", sub->where(), a.n_rot, d_k));
    if (!(a.freq_base > 0) || !(a.freq_scale > 0))
        c.weights.error(fmt::format("{}: rope base {} and freq_scale {} must be positive", sub->where(), a.freq_base,
                                    a.freq_scale));
    if (auto s = sub->check_unknown_keys(); !s.ok()) c.record(s.error());
    b.rope_ = true;
}

}  // namespace

std::unique_ptr<Block> make_attention(BindContext& c) {
    auto b = std::make_unique<Attention>();
    const int64_t d_model = c.integer("d_model", "n_embd");
    b->n_head_ = c.integer("n_head", "at(n_head, layer)");
    b->n_head_kv_ = c.integer("n_head_kv", "at(n_head_kv, layer)");
    b->d_k_ = c.integer("head_dim", "head_dim");
    b->d_v_ = c.integer("head_dim_v", "head_dim");
    const int64_t H = b->n_head_, Hkv = b->n_head_kv_, dk = b->d_k_, dv = b->d_v_;
    // Sane ranges before anything is sized from them.
    if (H < 1 || H > 4096 || Hkv < 1 || Hkv > H || H % Hkv != 0 || dk < 1 || dk > 4096 || dv < 1 || dv > 4096) {
        c.weights.error(
            fmt::format("{}: heads {} / kv heads {} / head dims {}, {}: need 1 <= kv heads <= heads <= 4096, "
                        "heads a multiple of kv heads, 1 <= head dims <= 4096",
                        c.spec.where(), H, Hkv, dk, dv));
        return b;
    }
    if (c.spec.has("qkv")) {
        b->qkv_ = bind_linear(c, "qkv", (H + 2 * Hkv) * dk, d_model, false);
        if (dv != dk) c.weights.error(c.spec.where() + ": a fused qkv needs head_dim_v == head_dim");
    }
    // Separate projections when there is no fused one (a file may list both: the fused one wins if present).
    const bool separate = b->qkv_.empty();
    for (const char* key : {"qkv", "qkv_bias", "q", "k", "v", "q_bias", "k_bias", "v_bias"}) c.spec.accept(key);
    if (separate) {
        b->q_ = bind_linear(c, "q", H * dk, d_model);
        b->k_ = bind_linear(c, "k", Hkv * dk, d_model);
        b->v_ = bind_linear(c, "v", Hkv * dv, d_model);
    }
    b->q_norm_ = c.weights.bind_f32(c.spec, "q_norm", {dk}, c.layer, false);
    b->k_norm_ = c.weights.bind_f32(c.spec, "k_norm", {dk}, c.layer, false);
    b->o_ = bind_linear(c, "o", d_model, H * dv);
    b->norm_eps_ = float(c.number("norm_eps", "eps"));
    b->scale_ = float(c.number("scale", "1 / sqrt(head_dim)"));
    b->softcap_ = float(c.number("softcap", "0"));
    b->q_scale_ = float(c.number("q_scale", "1"));
    b->window_ = int(c.integer("window", "0"));
    b->causal_ = c.flag("causal", true);
    if (b->window_ < 0) c.weights.error(fmt::format("{}: window {} must be >= 0", c.spec.where(), b->window_));
    bind_rope(c, *b, dk);
    return b;
}

}  // namespace loom::blocks
