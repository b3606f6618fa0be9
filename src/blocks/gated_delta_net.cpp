// gated_delta_net: linear attention with a recurrent state (Gated DeltaNet; architectures §6.3), per token:
//   m = W_qkv x                     [C] = [q (Hk·Dk) | k (Hk·Dk) | v (Hv·Dv)]
//   z = W_gate x                    [Hv·Dv], the output gate
//   β = sigmoid(W_beta x)           [Hv]
//   g = a ⊙ softplus(W_alpha x + dt_bias)    [Hv], the log decay (a < 0 in the file)
//   u = silu(causal depthwise conv of m over the carried history of the last K − 1 inputs)
//   q, k = L2-normalised heads of u; v = the rest of u
//   o = the gated delta rule over the state S [Hv, Dv, Dk] (value head j reads key head j mod Hk), scale 1/√Dk
//   y = W_out (RMSNorm(o per head) · norm ⊙ silu(z))
// The conv history and S live in the layer's recurrent memory, one of each per sequence; a pass runs each of
// its sequences' tokens in order through them.
//
// Rounding follows llama.cpp's graph: the L2 norm is ggml's rms_norm with eps / Dk then a scale by 1/√Dk
// (build_gdn_l2_norm), and every elementwise step is its own op.
#include <fmt/format.h>

#include <cmath>

#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

// Columns [first, first + heads · d) of an [n, C] f32 tensor, seen as [n, heads, d] (rows strided by C).
TensorView heads_of(const TensorView& t, int64_t first, int64_t heads, int64_t d) {
    TensorView v;
    v.data = static_cast<uint8_t*>(t.data) + first * int64_t(sizeof(float));
    v.dtype = DType::f32;
    v.device = t.device;
    v.rank = 3;
    v.shape[0] = t.shape[0];
    v.shape[1] = heads;
    v.shape[2] = d;
    v.stride[0] = t.stride[0];
    v.stride[1] = d * int64_t(sizeof(float));
    v.stride[2] = sizeof(float);
    return v;
}

class GatedDeltaNet final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass& pass) const override;
    std::optional<exec::MemorySpec> memory_spec() const override {
        return exec::MemorySpec::recurrent(conv_k_ - 1, channels(), n_v_, d_v_, d_k_);
    }
    int64_t channels() const { return 2 * n_k_ * d_k_ + n_v_ * d_v_; }

    int64_t n_k_ = 0, n_v_ = 0, d_k_ = 0, d_v_ = 0, conv_k_ = 0;
    float eps_ = 1e-6f;
    Linear qkv_, gate_, beta_, alpha_, out_;
    TensorView conv_;     // [C, K] f32
    TensorView dt_bias_;  // [Hv] f32
    TensorView a_;        // [Hv] f32
    TensorView norm_;     // [Dv] f32
};

// L2 norm of each head as llama.cpp computes it: rms_norm(x, eps / d) · (1 / √d).
TensorView l2_heads(exec::Exec& ex, const TensorView& x, float eps) {
    const float d = float(x.row_length());
    TensorView y = ex.norm(exec::NormKind::rms, x, {}, eps / d);
    if (!ex.failed()) ex.scale(y, 1.f / std::sqrt(d));
    return y;
}

TensorView GatedDeltaNet::forward(exec::Exec& ex, const TensorView& x, const Pass& pass) const {
    const std::string& me = label();
    const int64_t n_tok = x.dim(0), ck = n_k_ * d_k_, cv = n_v_ * d_v_;
    TensorView mixed = ex.name(qkv_(ex, x), me + ".qkv");
    TensorView z = ex.name(gate_(ex, x), me + ".z");
    TensorView beta = beta_(ex, x);
    ex.unary(exec::UnaryOp::sigmoid, beta);
    TensorView g = alpha_(ex, x);
    ex.add(g, dt_bias_);
    ex.unary(exec::UnaryOp::softplus, g);
    ex.mul(g, a_);
    ex.name(beta, me + ".beta");
    ex.name(g, me + ".g");
    if (ex.failed()) return {};

    // Conv over each sequence's carried history, then silu.
    exec::Memory& mem = *pass.memory;
    TensorView u = ex.tensor(DType::f32, {n_tok, channels()});
    for (const Segment& s : pass.segments) {
        ex.conv1d(mixed.narrow(s.first, s.count), conv_, mem.conv_state(pass.layer, s.seq), u.narrow(s.first, s.count));
    }
    ex.unary(exec::UnaryOp::silu, u);
    ex.name(u, me + ".conv");

    const TensorView q = l2_heads(ex, heads_of(u, 0, n_k_, d_k_), eps_);
    const TensorView k = l2_heads(ex, heads_of(u, ck, n_k_, d_k_), eps_);
    const TensorView v = heads_of(u, 2 * ck, n_v_, d_v_);
    if (ex.failed()) return {};

    TensorView o = ex.tensor(DType::f32, {n_tok, n_v_, d_v_});
    for (const Segment& s : pass.segments) {
        kernels::DeltaNetArgs a;
        a.q = q.narrow(s.first, s.count);
        a.k = k.narrow(s.first, s.count);
        a.v = v.narrow(s.first, s.count);
        a.g = g.narrow(s.first, s.count);
        a.beta = beta.narrow(s.first, s.count);
        a.state = mem.recurrent_state(pass.layer, s.seq);
        a.out = o.narrow(s.first, s.count);
        a.scale = 1.f / std::sqrt(float(d_k_));  // as ggml's gated_delta_net: 1/sqrtf(S_v), S_v = Dk here
        ex.delta_net(a);
    }
    ex.name(o, me + ".delta");

    // Gated RMSNorm per head, then the output projection.
    TensorView r = ex.norm(exec::NormKind::rms, o, norm_, eps_);
    if (ex.failed()) return {};
    ex.unary(exec::UnaryOp::silu, z);
    ex.mul(r, TensorView::dense(z.data, DType::f32, {n_tok, n_v_, d_v_}));
    ex.name(r, me + ".gated");
    return out_(ex, TensorView::dense(r.data, DType::f32, {n_tok, cv}));
}

}  // namespace

std::unique_ptr<Block> make_gated_delta_net(BindContext& c) {
    auto b = std::make_unique<GatedDeltaNet>();
    const int64_t d_model = c.integer("d_model", "n_embd");
    b->n_k_ = c.integer("n_k_heads", "ssm_n_group");
    b->n_v_ = c.integer("n_v_heads", "ssm_dt_rank");
    b->d_k_ = c.integer("d_state", "ssm_d_state");
    const int64_t inner = c.integer("d_inner", "ssm_d_inner");
    b->conv_k_ = c.integer("conv_kernel", "ssm_d_conv");
    b->eps_ = float(c.number("norm_eps", "eps"));
    // Every problem with the sizes at once; nothing is sized from them unless all are sane.
    std::vector<std::string> bad;
    const int64_t Hk = b->n_k_, Hv = b->n_v_, Dk = b->d_k_;
    if (Hk < 1 || Hk > 4096) bad.push_back(fmt::format("key heads {} outside 1..4096", Hk));
    if (Hv < 1 || Hv > 4096) bad.push_back(fmt::format("value heads {} outside 1..4096", Hv));
    if (Dk < 1 || Dk > 4096) bad.push_back(fmt::format("state size {} outside 1..4096", Dk));
    if (b->conv_k_ < 2 || b->conv_k_ > 64) bad.push_back(fmt::format("conv kernel {} outside 2..64", b->conv_k_));
    if (Hk >= 1 && Hv >= 1 && Hv % Hk != 0)
        bad.push_back(fmt::format("value heads {} are not a multiple of key heads {}", Hv, Hk));
    if (Hv >= 1 && Dk >= 1 && inner != Hv * Dk)
        bad.push_back(
            fmt::format("inner size {} is not value heads × state size = {} × {} = {}", inner, Hv, Dk, Hv * Dk));
    if (!bad.empty()) {
        for (const std::string& m : bad) c.weights.error(fmt::format("{}: {}", c.spec.where(), m));
        return b;
    }
    b->d_v_ = inner / Hv;
    const int64_t C = b->channels(), Cv = Hv * b->d_v_;
    b->qkv_ = bind_linear(c, "qkv", C, d_model);
    b->gate_ = bind_linear(c, "gate", Cv, d_model);
    b->beta_ = bind_linear(c, "beta", Hv, d_model);
    b->alpha_ = bind_linear(c, "alpha", Hv, d_model);
    b->out_ = bind_linear(c, "out", d_model, Cv);
    b->conv_ = c.weights.bind_f32(c.spec, "conv", {C, b->conv_k_}, c.layer, true);
    b->dt_bias_ = c.weights.bind_f32(c.spec, "dt_bias", {Hv}, c.layer, true);
    b->a_ = c.weights.bind_f32(c.spec, "a", {Hv}, c.layer, true);
    b->norm_ = c.weights.bind_f32(c.spec, "norm", {b->d_v_}, c.layer, true);
    return b;
}

}  // namespace loom::blocks
