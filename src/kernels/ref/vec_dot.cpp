// Reference paired dot products, one readable function per weight type. Each follows the identity in the
// shared reference (formats §2.5): integer sums inside a block, one f32 multiply-add per block, block order.
#include "kernels/ref/vec_dot.h"

#include <cstring>

#include "core/half.h"
#include "formats/quant_layout.h"

// The reference must give the same floats on every ISA: no fused multiply-add.
#include "kernels/ref/block_io.h"
#include "kernels/ref/quant.h"
#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add below

namespace loom::kernels::ref {
namespace {

using namespace loom::formats;

// The 5-bit value of element e (0..31) of a Q5_0/Q5_1 block, 0..31.
int q5_value(const uint8_t qs[16], uint32_t qh, int e) {
    const int lo = e < 16 ? (qs[e] & 15) : (qs[e - 16] >> 4);
    return lo | int((qh >> e) & 1) << 4;
}

// Sub-block k's signed scale of a Q3_K block (-32..31).
int q3_k_scale(const uint8_t s[12], int k) {
    const int lo = k < 8 ? (s[k] & 15) : (s[k - 8] >> 4);
    const int hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
    return (lo | hi << 4) - 32;
}

}  // namespace

// ---- 32-value blocks × Q8_0 / Q8_1 --------------------------------------------------------------------------

float vec_dot_q4_0_q8_0(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQk; ++i) {
        const auto x = load_block<BlockQ4_0>(w, i);
        const auto y = load_block<BlockQ8_0>(a, i);
        int isum = 0;
        for (int j = 0; j < 16; ++j) {
            isum += ((x.qs[j] & 15) - 8) * y.qs[j];
            isum += ((x.qs[j] >> 4) - 8) * y.qs[j + 16];
        }
        sum += f16_to_f32(x.d) * f16_to_f32(y.d) * float(isum);
    }
    return sum;
}

// Q4_1's offset m meets Q8_1's s = d_a·Σq_a: Σ (q·d + m)·a_j·d_a = d·d_a·Σ q·a + m·s.
float vec_dot_q4_1_q8_1(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQk; ++i) {
        const auto x = load_block<BlockQ4_1>(w, i);
        const auto y = load_block<BlockQ8_1>(a, i);
        int isum = 0;
        for (int j = 0; j < 16; ++j) {
            isum += (x.qs[j] & 15) * y.qs[j];
            isum += (x.qs[j] >> 4) * y.qs[j + 16];
        }
        sum += f16_to_f32(x.d) * f16_to_f32(y.d) * float(isum) + f16_to_f32(x.m) * f16_to_f32(y.s);
    }
    return sum;
}

float vec_dot_q5_0_q8_0(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQk; ++i) {
        const auto x = load_block<BlockQ5_0>(w, i);
        const auto y = load_block<BlockQ8_0>(a, i);
        uint32_t qh;
        std::memcpy(&qh, x.qh, 4);
        int isum = 0;
        for (int e = 0; e < kQk; ++e) isum += (q5_value(x.qs, qh, e) - 16) * y.qs[e];
        sum += f16_to_f32(x.d) * f16_to_f32(y.d) * float(isum);
    }
    return sum;
}

float vec_dot_q5_1_q8_1(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQk; ++i) {
        const auto x = load_block<BlockQ5_1>(w, i);
        const auto y = load_block<BlockQ8_1>(a, i);
        uint32_t qh;
        std::memcpy(&qh, x.qh, 4);
        int isum = 0;
        for (int e = 0; e < kQk; ++e) isum += q5_value(x.qs, qh, e) * y.qs[e];
        sum += f16_to_f32(x.d) * f16_to_f32(y.d) * float(isum) + f16_to_f32(x.m) * f16_to_f32(y.s);
    }
    return sum;
}

float vec_dot_q8_0_q8_0(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQk; ++i) {
        const auto x = load_block<BlockQ8_0>(w, i);
        const auto y = load_block<BlockQ8_0>(a, i);
        int isum = 0;
        for (int e = 0; e < kQk; ++e) isum += x.qs[e] * y.qs[e];
        sum += f16_to_f32(x.d) * f16_to_f32(y.d) * float(isum);
    }
    return sum;
}

float vec_dot_iq4_nl_q8_0(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQk; ++i) {
        const auto x = load_block<BlockIQ4_NL>(w, i);
        const auto y = load_block<BlockQ8_0>(a, i);
        int isum = 0;
        for (int j = 0; j < 16; ++j) {
            isum += kIq4NlValues[x.qs[j] & 15] * y.qs[j];
            isum += kIq4NlValues[x.qs[j] >> 4] * y.qs[j + 16];
        }
        sum += f16_to_f32(x.d) * f16_to_f32(y.d) * float(isum);
    }
    return sum;
}

// ---- K-quants × Q8_K: one integer sum per super-block (sub-block scales are small integers) ------------------
// The mins of Q2_K/Q4_K/Q5_K are applied through Q8_K's bsums: Σ_e m·a_e over a group = m·bsums[group].

float vec_dot_q2_k_q8_k(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQkK; ++i) {
        const auto x = load_block<BlockQ2_K>(w, i);
        const auto y = load_block<BlockQ8_K>(a, i);
        int isum = 0, msum = 0;
        for (int e = 0; e < kQkK; ++e) {
            const int h = e / 128, j = (e % 128) / 32, m = e % 32;
            const int q = (x.qs[32 * h + m] >> (2 * j)) & 3;
            isum += (x.scales[e / 16] & 15) * q * y.qs[e];
        }
        for (int g = 0; g < 16; ++g) msum += (x.scales[g] >> 4) * y.bsums[g];
        sum += f16_to_f32(x.d) * y.d * float(isum) - f16_to_f32(x.dmin) * y.d * float(msum);
    }
    return sum;
}

float vec_dot_q3_k_q8_k(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQkK; ++i) {
        const auto x = load_block<BlockQ3_K>(w, i);
        const auto y = load_block<BlockQ8_K>(a, i);
        int isum = 0;
        for (int e = 0; e < kQkK; ++e) {
            const int h = e / 128, j = (e % 128) / 32, m = e % 32;
            const int lo = (x.qs[32 * h + m] >> (2 * j)) & 3;
            const bool high = x.hmask[m] & (1 << (4 * h + j));  // set bit: no subtraction
            isum += q3_k_scale(x.scales, e / 16) * (lo - (high ? 0 : 4)) * y.qs[e];
        }
        sum += f16_to_f32(x.d) * y.d * float(isum);
    }
    return sum;
}

float vec_dot_q4_k_q8_k(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQkK; ++i) {
        const auto x = load_block<BlockQ4_K>(w, i);
        const auto y = load_block<BlockQ8_K>(a, i);
        int isum = 0, msum = 0;
        for (int k = 0; k < 8; ++k) {  // sub-block k = values 32k .. 32k+31
            int sc, mn;
            q4_k_scale_min(x.scales, k, &sc, &mn);
            const uint8_t* qs = x.qs + 32 * (k / 2);
            int sub = 0;
            for (int l = 0; l < 32; ++l) sub += ((qs[l] >> (4 * (k % 2))) & 15) * y.qs[32 * k + l];
            isum += sc * sub;
            msum += mn * (y.bsums[2 * k] + y.bsums[2 * k + 1]);
        }
        sum += f16_to_f32(x.d) * y.d * float(isum) - f16_to_f32(x.dmin) * y.d * float(msum);
    }
    return sum;
}

float vec_dot_q5_k_q8_k(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQkK; ++i) {
        const auto x = load_block<BlockQ5_K>(w, i);
        const auto y = load_block<BlockQ8_K>(a, i);
        int isum = 0, msum = 0;
        for (int k = 0; k < 8; ++k) {
            int sc, mn;
            q4_k_scale_min(x.scales, k, &sc, &mn);
            const uint8_t* qs = x.qs + 32 * (k / 2);
            int sub = 0;
            for (int l = 0; l < 32; ++l) {
                const int q = ((qs[l] >> (4 * (k % 2))) & 15) | ((x.qh[l] >> k) & 1) << 4;
                sub += q * y.qs[32 * k + l];
            }
            isum += sc * sub;
            msum += mn * (y.bsums[2 * k] + y.bsums[2 * k + 1]);
        }
        sum += f16_to_f32(x.d) * y.d * float(isum) - f16_to_f32(x.dmin) * y.d * float(msum);
    }
    return sum;
}

float vec_dot_q6_k_q8_k(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQkK; ++i) {
        const auto x = load_block<BlockQ6_K>(w, i);
        const auto y = load_block<BlockQ8_K>(a, i);
        int isum = 0;
        for (int e = 0; e < kQkK; ++e) {
            const int h = e / 128, k = (e % 128) / 32, l = e % 32;
            const uint8_t ql = x.ql[64 * h + 32 * (k & 1) + l];
            const int lo = k >= 2 ? ql >> 4 : ql & 15;
            const int hi = (x.qh[32 * h + l] >> (2 * k)) & 3;
            isum += x.scales[e / 16] * ((lo | hi << 4) - 32) * y.qs[e];
        }
        sum += f16_to_f32(x.d) * y.d * float(isum);
    }
    return sum;
}

float vec_dot_iq4_xs_q8_k(int64_t n, const void* w, const void* a) {
    float sum = 0.f;
    for (int64_t i = 0; i < n / kQkK; ++i) {
        const auto x = load_block<BlockIQ4_XS>(w, i);
        const auto y = load_block<BlockQ8_K>(a, i);
        int isum = 0;
        for (int k = 0; k < 8; ++k) {  // sub-block k = values 32k .. 32k+31
            const int ls = ((x.scales_l[k / 2] >> (4 * (k % 2))) & 15) | ((x.scales_h >> (2 * k)) & 3) << 4;
            const uint8_t* qs = x.qs + 16 * k;
            int sub = 0;
            for (int j = 0; j < 16; ++j) {
                sub += kIq4NlValues[qs[j] & 15] * y.qs[32 * k + j];
                sub += kIq4NlValues[qs[j] >> 4] * y.qs[32 * k + j + 16];
            }
            isum += (ls - 32) * sub;
        }
        sum += f16_to_f32(x.d) * y.d * float(isum);
    }
    return sum;
}

// ---- half and single precision: widen to f32, sum products in f32 ---------------------------------------------

float vec_dot_f16_f16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint8_t*>(w);
    const auto* y = static_cast<const uint8_t*>(a);
    float sum = 0.f;
    for (int64_t i = 0; i < n; ++i) {
        uint16_t hx, hy;
        std::memcpy(&hx, x + 2 * i, 2);
        std::memcpy(&hy, y + 2 * i, 2);
        sum += f16_to_f32(hx) * f16_to_f32(hy);
    }
    return sum;
}

float vec_dot_bf16_bf16(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint8_t*>(w);
    const auto* y = static_cast<const uint8_t*>(a);
    float sum = 0.f;
    for (int64_t i = 0; i < n; ++i) {
        uint16_t hx, hy;
        std::memcpy(&hx, x + 2 * i, 2);
        std::memcpy(&hy, y + 2 * i, 2);
        sum += bf16_to_f32(hx) * bf16_to_f32(hy);
    }
    return sum;
}

float vec_dot_f32_f32(int64_t n, const void* w, const void* a) {
    const auto* x = static_cast<const uint8_t*>(w);
    const auto* y = static_cast<const uint8_t*>(a);
    float sum = 0.f;
    for (int64_t i = 0; i < n; ++i) {
        float fx, fy;
        std::memcpy(&fx, x + 4 * i, 4);
        std::memcpy(&fy, y + 4 * i, 4);
        sum += fx * fy;
    }
    return sum;
}

VecDotFn vec_dot_fn(DType weight) {
    switch (weight) {
        case DType::q4_0: return vec_dot_q4_0_q8_0;
        case DType::q4_1: return vec_dot_q4_1_q8_1;
        case DType::q5_0: return vec_dot_q5_0_q8_0;
        case DType::q5_1: return vec_dot_q5_1_q8_1;
        case DType::q8_0: return vec_dot_q8_0_q8_0;
        case DType::iq4_nl: return vec_dot_iq4_nl_q8_0;
        case DType::q2_k: return vec_dot_q2_k_q8_k;
        case DType::q3_k: return vec_dot_q3_k_q8_k;
        case DType::q4_k: return vec_dot_q4_k_q8_k;
        case DType::q5_k: return vec_dot_q5_k_q8_k;
        case DType::q6_k: return vec_dot_q6_k_q8_k;
        case DType::iq4_xs: return vec_dot_iq4_xs_q8_k;
        case DType::f16: return vec_dot_f16_f16;
        case DType::bf16: return vec_dot_bf16_bf16;
        case DType::f32: return vec_dot_f32_f32;
        default: return nullptr;
    }
}

}  // namespace loom::kernels::ref
