// ffn_glu: gated feed-forward, y = down(act(gate x + b_g) ⊙ (up x + b_u)) + b_d. SwiGLU (silu) and
// GeGLU (gelu_tanh, as Gemma) are the same block with another activation.
#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class FfnGlu final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass&) const override { return mlp_(ex, x, label()); }

    GluMlp mlp_;  // gate, up [d_ff, d_model]; down [d_model, d_ff]
};

}  // namespace

TensorView GluMlp::operator()(exec::Exec& ex, const TensorView& x, const std::string& label) const {
    TensorView g = ex.name(gate(ex, x), label + ".gate");  // [n_tok, d_ff]
    TensorView u = ex.name(up(ex, x), label + ".up");
    TensorView h = ex.name(ex.glu(act, g, u), label + ".glu");
    return down(ex, h);  // [n_tok, d_model]
}

std::unique_ptr<Block> make_ffn_glu(BindContext& c) {
    auto b = std::make_unique<FfnGlu>();
    const int64_t d_model = c.integer("d_model", "n_embd");
    const int64_t d_ff = c.integer("d_ff", "at(n_ff, layer)");
    b->mlp_.act = bind_activation(c, "activation", "silu");
    b->mlp_.gate = bind_linear(c, "gate", d_ff, d_model);
    b->mlp_.up = bind_linear(c, "up", d_ff, d_model);
    b->mlp_.down = bind_linear(c, "down", d_model, d_ff);
    return b;
}

}  // namespace loom::blocks
