// loom's least-squares fitters for the K-quant and IQ4 weight types (ref/quantize.cpp packs their results into
// blocks). A two-level scheme: fit each sub-block in f32, then quantize the sub-block scales to small integers
// against an f16 super-block scale, try the neighbouring integer codes, and assign every element its nearest
// level under the scales the decoder will actually see. Unweighted squared errors (no importance matrix).
#pragma once

#include <cmath>
#include <cstdint>

namespace loom::kernels::ref::fit {

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

// A sorted set of levels y = s * level[i], i stored as the code (Q3_K, Q6_K: evenly spaced; IQ4: non-linear).
struct Levels {
    float v[64];
    float mid[64];  // mid[i] = (v[i] + v[i+1]) / 2
    int n;
    bool uniform;  // v[i] = v[0] + i
};

// The sub-block codes of an affine super-block (Q2_K, Q4_K, Q5_K) and the final q of every element.
struct AffineSuper {
    uint16_t d, dmin;  // f16
    uint8_t sc[16], mn[16];
};

// The sub-block codes of a super-block with signed integer sub-block scales (Q3_K, Q6_K, IQ4_XS) and the
// final level index of every element.
struct LevelsSuper {
    uint16_t d;  // f16
    int sc[16];  // in [code_min, code_max]
};

Levels uniform_levels(int qmin, int qmax);  // qmin .. qmax, evenly spaced
Levels iq4_levels();                        // IQ4_NL's 16 values

// Fits y = s · level[idx] (s of either sign) to x[0..n): the best s (see kquant_fit.cpp).
float fit_levels(const float* x, int n, const Levels& l);
// The nearest level for every element under scale s, and the squared error.
float assign_levels(const float* x, int n, float s, const Levels& l, uint8_t* idx);

// n_sub sub-blocks of sub_len values, y = d·sc·q − dmin·mn with q in [0, qmax], sc and mn in [0, code_max].
AffineSuper quantize_affine_super(const float* x, int n_sub, int sub_len, int qmax, int code_max, uint8_t* q);
// n_sub sub-blocks of sub_len values, y = d·sc·level[idx] with sc in [code_min, code_max].
LevelsSuper quantize_levels_super(const float* x, int n_sub, int sub_len, const Levels& l, int code_min, int code_max,
                                  uint8_t* idx);

}  // namespace loom::kernels::ref::fit
