// scale: y = x · s, one f32 factor for the whole activation: an expression (`factor`), or the one value of a
// [1] f32 weight (`weight`, e.g. a layer's output scale), read when the model loads.
#include <fmt/format.h>

#include <cmath>

#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class Scale final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass&) const override {
        TensorView y = ex.like(x);
        ex.scale(x, factor_, y);  // an f32 multiply, as ggml_scale and ggml_mul by a one-element tensor round
        return y;
    }

    float factor_ = 1.f;
};

}  // namespace

std::unique_ptr<Block> make_scale(BindContext& c) {
    auto b = std::make_unique<Scale>();
    if (c.spec.has("weight") == c.spec.has("factor")) {
        c.weights.error(c.spec.where() + ": needs one of factor = <expr> or weight = \"<[1] f32 tensor>\"");
        for (const char* key : {"weight", "factor"}) c.spec.accept(key);
        return b;
    }
    if (c.spec.has("weight")) {
        const TensorView w = c.weights.bind_f32(c.spec, "weight", {1}, c.layer, true);
        if (!w.empty()) b->factor_ = *static_cast<const float*>(w.data);
        c.spec.accept("factor");
    } else {
        b->factor_ = float(c.number("factor", "1"));
        c.spec.accept("weight");
    }
    if (!std::isfinite(b->factor_))
        c.weights.error(fmt::format("{}: the factor {} is not finite", c.spec.where(), b->factor_));
    return b;
}

}  // namespace loom::blocks
