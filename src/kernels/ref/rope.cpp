// Reference rotary position embedding: ggml rope_ext semantics (normal, neox and interleaved-multi pairing,
// partial rotary dims, per-pair frequency factors, YaRN), with the angle table computed as ggml's CPU does.
#include <algorithm>
#include <numbers>
#include <vector>

#include "kernels/check.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::ref {

Status check_rope_args(const RopeArgs& a) {
    LOOM_RETURN_IF_ERROR(check_f32_rows("rope", "x", a.x));
    LOOM_RETURN_IF_ERROR(check_tensor("rope", "x", a.x, DType::f32, {-1, -1, -1}));
    LOOM_RETURN_IF_ERROR(check_f32_rows("rope", "y", a.y));
    LOOM_RETURN_IF_ERROR(check_same_shape("rope", "x", a.x, "y", a.y));
    const int64_t n_tok = a.x.dim(0), d_head = a.x.dim(2);
    if (a.n_rot <= 0 || a.n_rot % 2 != 0 || a.n_rot > d_head)
        return Error::invalid("rope: n_rot is {} (expected an even number in 2..d_head = {})", a.n_rot, d_head);
    if (a.mode == RopeMode::imrope) {
        LOOM_RETURN_IF_ERROR(check_tensor("rope", "pos", a.pos, DType::i32, {4, n_tok}));
        const auto& s = a.sections;
        if (s[0] < 0 || s[1] < 0 || s[2] < 0 || s[3] < 0 || s[0] + s[1] + s[2] + s[3] <= 0)
            return Error::invalid("rope: imrope sections are [{}, {}, {}, {}] (expected >= 0 with a positive sum)",
                                  s[0], s[1], s[2], s[3]);
    } else {
        LOOM_RETURN_IF_ERROR(check_tensor("rope", "pos", a.pos, DType::i32, {n_tok}));
    }
    if (a.pos.device != Device::cpu || a.pos.stride[a.pos.rank - 1] != int64_t(sizeof(int32_t)))
        return Error::invalid("rope: pos must be contiguous i32 in host memory");
    if (!a.freq_factors.empty()) {
        LOOM_RETURN_IF_ERROR(check_f32_rows("rope", "freq_factors", a.freq_factors));
        LOOM_RETURN_IF_ERROR(check_tensor("rope", "freq_factors", a.freq_factors, DType::f32, {a.n_rot / 2}));
    }
    if (!(a.freq_base > 0.0f) || !(a.freq_scale > 0.0f))
        return Error::invalid("rope: freq_base {} and freq_scale {} must be positive", a.freq_base, a.freq_scale);
    if (a.ext_factor != 0.0f && a.n_ctx_orig <= 0)
        return Error::invalid("rope: YaRN (ext_factor {}) needs n_ctx_orig > 0, got {}", a.ext_factor, a.n_ctx_orig);
    return Ok{};
}

RopeConsts rope_consts(const RopeArgs& a) {
    RopeConsts c;
    c.theta_scale = std::pow(a.freq_base, -2.0f / float(a.n_rot));
    c.mscale = a.attn_factor;
    if (a.ext_factor != 0.0f) {
        // ggml_rope_yarn_corr_dims: the pair index at which the wavelength crosses n_ctx_orig / beta
        // rotations, c(β) = n_rot · ln(n_ctx_orig / (2π β)) / (2 ln base), floored/ceiled and clamped.
        auto corr_dim = [&](float beta) {
            return float(a.n_rot) * std::log(float(a.n_ctx_orig) / (beta * 2.0f * std::numbers::pi_v<float>)) /
                   (2.0f * std::log(a.freq_base));
        };
        c.corr_lo = std::max(0.0f, std::floor(corr_dim(a.beta_fast)));
        c.corr_hi = std::min(float(a.n_rot - 1), std::ceil(corr_dim(a.beta_slow)));
        // rope_yarn: magnitude correction 1 + 0.1·ln(1/freq_scale), fused as fma(0.1, ln, 1) by GCC.
        c.mscale = a.attn_factor * std::fma(0.1f, std::log(1.0f / a.freq_scale), 1.0f);
    }
    return c;
}

void rope_angles(const RopeArgs& a, const RopeConsts& c, int64_t t, float* cos_out, float* sin_out) {
    const int n_pairs = a.n_rot / 2;
    const float* ff = a.freq_factors.empty() ? nullptr : a.freq_factors.row<float>(0);
    // One running angle per position stream (imrope: t, h, w, e; otherwise only the first is used).
    float theta[4];
    for (int s = 0; s < 4; ++s) {
        const int row = a.mode == RopeMode::imrope ? s : 0;
        theta[s] = float(a.pos.row<int32_t>(row)[t]);
    }
    const auto& sec = a.sections;
    const int sect_dims = sec[0] + sec[1] + sec[2] + sec[3];
    for (int k = 0; k < n_pairs; ++k) {
        int stream = 0;
        if (a.mode == RopeMode::imrope) {
            // ggml_mrope_cache_init, interleaved: pair k takes stream h, w, t by k mod 3 within the sections.
            const int sector = k % sect_dims;
            if (sector % 3 == 1 && sector < 3 * sec[1]) stream = 1;
            else if (sector % 3 == 2 && sector < 3 * sec[2]) stream = 2;
            else if (sector % 3 == 0 && sector < 3 * sec[0]) stream = 0;
            else stream = 3;
        }
        const float theta_extrap = theta[stream] / (ff ? ff[k] : 1.0f);
        const float theta_interp = a.freq_scale * theta_extrap;
        float angle = theta_interp;
        if (a.ext_factor != 0.0f) {
            // rope_yarn_ramp: 1 below corr_lo (extrapolate), 0 above corr_hi (interpolate), linear between.
            const float y = (float(k) - c.corr_lo) / std::max(0.001f, c.corr_hi - c.corr_lo);
            const float ramp_mix = (1.0f - std::min(1.0f, std::max(0.0f, y))) * a.ext_factor;
            angle = std::fma(theta_interp, 1.0f - ramp_mix, theta_extrap * ramp_mix);
        }
        cos_out[k] = std::cos(angle) * c.mscale;
        sin_out[k] = std::sin(angle) * c.mscale;
        for (float& th : theta) th *= c.theta_scale;
    }
}

Status rope(const RopeArgs& a, Stream&) {
    LOOM_RETURN_IF_ERROR(check_rope_args(a));
    const int64_t n_tok = a.x.dim(0), n_head = a.x.dim(1), d_head = a.x.dim(2);
    const int n_pairs = a.n_rot / 2;
    const RopeConsts c = rope_consts(a);
    std::vector<float> cos_k(static_cast<size_t>(n_pairs)), sin_k(static_cast<size_t>(n_pairs));
    for (int64_t t = 0; t < n_tok; ++t) {
        rope_angles(a, c, t, cos_k.data(), sin_k.data());  // once per token, shared by its heads
        for (int64_t h = 0; h < n_head; ++h) {
            const float* x = a.x.row<float>(t * n_head + h);
            float* y = a.y.row<float>(t * n_head + h);
            for (int k = 0; k < n_pairs; ++k) {
                if (a.mode == RopeMode::norm) {
                    rotate_pair(x[2 * k], x[2 * k + 1], cos_k[k], sin_k[k], y[2 * k], y[2 * k + 1]);
                } else {
                    rotate_pair(x[k], x[k + n_pairs], cos_k[k], sin_k[k], y[k], y[k + n_pairs]);
                }
            }
            for (int64_t i = a.n_rot; i < d_head; ++i) y[i] = x[i];  // partial rotary: the tail passes through
        }
    }
    return Ok{};
}

}  // namespace loom::kernels::ref
