// Norm blocks: rms_norm (y = x / rms(x) ⊙ w), layer_norm (mean/variance, ⊙ w + b) and l2_norm
// (y = x / max(‖x‖, eps)), over the last dim of the activation, or with `group = g` over each run of g values
// (a row of L·g values is L independent norms sharing the weight [g], as per-layer embeddings are normed).
#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class Norm final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass&) const override {
        if (group_ == 0) return ex.norm(kind_, x, w_, eps_, b_);
        const int64_t n = x.n_rows(), width = x.row_length();
        if (width % group_ != 0 || !x.is_dense()) {
            ex.fail(Error::invalid("{}: rows of {} values do not split into groups of {}", label(), width, group_));
            return {};
        }
        const TensorView groups = TensorView::dense(x.data, DType::f32, {n, width / group_, group_});
        const TensorView y = ex.norm(kind_, groups, w_, eps_, b_);
        return TensorView::dense(y.data, DType::f32, {n, width});
    }

    exec::NormKind kind_ = exec::NormKind::rms;
    int64_t group_ = 0;  // 0: the whole row
    TensorView w_;       // [dim] f32 or empty (= 1)
    TensorView b_;       // [dim] f32 or empty (layer_norm only)
    float eps_ = 1e-6f;
};

std::unique_ptr<Block> make(BindContext& c, exec::NormKind kind) {
    auto b = std::make_unique<Norm>();
    b->kind_ = kind;
    b->group_ = c.integer("group", "0");
    const int64_t dim = b->group_ > 0 ? b->group_ : c.integer("dim", "n_embd");
    if (b->group_ < 0) c.weights.error(c.spec.where() + ": group must be positive");
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
