// Norm blocks: rms_norm (y = x / rms(x) ⊙ w), layer_norm (mean/variance, ⊙ w + b) and l2_norm
// (y = x / max(‖x‖, eps)), over the last dim of the activation.
#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class Norm final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass&) const override {
        return ex.norm(kind_, x, w_, eps_, b_);
    }

    exec::NormKind kind_ = exec::NormKind::rms;
    TensorView w_;  // [dim] f32 or empty (= 1)
    TensorView b_;  // [dim] f32 or empty (layer_norm only)
    float eps_ = 1e-6f;
};

std::unique_ptr<Block> make(BindContext& c, exec::NormKind kind) {
    auto b = std::make_unique<Norm>();
    b->kind_ = kind;
    const int64_t dim = c.integer("dim", "n_embd");
    b->eps_ = float(c.number("eps", "eps"));
    if (kind != exec::NormKind::l2) b->w_ = c.weights.bind_f32(c.spec, "weight", {dim}, c.layer, true);
    if (kind == exec::NormKind::layer) b->b_ = c.weights.bind_f32(c.spec, "bias", {dim}, c.layer, false);
    return b;
}

}  // namespace

std::unique_ptr<Block> make_rms_norm(BindContext& c) { return make(c, exec::NormKind::rms); }
std::unique_ptr<Block> make_layer_norm(BindContext& c) { return make(c, exec::NormKind::layer); }
std::unique_ptr<Block> make_l2_norm(BindContext& c) { return make(c, exec::NormKind::l2); }

}  // namespace loom::blocks
