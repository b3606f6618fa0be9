// linear: y = W x (+ b), then · scale when one is given (an f32 multiply of its own, as llama.cpp scales a
// projection). The output head is one (its weight usually falls back to the token embedding).
// Also the Linear helper every block projects with, and head_columns for the parts of fused projections.
#include <cstring>

#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class LinearBlock final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass&) const override {
        TensorView y = proj_(ex, x);
        if (scale_ != 1.f) ex.scale(y, scale_);
        return y;
    }

    Linear proj_;  // [n_out, n_in], any type; bias [n_out] f32 or none
    float scale_ = 1.f;
};

}  // namespace

TensorView Linear::operator()(exec::Exec& ex, const TensorView& x) const {
    TensorView y = ex.matmul(x, w);
    if (!b.empty()) ex.add(y, b);
    return y;
}

Linear bind_linear(BindContext& c, const std::string& key, int64_t n_out, int64_t n_in, bool required,
                   const std::string& bias_key) {
    Linear l;
    l.w = required ? c.weights.need(c.spec, key, {n_out, n_in}, c.layer, WeightUse::matmul)
                   : c.weights.bind(c.spec, key, {n_out, n_in}, c.layer, WeightUse::matmul);
    l.b = c.weights.bind_f32(c.spec, bias_key.empty() ? key + "_bias" : bias_key, {n_out}, c.layer, false);
    return l;
}

TensorView head_columns(exec::Exec& ex, const TensorView& src, int64_t heads, int64_t width, int64_t first, int64_t d) {
    const int64_t n = src.dim(0);
    TensorView y = ex.tensor(DType::f32, {n, heads, d});
    for (int64_t t = 0; t < n; ++t)
        for (int64_t h = 0; h < heads; ++h)
            std::memcpy(y.row<float>(t * heads + h), src.row<float>(t) + h * width + first, size_t(d) * 4);
    return y;
}

exec::UnaryOp bind_activation(BindContext& c, const std::string& key, const std::string& fallback) {
    const std::string act = c.word(key, {"silu", "gelu_tanh", "gelu_erf", "gelu_quick", "relu"}, fallback);
    return act == "silu"         ? exec::UnaryOp::silu
           : act == "gelu_tanh"  ? exec::UnaryOp::gelu_tanh
           : act == "gelu_erf"   ? exec::UnaryOp::gelu_erf
           : act == "gelu_quick" ? exec::UnaryOp::gelu_quick
                                 : exec::UnaryOp::relu;
}

std::unique_ptr<Block> make_linear(BindContext& c) {
    auto b = std::make_unique<LinearBlock>();
    const int64_t n_in = c.integer("n_in", "n_embd");
    const int64_t n_out = c.integer("n_out", "n_vocab");
    b->proj_ = bind_linear(c, "weight", n_out, n_in, true, "bias");
    b->scale_ = float(c.number("scale", "1"));
    return b;
}

}  // namespace loom::blocks
