// linear: y = W x (+ b). The output head is one (its weight usually falls back to the token embedding).
#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class Linear final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass&) const override {
        TensorView y = ex.matmul(x, w_);
        if (!b_.empty()) ex.add(y, b_);
        return y;
    }

    TensorView w_;  // [n_out, n_in], any type
    TensorView b_;  // [n_out] f32 or empty
};

}  // namespace

std::unique_ptr<Block> make_linear(BindContext& c) {
    auto b = std::make_unique<Linear>();
    const int64_t n_in = c.integer("n_in", "n_embd");
    const int64_t n_out = c.integer("n_out", "n_vocab");
    b->w_ = c.weights.need(c.spec, "weight", {n_out, n_in}, c.layer, WeightUse::matmul);
    b->b_ = c.weights.bind_f32(c.spec, "bias", {n_out}, c.layer, false);
    return b;
}

}  // namespace loom::blocks
