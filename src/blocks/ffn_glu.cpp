// ffn_glu: gated feed-forward, y = down(act(gate x + b_g) ⊙ (up x + b_u)) + b_d. SwiGLU (silu) and
// GeGLU (gelu_tanh, as Gemma) are the same block with another activation.
// up_input = "<side input>" replaces the up projection with this layer's slice of a side input: columns
// [layer·d_ff, (layer + 1)·d_ff) of it (per-layer embeddings: y = down(act(gate x) ⊙ e_layer)).
#include <fmt/format.h>

#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class FfnGlu final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass& pass) const override {
        if (up_input_.empty()) return mlp_(ex, x, label());
        const auto side = pass.side.find(up_input_);
        const int64_t first = pass.layer * d_ff_;
        if (side == pass.side.end() || side->second.row_length() < first + d_ff_) {
            ex.fail(Error::invalid("{}: side input '{}' is missing or has no columns {}..{} for this layer", label(),
                                   up_input_, first, first + d_ff_));
            return {};
        }
        const TensorView g = ex.name(mlp_.gate(ex, x), label() + ".gate");
        const TensorView u = head_columns(ex, side->second, 1, side->second.row_length(), first, d_ff_);
        const TensorView h = ex.name(ex.glu(mlp_.act, g, u.as_2d()), label() + ".glu");
        return mlp_.down(ex, h);
    }

    GluMlp mlp_;  // gate, up [d_ff, d_model]; down [d_model, d_ff]
    std::string up_input_;
    int64_t d_ff_ = 0;
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
    b->d_ff_ = d_ff;
    if (c.spec.has("up_input")) {
        c.spec.accept("up");
        if (!c.side_inputs || c.side_inputs->empty()) {
            c.spec.accept("up_input");
            c.weights.error(c.spec.where() + ": up_input names a side input, but this model has none ([model] side)");
        } else {
            b->up_input_ = c.word("up_input", {c.side_inputs->begin(), c.side_inputs->end()}, "");
        }
        if (c.layer < 0) c.weights.error(c.spec.where() + ": up_input reads a layer's slice: use it in [layer]");
    } else {
        c.spec.accept("up_input");
        b->mlp_.up = bind_linear(c, "up", d_ff, d_model);
    }
    b->mlp_.down = bind_linear(c, "down", d_model, d_ff);
    return b;
}

}  // namespace loom::blocks
