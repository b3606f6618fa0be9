// Reference quantizers. Q8_0, Q8_1 and Q8_K follow ggml's reference rules bit for bit (they quantize
// activations); Q4_0 … Q5_1 follow ggml's simple reference rule; the K-quants and IQ4 types use loom's own
// least-squares fitters (kquant_fit.h).

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "core/half.h"
#include "formats/quant_layout.h"
#include "kernels/ref/kquant_fit.h"
#include "kernels/ref/quant.h"

// Every product must be rounded to f32 before it is added (Q8_K's nearest_int adds 1.5*2^23 to iscale*x):
// no fused multiply-add, whatever the target ISA.
#include "kernels/ref/block_io.h"
#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add below

namespace loom::kernels::ref {
namespace {

using namespace loom::formats;
using namespace fit;

// Round to nearest, ties to even, for |v| < 2^22: adding 1.5*2^23 leaves the integer in the low mantissa
// bits, rounded by the FPU's default mode. This is ggml's rule for Q8_K; it differs from roundf on ties.
inline int nearest_int_even(float v) {
    const float t = v + 12582912.f;
    int32_t i;
    std::memcpy(&i, &t, 4);
    return (i & 0x007fffff) - 0x00400000;
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
            for (int j = 0; j < 16; ++j) b.qs[16 * k + j] = uint8_t(idx[32 * k + j] | idx[32 * k + 16 + j] << 4);
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
        case DType::f32:
        case DType::f16:
        case DType::bf16:
        case DType::q4_0:
        case DType::q4_1:
        case DType::q5_0:
        case DType::q5_1:
        case DType::q8_0:
        case DType::q8_1:
        case DType::q2_k:
        case DType::q3_k:
        case DType::q4_k:
        case DType::q5_k:
        case DType::q6_k:
        case DType::q8_k:
        case DType::iq4_nl:
        case DType::iq4_xs: return true;
        default: return false;
    }
}

Status quantize_row(DType t, const float* src, void* dst, int64_t n) {
    const DTypeInfo& ti = info(t);
    LOOM_ASSERT(n >= 0 && n % ti.block_elems == 0,
                "quantize_row: {} values of {} is not a multiple of its block size {}", n, ti.name, ti.block_elems);
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
