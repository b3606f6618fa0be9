// The [rope] table a block may carry (attention, latent attention): mode, rotated dims, base and scale, YaRN,
// frequency factors, and imrope's sections, read into kernels::RopeArgs.
#include <fmt/format.h>

#include "blocks/block.h"

namespace loom::blocks {

namespace {
const std::vector<std::string> kRopeModes = {"norm", "neox", "imrope"};
}  // namespace

bool bind_rope(BindContext& c, kernels::RopeArgs& a, int64_t d_k) {
    if (!c.spec.has("rope")) {
        (void)c.spec.table("rope");  // marks the key as known
        return false;
    }
    auto sub = c.spec.table("rope");
    if (!sub.ok()) {
        c.record(sub.error());
        return false;
    }
    BindContext r{*sub, c.scope, c.layer, c.weights, c.side_inputs};
    const std::string mode = r.word("mode", kRopeModes, "norm");
    a.mode = mode == "norm"   ? kernels::RopeMode::norm
             : mode == "neox" ? kernels::RopeMode::neox
                              : kernels::RopeMode::imrope;
    a.n_rot = int(r.integer("n_rot", "head_dim"));
    a.freq_base = float(r.number("base", "rope_base"));
    a.freq_scale = float(r.number("freq_scale", "1"));
    a.ext_factor = float(r.number("ext_factor", "0"));
    a.attn_factor = float(r.number("attn_factor", "1"));
    a.beta_fast = float(r.number("beta_fast", "32"));
    a.beta_slow = float(r.number("beta_slow", "1"));
    a.n_ctx_orig = int(r.integer("n_ctx_orig", "n_ctx_train"));
    a.freq_factors = c.weights.bind_f32(*sub, "freq_factors", {a.n_rot / 2}, c.layer, false);
    if (a.mode == kernels::RopeMode::imrope) {
        auto e = sub->expr("sections");
        if (!e.ok()) {
            c.record(e.error());
            return false;
        }
        auto v = e->eval(c.scope);
        if (!v.ok() || v->kind != arch::Value::Kind::array || v->arr.size() != 4) {
            c.weights.error(fmt::format("{}: rope sections must be an array of 4 numbers", sub->where()));
            return false;
        }
        for (int i = 0; i < 4; ++i) a.sections[size_t(i)] = int(v->arr[size_t(i)]);
    }
    if (a.n_rot <= 0 || a.n_rot > d_k || a.n_rot % 2 != 0)
        c.weights.error(
            fmt::format("{}: rope n_rot = {} must be even and within 1..head_dim ({})", sub->where(), a.n_rot, d_k));
    if (!(a.freq_base > 0) || !(a.freq_scale > 0))
        c.weights.error(fmt::format("{}: rope base {} and freq_scale {} must be positive", sub->where(), a.freq_base,
                                    a.freq_scale));
    if (auto s = sub->check_unknown_keys(); !s.ok()) c.record(s.error());
    return true;
}

}  // namespace loom::blocks
