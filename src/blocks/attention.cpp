// attention: multi-head self-attention with grouped KV heads (architectures §1.5).
//   q, k, v = W x (+ b)            separate projections, or one fused qkv (rows Q, then K, then V);
//                                  q_gate: the q projection gives [q_h | g_h] per head (2·head_dim rows each)
//                                  v may name k's weight (v = ["attn_v", "attn_k"]: V is K's projection)
//   q, k    = RMSNorm per head     optional QK-norm (qwen3, gemma3), before rope
//   v       = RMSNorm per head     v_rms_norm = true: without a weight
//   q, k    = rope(q, k)           optional; mode, rotated dims, base/scale and YaRN from the [rope] table
//   q       = q · q_scale          optional: a query scale applied to q itself (its own rounding, as llama.cpp
//                                  does for families that scale queries before attention) instead of in `scale`
//   o       = softmax(scale · q kᵀ (soft-capped) + causal/window mask) v, per sequence, over the KV cache
//   o       = o ⊙ sigmoid(g)         q_gate only: the output gate, per head and dim
//   y       = W_o o (+ b)
// The memory stores K after rope and V, rounded to its type, in the sequence's next slots; attention reads
// the sequence's slots [0, n_slots). A stateless pass runs the same code on a throwaway memory.
// A sliding layer (window > 0) may keep only its last window + n_batch slots (exec/memory.h).
// kv_from = <an earlier layer>: the layer computes only Q and attends over that layer's K/V (the memory shares
// it; its heads and head dims must be the same), with its own window and mask.
#include <fmt/format.h>

#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class Attention final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass& pass) const override;
    std::optional<exec::MemorySpec> memory_spec() const override {
        if (kv_from_ >= 0) return exec::MemorySpec::shared(kv_from_, n_head_kv_, d_k_, d_v_, window_);
        return exec::MemorySpec::kv(n_head_kv_, d_k_, d_v_, window_);
    }

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
    bool q_gate_ = false;
    bool v_rms_norm_ = false;
    int64_t kv_from_ = -1;  // >= 0: K/V are that layer's (nothing projected or stored here)
};

TensorView Attention::forward(exec::Exec& ex, const TensorView& x, const Pass& pass) const {
    const int64_t n_tok = x.dim(0);
    TensorView q, k, v;  // [n_tok, heads · d]
    if (!qkv_.empty()) {
        TensorView qkv = qkv_(ex, x);
        if (ex.failed()) return {};
        const int64_t nq = n_head_ * d_k_, nk = n_head_kv_ * d_k_, width = qkv.row_length();
        q = head_columns(ex, qkv, 1, width, 0, nq);
        k = head_columns(ex, qkv, 1, width, nq, nk);
        v = head_columns(ex, qkv, 1, width, nq + nk, n_head_kv_ * d_v_);
    } else {
        q = q_(ex, x);
        if (kv_from_ < 0) {
            k = k_(ex, x);
            if (v_.w.data == k_.w.data && v_.b.data == k_.b.data) {  // V is K's projection: copy, not recompute
                v = ex.like(k);
                ex.convert(k, v);
            } else {
                v = v_(ex, x);
            }
        }
    }
    if (ex.failed()) return {};
    TensorView gate;  // [n_tok, n_head · d_v] (q_gate)
    if (q_gate_) {    // per head [q_h | g_h]
        const TensorView qg = q;
        q = head_columns(ex, qg, n_head_, 2 * d_k_, 0, d_k_);
        gate = head_columns(ex, qg, n_head_, 2 * d_k_, d_k_, d_k_);
        gate = TensorView::dense(gate.data, DType::f32, {n_tok, n_head_ * d_k_});
    }
    const std::string& me = label();
    const bool own_kv = kv_from_ < 0;
    TensorView q3 = TensorView::dense(q.data, DType::f32, {n_tok, n_head_, d_k_});
    TensorView k3, v3;
    if (own_kv) {
        k3 = TensorView::dense(k.data, DType::f32, {n_tok, n_head_kv_, d_k_});
        v3 = TensorView::dense(v.data, DType::f32, {n_tok, n_head_kv_, d_v_});
    }
    if (!q_norm_.empty()) q3 = ex.norm(exec::NormKind::rms, q3, q_norm_, norm_eps_);
    if (own_kv && !k_norm_.empty()) k3 = ex.norm(exec::NormKind::rms, k3, k_norm_, norm_eps_);
    if (own_kv && v_rms_norm_) v3 = ex.norm(exec::NormKind::rms, v3, {}, norm_eps_);
    if (rope_) {
        kernels::RopeArgs r = rope_args_;
        r.pos = r.mode == kernels::RopeMode::imrope ? pass.pos4 : pass.pos;
        ex.rope(q3, r);
        if (own_kv) ex.rope(k3, r);
    }
    ex.name(q3, me + ".q");
    if (own_kv) {
        ex.name(k3, me + ".k");
        ex.name(v3, me + ".v");
    }
    if (q_scale_ != 1.f) ex.scale(q3, q_scale_);
    if (ex.failed()) return {};

    TensorView out = ex.tensor(DType::f32, {n_tok, n_head_, d_v_});
    for (const Segment& s : pass.segments) {
        kernels::AttentionArgs a;
        a.q = q3.narrow(s.first, s.count);
        a.q_pos = pass.pos.narrow(s.first, s.count);
        a.out = out.narrow(s.first, s.count);
        a.scale = scale_;
        a.softcap = softcap_;
        a.window = window_;
        a.causal = causal_;
        // This segment's K/V go to its slots (a layer sharing an earlier one's finds them written already);
        // attention then reads every slot the sequence holds.
        exec::Memory& mem = *pass.memory;
        const TensorView kc = mem.k(pass.layer, s.seq), vc = mem.v(pass.layer, s.seq);
        if (own_kv) {
            const int64_t slot = mem.layer_slot(pass.layer, s.seq, s.first_slot);
            ex.convert(k3.narrow(s.first, s.count).as_2d(), kc.narrow(slot, s.count).as_2d());
            ex.convert(v3.narrow(s.first, s.count).as_2d(), vc.narrow(slot, s.count).as_2d());
        }
        const int64_t used = mem.n_held(pass.layer, s.seq);
        a.k = kc.narrow(0, used);
        a.v = vc.narrow(0, used);
        a.kv_pos = mem.slot_pos(pass.layer, s.seq).narrow(0, used);
        a.kv_skip = mem.n_dropped(pass.layer, s.seq);
        ex.attention(a);
    }
    ex.name(out, me + ".attn");
    TensorView o = TensorView::dense(out.data, DType::f32, {n_tok, n_head_ * d_v_});
    if (q_gate_) {
        ex.unary(exec::UnaryOp::sigmoid, gate);
        ex.mul(o, gate);
        ex.name(o, me + ".gated");
    }
    return o_(ex, o);
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
    b->kv_from_ = c.integer("kv_from", "-1");
    if (b->kv_from_ == c.layer) b->kv_from_ = -1;  // its own
    if (b->kv_from_ >= 0 && (c.layer < 0 || b->kv_from_ > c.layer))
        c.weights.error(fmt::format("{}: kv_from = {} must name an earlier layer (this is layer {})", c.spec.where(),
                                    b->kv_from_, c.layer));
    const bool own_kv = b->kv_from_ < 0;
    if (c.spec.has("qkv")) {
        b->qkv_ = bind_linear(c, "qkv", (H + 2 * Hkv) * dk, d_model, false);
        if (dv != dk) c.weights.error(c.spec.where() + ": a fused qkv needs head_dim_v == head_dim");
    }
    // Separate projections when there is no fused one (a file may list both: the fused one wins if present).
    const bool separate = b->qkv_.empty();
    for (const char* key : {"qkv", "qkv_bias", "q", "k", "v", "q_bias", "k_bias", "v_bias"}) c.spec.accept(key);
    b->q_gate_ = c.flag("q_gate", false);
    if (b->q_gate_ && (!separate || dv != dk))
        c.weights.error(c.spec.where() + ": q_gate needs a separate q projection and head_dim_v == head_dim");
    if (separate) {
        b->q_ = bind_linear(c, "q", (b->q_gate_ ? 2 : 1) * H * dk, d_model);
        if (own_kv) {
            b->k_ = bind_linear(c, "k", Hkv * dk, d_model);
            b->v_ = bind_linear(c, "v", Hkv * dv, d_model);
        }
    }
    b->q_norm_ = c.weights.bind_f32(c.spec, "q_norm", {dk}, c.layer, false);
    if (own_kv) b->k_norm_ = c.weights.bind_f32(c.spec, "k_norm", {dk}, c.layer, false);
    b->v_rms_norm_ = c.flag("v_rms_norm", false);
    if (!own_kv)  // the K/V side of the block is the source layer's
        for (const char* key : {"k", "v", "k_norm"}) c.spec.accept(key);
    b->o_ = bind_linear(c, "o", d_model, H * dv);
    b->norm_eps_ = float(c.number("norm_eps", "eps"));
    b->scale_ = float(c.number("scale", "1 / sqrt(head_dim)"));
    b->softcap_ = float(c.number("softcap", "0"));
    b->q_scale_ = float(c.number("q_scale", "1"));
    b->window_ = int(c.integer("window", "0"));
    b->causal_ = c.flag("causal", true);
    if (b->window_ < 0) c.weights.error(fmt::format("{}: window {} must be >= 0", c.spec.where(), b->window_));
    b->rope_ = bind_rope(c, b->rope_args_, dk);
    return b;
}

}  // namespace loom::blocks
