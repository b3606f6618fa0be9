// moe: a mixture-of-experts feed-forward, as llama.cpp's build_moe_ffn computes it:
//   logits = router x (+ b)  →  probs = gating(logits)  →  ids, weights = route(probs)  (kernels::MoeRouteArgs:
//   selection bias, expert groups, top-k, normalisation, scale)
//   y = Σ_slots weight · down_e(act(gate_e x) ⊙ up_e x)       (gate/up as two 3-D tensors or one merged gate_up)
//   + optional shared expert: y += shared(x), times sigmoid(shared_gate_inp · x) per token when that weight exists
// Optional inputs of their own (gemma4): `input_norm` = w makes the experts (and shared expert) read RMSNorm(x) ⊙ w
// while the router reads x, or, with a `router_input` table, (RMSNorm(x) without weight if rms_norm) · scale ⊙ weight,
// each step an f32 op of its own as llama.cpp rounds them.
// Optional per-expert output scales ([n_expert] f32: gate_scale, up_scale, down_scale) multiply each routed row
// by its expert's scale, as llama.cpp's build_lora_mm_id does with the files' `ffn_*_exps.scale` tensors.
// The expert matmuls round as llama.cpp's mul_mat_id (kernels::ExpertRounding::mul_mat_id); when sequences are
// decoded together every routed row alone (Exec::set_rows_alone), so a token's output does not depend on the others.
#include <fmt/format.h>

#include <utility>

#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

enum class Gating : uint8_t { softmax, sigmoid, softmax_weight, sqrt_softplus };
// How the shared expert's per-token gate z becomes a factor: sigmoid(z), or silu(z) / z (the same function,
// rounded as llama.cpp's qwen2moe graph computes it).
enum class SharedGateAct : uint8_t { sigmoid, silu_div };

class Moe final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass&) const override;

    int64_t n_used_ = 0;
    Linear router_;  // [n_expert, d_model]
    // The router's own input (router_input): x, or RMSNorm(x) (weightless, router_rms_) · router_scale_ ⊙ router_w_.
    bool router_rms_ = false;
    float router_scale_ = 1.f;
    TensorView router_w_;    // [d_model] f32 or empty
    TensorView input_norm_;  // [d_model] f32: the experts read RMSNorm(x) ⊙ it; empty: x
    float eps_ = 1e-6f;
    Gating gating_ = Gating::softmax;
    kernels::MoeRouteArgs route_;        // bias and options
    TensorView gate_, up_, gate_up_;     // [n_expert, d_ff, d_model] each, or gate_up [n_expert, 2·d_ff, d_model]
    TensorView down_;                    // [n_expert, d_model, d_ff]
    TensorView gate_s_, up_s_, down_s_;  // [n_expert, 1] f32 or empty
    exec::UnaryOp act_ = exec::UnaryOp::silu;
    GluMlp shared_;           // empty gate: no shared expert
    Linear shared_gate_inp_;  // [1, d_model] or empty
    SharedGateAct shared_gate_act_ = SharedGateAct::sigmoid;
};

// rows [n_tok · n_used, d] *= scale[id] of each row's expert (nothing when there is no scale).
void scale_by_expert(exec::Exec& ex, const TensorView& rows, const TensorView& scale, const TensorView& ids) {
    if (scale.empty() || ex.failed()) return;
    const TensorView per_row = ex.get_rows(scale, TensorView::dense(ids.data, DType::i32, {ids.n_elements()}));
    ex.mul(rows, per_row);  // one value per row
}

TensorView Moe::forward(exec::Exec& ex, const TensorView& in, const Pass&) const {
    const int64_t n_tok = in.dim(0);
    const std::string& me = label();
    TensorView router_in = in;
    if (router_rms_) router_in = ex.norm(exec::NormKind::rms, in, {}, eps_);
    if (router_scale_ != 1.f) {
        const TensorView scaled = ex.like(router_in);
        ex.scale(router_in, router_scale_, scaled);
        router_in = scaled;
    }
    if (!router_w_.empty()) {
        if (router_in.data == in.data) {
            const TensorView copy = ex.like(in);
            ex.convert(in, copy);
            router_in = copy;
        }
        ex.mul(router_in, router_w_);
    }
    const TensorView x =
        input_norm_.empty() ? in : ex.name(ex.norm(exec::NormKind::rms, in, input_norm_, eps_), me + ".in");
    TensorView logits = ex.name(router_(ex, router_in), me + ".logits");  // [n_tok, n_expert]
    TensorView probs = logits;
    switch (gating_) {
        case Gating::softmax: probs = ex.softmax(logits); break;
        case Gating::sigmoid: ex.unary(exec::UnaryOp::sigmoid, probs); break;
        case Gating::softmax_weight: break;  // the route takes the softmax of the chosen logits
        case Gating::sqrt_softplus:
            ex.unary(exec::UnaryOp::softplus, probs);
            ex.unary(exec::UnaryOp::sqrt, probs);
            break;
    }
    ex.name(probs, me + ".probs");
    const exec::Exec::Routing r = ex.moe_route(probs, int(n_used_), route_);
    ex.name(r.ids, me + ".ids");
    ex.name(r.weights, me + ".weights");
    if (ex.failed()) return {};

    TensorView g, u;  // [n_tok · n_used, d_ff] rows
    if (!gate_up_.empty()) {
        TensorView gu = ex.matmul_id(x, gate_up_, r.ids);  // [n_tok, n_used, 2·d_ff]: [gate | up] per slot
        if (ex.failed()) return {};
        scale_by_expert(ex, gu.as_2d(), up_s_, r.ids);  // llama.cpp scales the merged rows by up's scale
        const int64_t d_ff = gu.dim(2) / 2;
        g = gu.as_2d();
        g.shape[1] = d_ff;
        u = g;
        u.data = static_cast<float*>(g.data) + d_ff;
    } else {
        const TensorView up = ex.matmul_id(x, up_, r.ids), gate = ex.matmul_id(x, gate_, r.ids);
        if (ex.failed()) return {};
        u = up.as_2d();
        g = gate.as_2d();
        scale_by_expert(ex, u, up_s_, r.ids);
        scale_by_expert(ex, g, gate_s_, r.ids);
    }
    ex.name(g, me + ".gate");
    ex.name(u, me + ".up");
    TensorView h = ex.name(ex.glu(act_, g, u), me + ".glu");  // [n_tok · n_used, d_ff]
    if (ex.failed()) return {};
    TensorView h3 = TensorView::dense(h.data, DType::f32, {n_tok, n_used_, h.row_length()});
    TensorView experts = ex.matmul_id(h3, down_, r.ids);  // [n_tok, n_used, d_model]
    if (!ex.failed()) scale_by_expert(ex, experts.as_2d(), down_s_, r.ids);
    ex.name(experts, me + ".down");
    TensorView y = ex.name(ex.weighted_sum(experts, r.weights), me + ".experts");
    if (shared_.gate.empty()) return y;

    TensorView s = ex.name(shared_(ex, x, me + ".shared"), me + ".shared");
    if (!shared_gate_inp_.empty()) {
        TensorView z = shared_gate_inp_(ex, x);  // [n_tok, 1]
        if (ex.failed()) return {};
        TensorView factor = ex.like(z);
        ex.scale(z, 1.f, factor);  // a copy
        if (shared_gate_act_ == SharedGateAct::sigmoid) {
            ex.unary(exec::UnaryOp::sigmoid, factor);
        } else {
            ex.unary(exec::UnaryOp::silu, factor);
            ex.div(factor, z);
        }
        ex.mul(s, ex.name(factor, me + ".shared_gate"));
    }
    ex.add(y, s);
    return y;
}

}  // namespace

std::unique_ptr<Block> make_moe(BindContext& c) {
    auto b = std::make_unique<Moe>();
    const int64_t d_model = c.integer("d_model", "n_embd");
    const int64_t n_expert = c.integer("n_expert", "n_expert");
    const int64_t n_used = c.integer("n_used", "at(n_expert_used, layer)");
    const int64_t d_ff = c.integer("d_ff", "at(n_ff_exp, layer)");
    const std::string layer_text = c.layer >= 0 ? fmt::format(" (layer {})", c.layer) : "";
    if (n_expert < 1 || n_expert > 4096 || n_used < 1 || n_used > n_expert || d_ff < 1) {
        c.weights.error(
            fmt::format("{}: {} experts, {} used per token, expert width {}{}: need 1 <= used <= experts "
                        "<= 4096 and a positive width",
                        c.spec.where(), n_expert, n_used, d_ff, layer_text));
        return b;
    }
    b->n_used_ = n_used;
    b->router_ = bind_linear(c, "router", n_expert, d_model);
    b->input_norm_ = c.weights.bind_f32(c.spec, "input_norm", {d_model}, c.layer, false);
    if (c.spec.has("router_input")) {
        auto sub = c.spec.table("router_input");
        if (!sub.ok()) {
            c.record(sub.error());
        } else {
            BindContext r{*sub, c.scope, c.layer, c.weights, c.side_inputs};
            b->router_rms_ = r.flag("rms_norm", false);
            b->router_scale_ = float(r.number("scale", "1"));
            b->router_w_ = c.weights.bind_f32(*sub, "weight", {d_model}, c.layer, false);
            if (auto s = sub->check_unknown_keys(); !s.ok()) c.record(s.error());
        }
    } else {
        (void)c.spec.table("router_input");  // marks the key as known
    }
    if (b->router_rms_ || !b->input_norm_.empty()) {
        b->eps_ = float(c.number("norm_eps", "eps"));
    } else {
        c.spec.accept("norm_eps");
    }
    const std::string gating = c.word("gating", {"softmax", "sigmoid", "softmax_weight", "sqrt_softplus"}, "softmax");
    b->gating_ = gating == "softmax"          ? Gating::softmax
                 : gating == "sigmoid"        ? Gating::sigmoid
                 : gating == "softmax_weight" ? Gating::softmax_weight
                                              : Gating::sqrt_softplus;
    b->route_.softmax_weights = b->gating_ == Gating::softmax_weight;
    b->route_.bias = c.weights.bind_f32(c.spec, "selection_bias", {n_expert}, c.layer, false);
    b->route_.normalize = c.number("normalize", "0") != 0;
    b->route_.scale = float(c.number("scale", "0"));
    b->route_.n_group = int(c.integer("n_group", "1"));
    b->route_.n_group_used = int(c.integer("n_group_used", "1"));
    const int64_t groups = b->route_.n_group, groups_used = b->route_.n_group_used;
    if (groups < 1 || n_expert % groups != 0 || (groups > 1 && n_expert / groups < 2) || groups_used < 1 ||
        groups_used > groups || groups_used * (n_expert / groups) < n_used)
        c.weights.error(
            fmt::format("{}: {} expert groups, {} used, for {} experts ({} used per token){}: need groups "
                        "of at least 2 experts that divide the experts, and enough kept groups",
                        c.spec.where(), groups, groups_used, n_expert, n_used, layer_text));

    // One merged gate_up tensor, or (when the block names none, or an optional one the file lacks) gate and up.
    b->gate_up_ = c.weights.bind(c.spec, "gate_up", {n_expert, 2 * d_ff, d_model}, c.layer, WeightUse::matmul);
    if (!b->gate_up_.empty() || (c.spec.has("gate_up") && !c.spec.has("gate"))) {
        for (const char* key : {"gate", "up"}) c.spec.accept(key);
        if (b->gate_up_.empty() && c.weights.ok())
            c.weights.error(fmt::format("{}: needs weight 'gate_up'{}", c.spec.where(), layer_text));
    } else {
        b->gate_ = c.weights.need(c.spec, "gate", {n_expert, d_ff, d_model}, c.layer, WeightUse::matmul);
        b->up_ = c.weights.need(c.spec, "up", {n_expert, d_ff, d_model}, c.layer, WeightUse::matmul);
    }
    b->down_ = c.weights.need(c.spec, "down", {n_expert, d_model, d_ff}, c.layer, WeightUse::matmul);
    for (auto [key, out] : {std::pair{"gate_scale", &b->gate_s_}, {"up_scale", &b->up_s_}, {"down_scale", &b->down_s_}})
        if (TensorView t = c.weights.bind_f32(c.spec, key, {n_expert}, c.layer, false); !t.empty())
            *out = TensorView::dense(t.data, DType::f32, {n_expert, 1});
    b->act_ = bind_activation(c, "activation", "silu");

    // The shared expert: present when its weights are (a family lists them optional, '?', where files vary).
    const int64_t d_shared = c.integer("shared_d_ff", "0");
    if (d_shared > 0) {
        b->shared_.gate = bind_linear(c, "shared_gate", d_shared, d_model, false);
        b->shared_.up = bind_linear(c, "shared_up", d_shared, d_model, !b->shared_.gate.empty());
        b->shared_.down = bind_linear(c, "shared_down", d_model, d_shared, !b->shared_.gate.empty());
        b->shared_.act = b->act_;
        if (TensorView w = c.weights.bind(c.spec, "shared_gate_inp", {d_model}, c.layer, WeightUse::other); !w.empty())
            b->shared_gate_inp_.w = TensorView::dense(w.data, w.dtype, {1, d_model});
        const std::string act = c.word("shared_gate_act", {"sigmoid", "silu_div"}, "sigmoid");
        b->shared_gate_act_ = act == "sigmoid" ? SharedGateAct::sigmoid : SharedGateAct::silu_div;
    } else {
        for (const char* key : {"shared_gate", "shared_up", "shared_down", "shared_gate_bias", "shared_up_bias",
                                "shared_down_bias", "shared_gate_inp", "shared_gate_act"})
            c.spec.accept(key);
    }
    return b;
}

}  // namespace loom::blocks
