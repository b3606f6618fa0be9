// embedding: h[t] = table[token[t]] · scale (rows of any weight type, dequantized to f32).
#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class Embedding final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView&, const Pass& pass) const override {
        TensorView h = ex.get_rows(table_, pass.tokens);
        // f32 multiply, as llama.cpp scales Gemma's embeddings by sqrtf(n_embd).
        if (scale_ != 1.f) ex.scale(h, scale_);
        return h;
    }

    TensorView table_;  // [n_vocab, n_embd]
    float scale_ = 1.f;
};

}  // namespace

std::unique_ptr<Block> make_embedding(BindContext& c) {
    auto b = std::make_unique<Embedding>();
    const int64_t n_vocab = c.integer("n_vocab", "n_vocab");
    const int64_t n_embd = c.integer("n_embd", "n_embd");
    b->table_ = c.weights.need(c.spec, "weight", {n_vocab, n_embd}, c.layer);
    b->scale_ = float(c.number("scale", "1"));
    return b;
}

}  // namespace loom::blocks
