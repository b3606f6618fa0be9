// ffn_glu: gated feed-forward, y = down(act(gate x + b_g) ⊙ (up x + b_u)) + b_d. SwiGLU (silu) and
// GeGLU (gelu_tanh, as Gemma) are the same block with another activation.
#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class FfnGlu final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass&) const override {
        TensorView g = ex.matmul(x, gate_);  // [n_tok, d_ff]
        if (!gate_b_.empty()) ex.add(g, gate_b_);
        TensorView u = ex.matmul(x, up_);
        if (!up_b_.empty()) ex.add(u, up_b_);
        ex.name(g, label() + ".gate");
        ex.name(u, label() + ".up");
        TensorView h = ex.name(ex.glu(act_, g, u), label() + ".glu");
        TensorView y = ex.matmul(h, down_);  // [n_tok, d_model]
        if (!down_b_.empty()) ex.add(y, down_b_);
        return y;
    }

    exec::UnaryOp act_ = exec::UnaryOp::silu;
    TensorView gate_, up_;          // [d_ff, d_model]
    TensorView down_;               // [d_model, d_ff]
    TensorView gate_b_, up_b_, down_b_;
};

}  // namespace

std::unique_ptr<Block> make_ffn_glu(BindContext& c) {
    auto b = std::make_unique<FfnGlu>();
    const int64_t d_model = c.integer("d_model", "n_embd");
    const int64_t d_ff = c.integer("d_ff", "at(n_ff, layer)");
    const std::string act = c.word("activation", {"silu", "gelu_tanh", "gelu_erf", "gelu_quick", "relu"}, "silu");
    b->act_ = act == "silu"         ? exec::UnaryOp::silu
              : act == "gelu_tanh"  ? exec::UnaryOp::gelu_tanh
              : act == "gelu_erf"   ? exec::UnaryOp::gelu_erf
              : act == "gelu_quick" ? exec::UnaryOp::gelu_quick
                                    : exec::UnaryOp::relu;
    b->gate_ = c.weights.need(c.spec, "gate", {d_ff, d_model}, c.layer, WeightUse::matmul);
    b->up_ = c.weights.need(c.spec, "up", {d_ff, d_model}, c.layer, WeightUse::matmul);
    b->down_ = c.weights.need(c.spec, "down", {d_model, d_ff}, c.layer, WeightUse::matmul);
    b->gate_b_ = c.weights.bind_f32(c.spec, "gate_bias", {d_ff}, c.layer, false);
    b->up_b_ = c.weights.bind_f32(c.spec, "up_bias", {d_ff}, c.layer, false);
    b->down_b_ = c.weights.bind_f32(c.spec, "down_bias", {d_model}, c.layer, false);
    return b;
}

}  // namespace loom::blocks
