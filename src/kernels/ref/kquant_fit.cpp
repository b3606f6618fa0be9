// loom's fitters for the K-quant and IQ4 weight types; kquant_fit.h describes the scheme.

#include "kernels/ref/kquant_fit.h"

#include <algorithm>
#include <cmath>

#include "core/half.h"
#include "formats/quant_layout.h"

#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add below

namespace loom::kernels::ref::fit {

using namespace loom::formats;

namespace {

constexpr int kFan = 10;    // initial step sizes tried: ±kFan tenths of a level around "range fills the grid"
constexpr int kRefine = 2;  // assignment/least-squares rounds on the best candidate
// Scales and ranges below this are treated as zero: their inverse would overflow to inf (and 0 * inf = NaN).
// Such a block is far below what an f16 scale can represent anyway.
constexpr float kTiny = 1e-30f;

// y = s*q - m with q in [0, qmax]: the best q for given s, m (s > 0), and the squared error.
float assign_affine(const float* x, int n, float s, float m, int qmax, uint8_t* q) {
    const float inv = s > kTiny ? 1.f / s : 0.f;
    float err = 0.f;
    for (int j = 0; j < n; ++j) {
        // Clamp before rounding (a tiny s sends the quotient out of int range); the clamped value is >= 0,
        // so adding 0.5 and truncating rounds to nearest.
        const int v = int(std::clamp((x[j] + m) * inv, 0.f, float(qmax)) + 0.5f);
        q[j] = uint8_t(v);
        const float diff = s * float(v) - m - x[j];
        err += diff * diff;
    }
    return err;
}

struct AffineFit {
    float scale;  // >= 0
    float min;    // >= 0; the sub-block offset is -min (the format cannot offset upwards)
};

// Least-squares (s, b) for x ≈ s*q + b with q fixed, b <= 0 enforced, and the resulting squared error
// (from the sums, in double). Returns false when q is degenerate.
bool solve_affine(const float* x, const uint8_t* q, int n, double sxx, AffineFit* fit, double* err) {
    double sq = 0, sqq = 0, sx = 0, sqx = 0;
    for (int j = 0; j < n; ++j) {
        sq += q[j];
        sqq += double(q[j]) * q[j];
        sx += x[j];
        sqx += double(q[j]) * x[j];
    }
    const double det = n * sqq - sq * sq;
    if (!(det > 0)) return false;
    double s = (n * sqx - sq * sx) / det, b = (sqq * sx - sq * sqx) / det;
    if (b > 0) {  // an upward offset is not representable: refit with b = 0
        b = 0;
        s = sqx / sqq;
    }
    if (!(s > 0)) return false;
    *err = sxx + s * s * sqq + n * b * b + 2 * s * b * sq - 2 * s * sqx - 2 * b * sx;
    *fit = {float(s), float(-b)};
    return true;
}

// Fits y = s*q - m (q integer in [0, qmax], s >= 0, m >= 0) to x[0..n). A fan of step sizes around
// (max - min)/qmax each assigns q by rounding and solves the 2x2 least-squares problem for (s, m) given
// that q; the best candidate then alternates assignment and solve kRefine more times.
AffineFit fit_affine(const float* x, int n, int qmax) {
    float lo = 0.f, hi = x[0];
    double sxx = 0;
    for (int j = 0; j < n; ++j) {
        lo = std::min(lo, x[j]);
        hi = std::max(hi, x[j]);
        sxx += double(x[j]) * x[j];
    }
    if (!(hi - lo > kTiny)) return {0.f, -lo};  // constant block <= 0: the offset alone represents it

    uint8_t q[kQkK];
    AffineFit best{(hi - lo) / float(qmax), -lo}, fit;
    double best_err = assign_affine(x, n, best.scale, best.min, qmax, q), err;
    for (int t = -kFan; t <= kFan; ++t) {
        const float iscale = (float(qmax) + 0.1f * float(t)) / (hi - lo);
        for (int j = 0; j < n; ++j) q[j] = uint8_t(std::clamp(int((x[j] - lo) * iscale + 0.5f), 0, qmax));
        if (solve_affine(x, q, n, sxx, &fit, &err) && err < best_err) {
            best_err = err;
            best = fit;
        }
    }
    for (int pass = 0; pass < kRefine; ++pass) {
        assign_affine(x, n, best.scale, best.min, qmax, q);
        if (!solve_affine(x, q, n, sxx, &fit, &err) || !(err < best_err)) break;
        best_err = err;
        best = fit;
    }
    return best;
}

}  // namespace

AffineSuper quantize_affine_super(const float* x, int n_sub, int sub_len, int qmax, int code_max, uint8_t* q) {
    AffineFit fit[16];
    float max_s = 0.f, max_m = 0.f;
    for (int k = 0; k < n_sub; ++k) {
        fit[k] = fit_affine(x + k * sub_len, sub_len, qmax);
        max_s = std::max(max_s, fit[k].scale);
        max_m = std::max(max_m, fit[k].min);
    }
    AffineSuper r{};
    r.d = f32_to_f16(max_s / float(code_max));
    r.dmin = f32_to_f16(max_m / float(code_max));
    const float d = f16_to_f32(r.d), dmin = f16_to_f32(r.dmin);
    uint8_t tmp[kQkK];
    for (int k = 0; k < n_sub; ++k) {
        const float* xs = x + k * sub_len;
        const int sc0 = d > 0.f ? round_int(std::clamp(fit[k].scale / d, 0.f, float(code_max))) : 0;
        const int mn0 = dmin > 0.f ? round_int(std::clamp(fit[k].min / dmin, 0.f, float(code_max))) : 0;
        // Rounding scale and min separately is not jointly optimal: try the 3x3 neighbourhood of codes, and
        // for each scale code also the min that is least-squares optimal for its q. The latter matters when
        // a sub-block is tiny next to the super-block's largest: its scale code rounds to 0, and the best it
        // can do is a constant near its mean rather than the min its own fit wanted.
        float best_err = std::numeric_limits<float>::infinity();
        auto consider = [&](int sc, int mn) {
            // The decoder's effective scale and min: products rounded to f32 exactly as it does.
            const float err = assign_affine(xs, sub_len, d * float(sc), dmin * float(mn), qmax, tmp);
            if (err < best_err) {
                best_err = err;
                r.sc[k] = uint8_t(sc);
                r.mn[k] = uint8_t(mn);
                std::memcpy(q + k * sub_len, tmp, size_t(sub_len));
            }
        };
        for (int sc = std::max(0, sc0 - 1); sc <= std::min(code_max, sc0 + 1); ++sc) {
            for (int mn = std::max(0, mn0 - 1); mn <= std::min(code_max, mn0 + 1); ++mn) consider(sc, mn);
            if (dmin > 0.f) {
                assign_affine(xs, sub_len, d * float(sc), dmin * float(mn0), qmax, tmp);
                double sum = 0;  // optimal M for fixed q: mean of (S*q - x)
                for (int j = 0; j < sub_len; ++j) sum += double(d * float(sc)) * tmp[j] - xs[j];
                const float m_opt = std::clamp(float(sum / sub_len) / dmin, 0.f, float(code_max));
                consider(sc, round_int(m_opt));
            }
        }
    }
    return r;
}

Levels uniform_levels(int qmin, int qmax) {
    Levels l{};
    l.n = qmax - qmin + 1;
    l.uniform = true;
    for (int i = 0; i < l.n; ++i) l.v[i] = float(qmin + i);
    return l;
}

Levels iq4_levels() {
    Levels l{};
    l.n = 16;
    for (int i = 0; i < 16; ++i) l.v[i] = float(kIq4NlValues[i]);
    for (int i = 0; i < 15; ++i) l.mid[i] = 0.5f * (l.v[i] + l.v[i + 1]);
    return l;
}

namespace {

int nearest_level(const Levels& l, float t) {
    if (l.uniform) return int(std::clamp(t - l.v[0], 0.f, float(l.n - 1)) + 0.5f);
    int i = 0;  // the number of midpoints below t: branch-free, and cheaper than a search for 16 levels
    for (int k = 0; k < l.n - 1; ++k) i += t > l.mid[k];
    return i;
}

}  // namespace

// The nearest level for every element under scale s, and the squared error.
float assign_levels(const float* x, int n, float s, const Levels& l, uint8_t* idx) {
    const float inv = std::fabs(s) > kTiny ? 1.f / s : 0.f;
    float err = 0.f;
    for (int j = 0; j < n; ++j) {
        const int i = nearest_level(l, x[j] * inv);  // s = 0: every level decodes to 0; take the one at 0
        idx[j] = uint8_t(i);
        const float diff = s * l.v[i] - x[j];
        err += diff * diff;
    }
    return err;
}

namespace {

// Least-squares s = Σ x·level / Σ level² for fixed levels, and its squared error Σx² - (Σ x·level)² / Σ level².
bool solve_levels(const float* x, const uint8_t* idx, int n, const Levels& l, double sxx, float* s, double* err) {
    double sxl = 0, sll = 0;
    for (int j = 0; j < n; ++j) {
        sxl += double(x[j]) * l.v[idx[j]];
        sll += double(l.v[idx[j]]) * l.v[idx[j]];
    }
    if (!(sll > 0)) return false;
    *s = float(sxl / sll);
    *err = sxx - sxl * sxl / sll;
    return true;
}

}  // namespace

// Fits y = s * level[idx] (s of either sign) to x[0..n). The largest-magnitude element is first mapped onto
// either end of the level set, with a fan of ±1 end gap around it; each candidate assigns nearest levels and
// takes the least-squares s for them; the best then alternates assignment and solve kRefine more times.
float fit_levels(const float* x, int n, const Levels& l) {
    const float max = signed_absmax(x, n);
    if (!(std::fabs(max) > kTiny)) return 0.f;
    double sxx = 0;
    for (int j = 0; j < n; ++j) sxx += double(x[j]) * x[j];
    uint8_t idx[kQkK];
    float best_s = 0.f, s;
    double best_err = sxx, err;  // s = 0 decodes everything to 0
    const float ends[2] = {l.v[0], l.v[l.n - 1]};
    const float gaps[2] = {l.v[1] - l.v[0], l.v[l.n - 1] - l.v[l.n - 2]};
    for (int e = 0; e < 2; ++e) {
        if (ends[e] == 0.f) continue;
        for (int t = -kFan; t <= kFan; ++t) {
            const float end = ends[e] + std::copysign(0.1f * float(t) * gaps[e], ends[e]);
            assign_levels(x, n, max / end, l, idx);
            if (solve_levels(x, idx, n, l, sxx, &s, &err) && err < best_err) {
                best_err = err;
                best_s = s;
            }
        }
    }
    for (int pass = 0; pass < kRefine && best_s != 0.f; ++pass) {
        assign_levels(x, n, best_s, l, idx);
        if (!solve_levels(x, idx, n, l, sxx, &s, &err) || !(err < best_err)) break;
        best_err = err;
        best_s = s;
    }
    return best_s;
}

LevelsSuper quantize_levels_super(const float* x, int n_sub, int sub_len, const Levels& l, int code_min, int code_max,
                                  uint8_t* idx) {
    float s[16], big = 0.f;
    for (int k = 0; k < n_sub; ++k) {
        s[k] = fit_levels(x + k * sub_len, sub_len, l);
        if (std::fabs(s[k]) > std::fabs(big)) big = s[k];
    }
    // The largest-magnitude sub-block scale maps to code_min, the end of the code range with the most room.
    LevelsSuper r{};
    r.d = f32_to_f16(big / float(code_min));
    const float d = f16_to_f32(r.d);
    uint8_t tmp[kQkK];
    for (int k = 0; k < n_sub; ++k) {
        const float* xs = x + k * sub_len;
        const int c0 = d != 0.f ? round_int(std::clamp(s[k] / d, float(code_min), float(code_max))) : 0;
        float best_err = std::numeric_limits<float>::infinity();
        for (int c = std::max(code_min, c0 - 1); c <= std::min(code_max, c0 + 1); ++c) {
            const float err = assign_levels(xs, sub_len, d * float(c), l, tmp);
            if (err < best_err) {
                best_err = err;
                r.sc[k] = c;
                std::memcpy(idx + k * sub_len, tmp, size_t(sub_len));
            }
        }
    }
    return r;
}

}  // namespace loom::kernels::ref::fit
