// Reference quantizers. Q8_0, Q8_1 and Q8_K follow ggml's reference rules bit for bit (they quantize
// activations); Q4_0 … Q5_1 follow ggml's simple reference rule; the K-quants and IQ4 types use loom's own
// least-squares fitter, described at fit_affine / fit_levels below.

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "formats/quant_layout.h"
#include "kernels/ref/quant.h"

// Every product must be rounded to f32 before it is added (Q8_K's nearest_int adds 1.5*2^23 to iscale*x):
// no fused multiply-add, whatever the target ISA.
#include "kernels/ref/block_io.h"
#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add below

namespace loom::kernels::ref {
namespace {

using namespace loom::formats;

// Round to nearest, ties to even, for |v| < 2^22: adding 1.5*2^23 leaves the integer in the low mantissa
// bits, rounded by the FPU's default mode. This is ggml's rule for Q8_K; it differs from roundf on ties.
inline int nearest_int_even(float v) {
    const float t = v + 12582912.f;
    int32_t i;
    std::memcpy(&i, &t, 4);
    return (i & 0x007fffff) - 0x00400000;
}

// Round half away from zero, for the fitters (whose results need not match anyone bit for bit).
inline int round_int(float v) { return int(v < 0.f ? v - 0.5f : v + 0.5f); }

// The element of x[0..n) with the largest magnitude, keeping its sign; the first one on ties.
inline float signed_absmax(const float* x, int n) {
    float amax = 0.f, max = 0.f;
    for (int j = 0; j < n; ++j) {
        if (std::fabs(x[j]) > amax) {
            amax = std::fabs(x[j]);
            max = x[j];
        }
    }
    return max;
}

// ---- Legacy blocks: ggml's reference rules ----------------------------------------------------------------

// Q8_0 / Q8_1 under two rules. Reference (ggml's quantize_row_q8_0_ref; weights): id = 1/d, round half
// away from zero. x86 activations (ggml-cpu arch/x86/quants.c, AVX/AVX2): id = 127/amax (one division), round
// half to even. d = amax/127 stays f32 for computing q and Q8_1's s = f16(d · Σq); only the stored d is f16.
template <bool kX86Rule, bool kWithSum>
void quant_q8(const float* x, uint8_t* dst, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQk) {
        float amax = 0.f;
        for (int j = 0; j < kQk; ++j) amax = std::max(amax, std::fabs(x[j]));
        const float d = amax / 127.f;
        const float id = kX86Rule ? (amax != 0.f ? 127.f / amax : 0.f) : (d != 0.f ? 1.f / d : 0.f);
        int8_t qs[kQk];
        int sum = 0;
        for (int j = 0; j < kQk; ++j) {
            // nearbyint under the default rounding mode: to nearest, ties to even.
            qs[j] = int8_t(kX86Rule ? std::nearbyint(x[j] * id) : std::roundf(x[j] * id));
            sum += qs[j];
        }
        if constexpr (kWithSum) {
            BlockQ8_1 b;
            b.d = f32_to_f16(d);
            b.s = f32_to_f16(d * float(sum));
            std::memcpy(b.qs, qs, kQk);
            store_block(dst, i, b);
        } else {
            BlockQ8_0 b;
            b.d = f32_to_f16(d);
            std::memcpy(b.qs, qs, kQk);
            store_block(dst, i, b);
        }
    }
}

void quant_q4_0(const float* x, uint8_t* dst, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQk) {
        // The largest-magnitude element maps to -8, the end of the range with the most room.
        const float d = signed_absmax(x, kQk) / -8.f;
        const float id = d != 0.f ? 1.f / d : 0.f;
        BlockQ4_0 b;
        b.d = f32_to_f16(d);
        for (int j = 0; j < 16; ++j) {
            // x*id lies in [-8, 8]; +8.5 and truncation round to nearest; 16 only for x = -max.
            const int q0 = std::min(15, int(x[j] * id + 8.5f));
            const int q1 = std::min(15, int(x[j + 16] * id + 8.5f));
            b.qs[j] = uint8_t(q0 | q1 << 4);
        }
        store_block(dst, i, b);
    }
}

void quant_q4_1(const float* x, uint8_t* dst, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQk) {
        float min = std::numeric_limits<float>::max(), max = -min;
        for (int j = 0; j < kQk; ++j) {
            min = std::min(min, x[j]);
            max = std::max(max, x[j]);
        }
        const float d = (max - min) / 15.f;
        const float id = d != 0.f ? 1.f / d : 0.f;
        BlockQ4_1 b;
        b.d = f32_to_f16(d);
        b.m = f32_to_f16(min);
        for (int j = 0; j < 16; ++j) {
            const int q0 = std::min(15, int((x[j] - min) * id + 0.5f));
            const int q1 = std::min(15, int((x[j + 16] - min) * id + 0.5f));
            b.qs[j] = uint8_t(q0 | q1 << 4);
        }
        store_block(dst, i, b);
    }
}

// Packs 32 five-bit values into the Q5 qs/qh split (low nibbles in split halves, bit 4 of element e at bit e).
void pack_q5(const int q[32], uint8_t qs[16], uint8_t qh_bytes[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; ++j) qs[j] = uint8_t((q[j] & 15) | (q[j + 16] & 15) << 4);
    for (int e = 0; e < 32; ++e) qh |= uint32_t(q[e] >> 4) << e;
    std::memcpy(qh_bytes, &qh, 4);
}

void quant_q5_0(const float* x, uint8_t* dst, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQk) {
        const float d = signed_absmax(x, kQk) / -16.f;
        const float id = d != 0.f ? 1.f / d : 0.f;
        BlockQ5_0 b;
        b.d = f32_to_f16(d);
        int q[32];
        for (int e = 0; e < kQk; ++e) q[e] = std::min(31, int(x[e] * id + 16.5f));
        pack_q5(q, b.qs, b.qh);
        store_block(dst, i, b);
    }
}

void quant_q5_1(const float* x, uint8_t* dst, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQk) {
        float min = std::numeric_limits<float>::max(), max = -min;
        for (int j = 0; j < kQk; ++j) {
            min = std::min(min, x[j]);
            max = std::max(max, x[j]);
        }
        const float d = (max - min) / 31.f;
        const float id = d != 0.f ? 1.f / d : 0.f;
        BlockQ5_1 b;
        b.d = f32_to_f16(d);
        b.m = f32_to_f16(min);
        int q[32];
        for (int e = 0; e < kQk; ++e) q[e] = std::min(31, int((x[e] - min) * id + 0.5f));
        pack_q5(q, b.qs, b.qh);
        store_block(dst, i, b);
    }
}

// ---- Q8_K: ggml's reference rule --------------------------------------------------------------------------

void quant_q8_k(const float* x, uint8_t* dst, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQkK) {
        BlockQ8_K b{};
        const float max = signed_absmax(x, kQkK);
        if (max != 0.f) {
            // The largest-magnitude element maps to -127 exactly, so d = 1/iscale carries the sign of -max.
            const float iscale = -127.f / max;
            for (int j = 0; j < kQkK; ++j) b.qs[j] = int8_t(std::min(127, nearest_int_even(iscale * x[j])));
            for (int g = 0; g < 16; ++g) {
                int sum = 0;
                for (int j = 0; j < 16; ++j) sum += b.qs[16 * g + j];
                b.bsums[g] = int16_t(sum);
            }
            b.d = 1.f / iscale;
        }
        store_block(dst, i, b);
    }
}

// ---- loom's fitters for K-quants and IQ4 ----------------------------------------------------------------
// A two-level scheme: fit each sub-block in f32 (fit_affine / fit_levels), then quantize the sub-block
// scales to small integers against an f16 super-block scale, try the neighbouring integer codes, and assign
// every element its nearest level under the scales the decoder will actually see. All errors are unweighted
// squared errors (no importance matrix).

constexpr int kFan = 10;  // initial step sizes tried: ±kFan tenths of a level around "range fills the grid"
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

// The sub-block codes of an affine super-block (Q2_K, Q4_K, Q5_K) and the final q of every element.
struct AffineSuper {
    uint16_t d, dmin;  // f16
    uint8_t sc[16], mn[16];
};

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

// A sorted set of levels y = s * level[i], i stored as the code (Q3_K, Q6_K: evenly spaced; IQ4: non-linear).
struct Levels {
    float v[64];
    float mid[64];  // mid[i] = (v[i] + v[i+1]) / 2
    int n;
    bool uniform;   // v[i] = v[0] + i
};

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

int nearest_level(const Levels& l, float t) {
    if (l.uniform) return int(std::clamp(t - l.v[0], 0.f, float(l.n - 1)) + 0.5f);
    int i = 0;  // the number of midpoints below t: branch-free, and cheaper than a search for 16 levels
    for (int k = 0; k < l.n - 1; ++k) i += t > l.mid[k];
    return i;
}

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

// The sub-block codes of a super-block with signed integer sub-block scales (Q3_K, Q6_K, IQ4_XS) and the
// final level index of every element.
struct LevelsSuper {
    uint16_t d;  // f16
    int sc[16];  // in [code_min, code_max]
};

LevelsSuper quantize_levels_super(const float* x, int n_sub, int sub_len, const Levels& l, int code_min,
                                  int code_max, uint8_t* idx) {
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

void quant_q2_k(const float* x, uint8_t* dst, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQkK) {
        uint8_t q[kQkK];
        const AffineSuper a = quantize_affine_super(x, 16, 16, 3, 15, q);
        BlockQ2_K b{};
        b.d = a.d;
        b.dmin = a.dmin;
        for (int k = 0; k < 16; ++k) b.scales[k] = uint8_t(a.sc[k] | a.mn[k] << 4);
        for (int e = 0; e < kQkK; ++e) {
            const int h = e / 128, j = (e % 128) / 32, m = e % 32;
            b.qs[32 * h + m] |= uint8_t(q[e] << (2 * j));
        }
        store_block(dst, i, b);
    }
}

void quant_q3_k(const float* x, uint8_t* dst, int64_t nb) {
    static const Levels kLevels = uniform_levels(-4, 3);
    for (int64_t i = 0; i < nb; ++i, x += kQkK) {
        uint8_t u[kQkK];  // q + 4, in 0..7
        const LevelsSuper a = quantize_levels_super(x, 16, 16, kLevels, -32, 31, u);
        BlockQ3_K b{};
        b.d = a.d;
        for (int k = 0; k < 16; ++k) {
            const int c = a.sc[k] + 32;  // stored with an offset of 32
            b.scales[k % 8] |= uint8_t((c & 15) << (k < 8 ? 0 : 4));
            b.scales[8 + k % 4] |= uint8_t((c >> 4) << (2 * (k / 4)));
        }
        for (int e = 0; e < kQkK; ++e) {
            const int h = e / 128, j = (e % 128) / 32, m = e % 32;
            b.qs[32 * h + m] |= uint8_t((u[e] & 3) << (2 * j));
            if (u[e] & 4) b.hmask[m] |= uint8_t(1 << (4 * h + j));  // set bit: no subtraction of 4
        }
        store_block(dst, i, b);
    }
}

// Packs Q4_K/Q5_K's 8 six-bit scales and mins (layout in BlockQ4_K).
void pack_scale_min_k4(const uint8_t sc[8], const uint8_t mn[8], uint8_t s[12]) {
    for (int k = 0; k < 4; ++k) {
        s[k] = uint8_t(sc[k] | (sc[k + 4] >> 4) << 6);
        s[k + 4] = uint8_t(mn[k] | (mn[k + 4] >> 4) << 6);
        s[k + 8] = uint8_t((sc[k + 4] & 15) | (mn[k + 4] & 15) << 4);
    }
}

void quant_q4_k(const float* x, uint8_t* dst, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQkK) {
        uint8_t q[kQkK];
        const AffineSuper a = quantize_affine_super(x, 8, 32, 15, 63, q);
        BlockQ4_K b{};
        b.d = a.d;
        b.dmin = a.dmin;
        pack_scale_min_k4(a.sc, a.mn, b.scales);
        for (int c = 0; c < 4; ++c)
            for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = uint8_t(q[64 * c + l] | q[64 * c + 32 + l] << 4);
        store_block(dst, i, b);
    }
}

void quant_q5_k(const float* x, uint8_t* dst, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, x += kQkK) {
        uint8_t q[kQkK];
        const AffineSuper a = quantize_affine_super(x, 8, 32, 31, 63, q);
        BlockQ5_K b{};
        b.d = a.d;
        b.dmin = a.dmin;
        pack_scale_min_k4(a.sc, a.mn, b.scales);
        for (int c = 0; c < 4; ++c)
            for (int l = 0; l < 32; ++l)
                b.qs[32 * c + l] = uint8_t((q[64 * c + l] & 15) | (q[64 * c + 32 + l] & 15) << 4);
        for (int e = 0; e < kQkK; ++e) b.qh[e % 32] |= uint8_t((q[e] >> 4) << (e / 32));
        store_block(dst, i, b);
    }
}

void quant_q6_k(const float* x, uint8_t* dst, int64_t nb) {
    static const Levels kLevels = uniform_levels(-32, 31);
    for (int64_t i = 0; i < nb; ++i, x += kQkK) {
        uint8_t u[kQkK];  // q + 32, in 0..63
        const LevelsSuper a = quantize_levels_super(x, 16, 16, kLevels, -128, 127, u);
        BlockQ6_K b{};
        b.d = a.d;
        for (int k = 0; k < 16; ++k) b.scales[k] = int8_t(a.sc[k]);
        for (int e = 0; e < kQkK; ++e) {
            const int h = e / 128, k = (e % 128) / 32, l = e % 32;
            b.ql[64 * h + 32 * (k & 1) + l] |= uint8_t((u[e] & 15) << (k >= 2 ? 4 : 0));
            b.qh[32 * h + l] |= uint8_t((u[e] >> 4) << (2 * k));
        }
        store_block(dst, i, b);
    }
}

void quant_iq4_nl(const float* x, uint8_t* dst, int64_t nb) {
    static const Levels kLevels = iq4_levels();
    for (int64_t i = 0; i < nb; ++i, x += kQk) {
        BlockIQ4_NL b;
        b.d = f32_to_f16(fit_levels(x, kQk, kLevels));
        uint8_t idx[kQk];
        assign_levels(x, kQk, f16_to_f32(b.d), kLevels, idx);
        for (int j = 0; j < 16; ++j) b.qs[j] = uint8_t(idx[j] | idx[j + 16] << 4);
        store_block(dst, i, b);
    }
}

void quant_iq4_xs(const float* x, uint8_t* dst, int64_t nb) {
    static const Levels kLevels = iq4_levels();
    for (int64_t i = 0; i < nb; ++i, x += kQkK) {
        uint8_t idx[kQkK];
        const LevelsSuper a = quantize_levels_super(x, 8, 32, kLevels, -32, 31, idx);
        BlockIQ4_XS b{};
        b.d = a.d;
        for (int k = 0; k < 8; ++k) {
            const int ls = a.sc[k] + 32;  // stored with an offset of 32
            b.scales_l[k / 2] |= uint8_t((ls & 15) << (4 * (k % 2)));
            b.scales_h |= uint16_t((ls >> 4) << (2 * k));
            for (int j = 0; j < 16; ++j)
                b.qs[16 * k + j] = uint8_t(idx[32 * k + j] | idx[32 * k + 16 + j] << 4);
        }
        store_block(dst, i, b);
    }
}

void narrow_f16(const float* x, uint8_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_f16(x[i]);
        std::memcpy(dst + 2 * i, &h, 2);
    }
}

void narrow_bf16(const float* x, uint8_t* dst, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        const uint16_t h = f32_to_bf16(x[i]);
        std::memcpy(dst + 2 * i, &h, 2);
    }
}

}  // namespace

bool can_quantize(DType t) {
    switch (t) {
    case DType::f32: case DType::f16: case DType::bf16:
    case DType::q4_0: case DType::q4_1: case DType::q5_0: case DType::q5_1: case DType::q8_0: case DType::q8_1:
    case DType::q2_k: case DType::q3_k: case DType::q4_k: case DType::q5_k: case DType::q6_k: case DType::q8_k:
    case DType::iq4_nl: case DType::iq4_xs:
        return true;
    default:
        return false;
    }
}

Status quantize_row(DType t, const float* src, void* dst, int64_t n) {
    const DTypeInfo& ti = info(t);
    LOOM_ASSERT(n >= 0 && n % ti.block_elems == 0, "quantize_row: {} values of {} is not a multiple of its block size {}",
                n, ti.name, ti.block_elems);
    auto* p = static_cast<uint8_t*>(dst);
    const int64_t nb = n / ti.block_elems;
    switch (t) {
    case DType::f32: std::memcpy(p, src, size_t(n) * 4); break;
    case DType::f16: narrow_f16(src, p, n); break;
    case DType::bf16: narrow_bf16(src, p, n); break;
    case DType::q4_0: quant_q4_0(src, p, nb); break;
    case DType::q4_1: quant_q4_1(src, p, nb); break;
    case DType::q5_0: quant_q5_0(src, p, nb); break;
    case DType::q5_1: quant_q5_1(src, p, nb); break;
    case DType::q8_0: quant_q8<false, false>(src, p, nb); break;
    case DType::q8_1: quant_q8<false, true>(src, p, nb); break;
    case DType::q2_k: quant_q2_k(src, p, nb); break;
    case DType::q3_k: quant_q3_k(src, p, nb); break;
    case DType::q4_k: quant_q4_k(src, p, nb); break;
    case DType::q5_k: quant_q5_k(src, p, nb); break;
    case DType::q6_k: quant_q6_k(src, p, nb); break;
    case DType::q8_k: quant_q8_k(src, p, nb); break;
    case DType::iq4_nl: quant_iq4_nl(src, p, nb); break;
    case DType::iq4_xs: quant_iq4_xs(src, p, nb); break;
    default: return Error::unsupported("quantize: no reference quantizer for type {}", t);
    }
    return Ok{};
}

Status quantize_activations(DType t, const float* src, void* dst, int64_t n) {
    if (t != DType::q8_0 && t != DType::q8_1) return quantize_row(t, src, dst, n);
    LOOM_ASSERT(n >= 0 && n % kQk == 0, "quantize_activations: {} values is not a multiple of {}", n, kQk);
    if (t == DType::q8_0) quant_q8<true, false>(src, static_cast<uint8_t*>(dst), n / kQk);
    else quant_q8<true, true>(src, static_cast<uint8_t*>(dst), n / kQk);
    return Ok{};
}

}  // namespace loom::kernels::ref
