// softcap: y = cap · tanh(x / cap); cap = 0 passes x through (an option files can compute).
#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class Softcap final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass&) const override {
        if (cap_ <= 0.f) return x;
        // Three steps in f32, in llama.cpp's order (scale, tanh, scale), so the rounding matches.
        TensorView y = ex.like(x);
        ex.scale(x, 1.f / cap_, y);
        ex.unary(exec::UnaryOp::tanh, y);
        ex.scale(y, cap_);
        return y;
    }

    float cap_ = 0.f;
};

}  // namespace

std::unique_ptr<Block> make_softcap(BindContext& c) {
    auto b = std::make_unique<Softcap>();
    b->cap_ = float(c.number("cap", "0"));
    if (b->cap_ < 0) c.weights.error(c.spec.where() + ": cap must be >= 0");
    return b;
}

}  // namespace loom::blocks
