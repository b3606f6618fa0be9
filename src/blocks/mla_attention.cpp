// mla_attention: multi-head latent attention with absorbed weights, as llama.cpp runs DeepSeek-V2/V3
// (architectures §8.4). Per token:
//   q      = W_q x, or W_q_b RMSNorm(W_q_a x)          [H, Dq], each head [q_nope (Dn) | q_pe (R)]
//   kv     = W_kv_a x                                  [Rkv + R] = [c | k_pe]
//   c      = RMSNorm(c); k_pe, q_pe = rope(·)           one k_pe for every head
//   qa_h   = k_b_h q_nope_h                             [Rkv], the key decompression absorbed into the query
//   K      = [c | k_pe], V = c                          one latent row per token is all the memory keeps
//   lat_h  = attention([qa_h | q_pe_h], K, V)           multi-query: every head reads the one latent row
//   o_h    = v_b_h lat_h                                [Dv], the value decompression
//   y      = W_o concat(o_h)
// The per-head matmuls (k_b, v_b) run as one expert matmul with every head's matrix its own "expert", rounded as
// llama.cpp's mul_mat of a 3-D weight rounds each head (ExpertRounding::mul_mat; see forward() for k_b's f32
// exception); like llama.cpp, loom leaves these weights in the file's layout (not packed). The memory is K-only: V is a
// view of the first Rkv columns of each cached row.
#include <fmt/format.h>

#include <cstring>

#include "blocks/block.h"
#include "blocks/kinds.h"

namespace loom::blocks {
namespace {

class MlaAttention final : public Block {
public:
    TensorView forward(exec::Exec& ex, const TensorView& x, const Pass& pass) const override;
    std::optional<exec::MemorySpec> memory_spec() const override {
        return exec::MemorySpec::kv_k_only(1, kv_rank_ + n_rot_, kv_rank_);
    }

    int64_t n_head_ = 0, d_qk_ = 0, d_v_ = 0, n_rot_ = 0, kv_rank_ = 0;
    Linear q_, q_a_, q_b_, kv_a_, o_;
    TensorView q_a_norm_, kv_a_norm_;  // [Rq], [Rkv] f32
    TensorView k_b_, v_b_;             // [H, Rkv, Dn], [H, Dv, Rkv]
    float eps_ = 1e-6f, scale_ = 1.f;
    kernels::RopeArgs rope_;
};

// dst[t, h, first : first + src's width] = src[t, h] (src [n, heads or 1, d]: one head repeats over dst's).
void place(const TensorView& src, const TensorView& dst, int64_t first) {
    const int64_t n = dst.dim(0), heads = dst.dim(1), d = src.dim(2);
    for (int64_t t = 0; t < n; ++t)
        for (int64_t h = 0; h < heads; ++h)
            std::memcpy(dst.row<float>(t * heads + h) + first,
                        src.row<float>(t * src.dim(1) + (src.dim(1) == 1 ? 0 : h)), size_t(d) * 4);
}

TensorView MlaAttention::forward(exec::Exec& ex, const TensorView& x, const Pass& pass) const {
    const std::string& me = label();
    const int64_t n = x.dim(0), H = n_head_, R = n_rot_, Dn = d_qk_ - R, Rkv = kv_rank_;
    TensorView q;  // [n, H · Dq]
    if (!q_.empty()) {
        q = q_(ex, x);
    } else {
        TensorView qa = q_a_(ex, x);
        if (ex.failed()) return {};
        q = q_b_(ex, ex.norm(exec::NormKind::rms, qa, q_a_norm_, eps_));
    }
    TensorView kv = kv_a_(ex, x);  // [n, Rkv + R]
    if (ex.failed()) return {};
    ex.name(q, me + ".q");

    // The rope parts, rotated apart (NORM pairs within the R dims), and the normalised latent.
    kernels::RopeArgs r = rope_;
    r.pos = pass.pos;
    TensorView q_pe = head_columns(ex, q, H, d_qk_, Dn, R);
    TensorView k_pe = head_columns(ex, kv, 1, Rkv + R, Rkv, R);
    ex.rope(q_pe, r);
    ex.rope(k_pe, r);
    TensorView c_view = kv.narrow(0, n);
    c_view.shape[1] = Rkv;  // the first Rkv columns of each row; the row stride stays Rkv + R
    const TensorView c = ex.norm(exec::NormKind::rms, c_view, kv_a_norm_, eps_);
    if (ex.failed()) return {};

    // Absorb k_b into the queries: head h's q_nope through head h's matrix.
    TensorView heads = ex.tensor(DType::i32, {n, H});
    for (int64_t t = 0; t < n; ++t)
        for (int64_t h = 0; h < H; ++h) heads.row<int32_t>(t)[h] = int32_t(h);
    const TensorView q_nope = head_columns(ex, q, H, d_qk_, 0, Dn);
    // llama.cpp multiplies k_b by a permuted (non-contiguous) q_nope: f32 weights then take ggml's vec_dot for every
    // row, while other types first convert q_nope to a contiguous copy, which goes on as a plain 3-D mul_mat.
    const auto k_b_rounding =
        k_b_.dtype == DType::f32 ? kernels::ExpertRounding::per_row : kernels::ExpertRounding::mul_mat;
    const TensorView qa = ex.matmul_id(q_nope, k_b_, heads, k_b_rounding);  // [n, H, Rkv]
    if (ex.failed()) return {};
    TensorView Q = ex.tensor(DType::f32, {n, H, Rkv + R});
    TensorView K = ex.tensor(DType::f32, {n, 1, Rkv + R});
    place(qa, Q, 0);
    place(q_pe, Q, Rkv);
    place(TensorView::dense(c.data, DType::f32, {n, 1, Rkv}), K, 0);
    place(k_pe, K, Rkv);
    ex.name(Q, me + ".qk");
    ex.name(K, me + ".k");

    TensorView lat = ex.tensor(DType::f32, {n, H, Rkv});
    exec::Memory& mem = *pass.memory;
    for (const Segment& s : pass.segments) {
        const TensorView kc = mem.k(pass.layer, s.seq), vc = mem.v(pass.layer, s.seq);
        const int64_t slot = mem.layer_slot(pass.layer, s.seq, s.first_slot);
        ex.convert(K.narrow(s.first, s.count).as_2d(), kc.narrow(slot, s.count).as_2d());
        const int64_t used = mem.n_held(pass.layer, s.seq);
        kernels::AttentionArgs a;
        a.q = Q.narrow(s.first, s.count);
        a.q_pos = pass.pos.narrow(s.first, s.count);
        a.out = lat.narrow(s.first, s.count);
        a.k = kc.narrow(0, used);
        a.v = vc.narrow(0, used);
        a.kv_pos = mem.slot_pos(pass.layer, s.seq).narrow(0, used);
        a.scale = scale_;
        ex.attention(a);
    }
    ex.name(lat, me + ".attn");
    // Decompress each head's latent through v_b.
    const TensorView o = ex.matmul_id(lat, v_b_, heads, kernels::ExpertRounding::mul_mat);  // [n, H, Dv]
    if (ex.failed()) return {};
    ex.name(o, me + ".v");
    return o_(ex, TensorView::dense(o.data, DType::f32, {n, H * d_v_}));
}

}  // namespace

std::unique_ptr<Block> make_mla_attention(BindContext& c) {
    auto b = std::make_unique<MlaAttention>();
    const int64_t d_model = c.integer("d_model", "n_embd");
    b->n_head_ = c.integer("n_head", "at(n_head, layer)");
    b->d_qk_ = c.integer("head_dim", "head_dim");
    b->d_v_ = c.integer("head_dim_v", "head_dim_v");
    b->n_rot_ = c.integer("n_rot", "n_rot");
    b->kv_rank_ = c.integer("kv_lora_rank", "kv_lora_rank");
    b->eps_ = float(c.number("norm_eps", "eps"));
    b->scale_ = float(c.number("scale", "1 / sqrt(head_dim)"));
    const int64_t H = b->n_head_, Dq = b->d_qk_, Dv = b->d_v_, R = b->n_rot_, Rkv = b->kv_rank_;
    std::vector<std::string> bad;
    if (H < 1 || H > 4096) bad.push_back(fmt::format("heads {} outside 1..4096", H));
    if (R < 2 || R % 2 != 0 || R >= Dq || Dq > 4096)
        bad.push_back(fmt::format("rope dims {} must be even and below the query head size {} (<= 4096)", R, Dq));
    if (Dv < 1 || Dv > 4096) bad.push_back(fmt::format("value head size {} outside 1..4096", Dv));
    if (Rkv < 1 || Rkv > 65536) bad.push_back(fmt::format("kv_lora_rank {} outside 1..65536", Rkv));
    if (!bad.empty()) {
        for (const std::string& m : bad) c.weights.error(fmt::format("{}: {}", c.spec.where(), m));
        return b;
    }
    // Queries: a plain projection (the lite variant) where the file has one, else the low-rank pair.
    b->q_ = bind_linear(c, "q", H * Dq, d_model, false);
    for (const char* key : {"q", "q_a", "q_a_norm", "q_b"}) c.spec.accept(key);
    if (b->q_.empty()) {
        b->q_a_ = bind_linear(c, "q_a", -1, d_model);
        const int64_t rq = b->q_a_.empty() ? 1 : b->q_a_.w.dim(0);
        b->q_a_norm_ = c.weights.bind_f32(c.spec, "q_a_norm", {rq}, c.layer, true);
        b->q_b_ = bind_linear(c, "q_b", H * Dq, rq);
    }
    b->kv_a_ = bind_linear(c, "kv_a", Rkv + R, d_model);
    b->kv_a_norm_ = c.weights.bind_f32(c.spec, "kv_a_norm", {Rkv}, c.layer, true);
    // Not WeightUse::matmul: a packed layout would change the recipe of Q4_K heads (ggml repacks no 3-D mul_mat
    // weight).
    b->k_b_ = c.weights.need(c.spec, "k_b", {H, Rkv, Dq - R}, c.layer);
    b->v_b_ = c.weights.need(c.spec, "v_b", {H, Dv, Rkv}, c.layer);
    b->o_ = bind_linear(c, "o", d_model, H * Dv);
    if (!bind_rope(c, b->rope_, R))
        c.weights.error(c.spec.where() + ": latent attention needs a rope table (its rope part is always rotated)");
    return b;
}

}  // namespace loom::blocks
