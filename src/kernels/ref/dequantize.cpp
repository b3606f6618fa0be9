// Reference dequantizers: one readable loop per block type, following the layouts in formats/quant_layout.h.
// Each block is copied out with memcpy first: blocks inside a GGUF file are only byte-aligned.

#include <cstring>

#include "core/half.h"
#include "formats/quant_layout.h"
#include "kernels/ref/quant.h"

// Every product and sum is rounded to f32 on its own, in ggml's order (y = (d*sc)*q - dmin*m), so the result
// never depends on whether the target ISA has fused multiply-add. (Most of these products are exact in f32
// anyway, an f16 scale times a few-bit code, but the guarantee should not rest on that.)
#include "kernels/ref/block_io.h"
#include "kernels/ref/no_fp_contract.h"  // last: no fused multiply-add below

namespace loom::kernels::ref {
namespace {

using namespace loom::formats;

void dequant_q4_0(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQk) {
        const auto b = load_block<BlockQ4_0>(src, i);
        const float d = f16_to_f32(b.d);
        for (int j = 0; j < 16; ++j) {
            y[j] = float((b.qs[j] & 15) - 8) * d;
            y[j + 16] = float((b.qs[j] >> 4) - 8) * d;
        }
    }
}

void dequant_q4_1(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQk) {
        const auto b = load_block<BlockQ4_1>(src, i);
        const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
        for (int j = 0; j < 16; ++j) {
            y[j] = float(b.qs[j] & 15) * d + m;
            y[j + 16] = float(b.qs[j] >> 4) * d + m;
        }
    }
}

// The 5-bit legacy values: low nibble from qs, bit 4 from the qh word. Returns 0..31.
inline int q5_value(const uint8_t* qs, uint32_t qh, int e) {
    const int lo = e < 16 ? (qs[e] & 15) : (qs[e - 16] >> 4);
    return lo | int((qh >> e) & 1) << 4;
}

void dequant_q5_0(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQk) {
        const auto b = load_block<BlockQ5_0>(src, i);
        const float d = f16_to_f32(b.d);
        uint32_t qh;
        std::memcpy(&qh, b.qh, 4);
        // Subtract in signed int: with the unsigned qh word in the expression the result would wrap.
        for (int e = 0; e < kQk; ++e) y[e] = float(q5_value(b.qs, qh, e) - 16) * d;
    }
}

void dequant_q5_1(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQk) {
        const auto b = load_block<BlockQ5_1>(src, i);
        const float d = f16_to_f32(b.d), m = f16_to_f32(b.m);
        uint32_t qh;
        std::memcpy(&qh, b.qh, 4);
        for (int e = 0; e < kQk; ++e) y[e] = float(q5_value(b.qs, qh, e)) * d + m;
    }
}

void dequant_q8_0(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQk) {
        const auto b = load_block<BlockQ8_0>(src, i);
        const float d = f16_to_f32(b.d);
        for (int e = 0; e < kQk; ++e) y[e] = float(b.qs[e]) * d;
    }
}

void dequant_q8_1(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQk) {
        const auto b = load_block<BlockQ8_1>(src, i);
        const float d = f16_to_f32(b.d);  // s is redundant for decoding
        for (int e = 0; e < kQk; ++e) y[e] = float(b.qs[e]) * d;
    }
}

void dequant_iq4_nl(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQk) {
        const auto b = load_block<BlockIQ4_NL>(src, i);
        const float d = f16_to_f32(b.d);
        for (int j = 0; j < 16; ++j) {
            y[j] = d * float(kIq4NlValues[b.qs[j] & 15]);
            y[j + 16] = d * float(kIq4NlValues[b.qs[j] >> 4]);
        }
    }
}

void dequant_q2_k(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQkK) {
        const auto b = load_block<BlockQ2_K>(src, i);
        const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
        for (int e = 0; e < kQkK; ++e) {
            const int h = e / 128, j = (e % 128) / 32, m = e % 32;
            const int q = (b.qs[32 * h + m] >> (2 * j)) & 3;
            const uint8_t sc = b.scales[e / 16];
            const float dl = d * float(sc & 15), ml = dmin * float(sc >> 4);
            y[e] = dl * float(q) - ml;
        }
    }
}

// Q3_K's 16 six-bit scales, offset by 32 (range -32..31).
void unpack_q3_k_scales(const uint8_t s[12], int out[16]) {
    for (int k = 0; k < 16; ++k) {
        const int lo = k < 8 ? (s[k] & 15) : (s[k - 8] >> 4);
        const int hi = (s[8 + k % 4] >> (2 * (k / 4))) & 3;
        out[k] = (lo | hi << 4) - 32;
    }
}

void dequant_q3_k(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQkK) {
        const auto b = load_block<BlockQ3_K>(src, i);
        const float d = f16_to_f32(b.d);
        int scale[16];
        unpack_q3_k_scales(b.scales, scale);
        for (int e = 0; e < kQkK; ++e) {
            const int h = e / 128, j = (e % 128) / 32, m = e % 32;
            const int lo = (b.qs[32 * h + m] >> (2 * j)) & 3;
            const bool high = b.hmask[m] & (1 << (4 * h + j));  // set bit: no subtraction
            const float dl = d * float(scale[e / 16]);
            y[e] = dl * float(lo - (high ? 0 : 4));
        }
    }
}

void dequant_q4_k(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQkK) {
        const auto b = load_block<BlockQ4_K>(src, i);
        const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
        for (int k = 0; k < 8; ++k) {  // sub-block k = elements 32k .. 32k+31
            int sc, mn;
            q4_k_scale_min(b.scales, k, &sc, &mn);
            const float dl = d * float(sc), ml = dmin * float(mn);
            const uint8_t* qs = b.qs + 32 * (k / 2);
            const int shift = 4 * (k % 2);
            for (int l = 0; l < 32; ++l) y[32 * k + l] = dl * float((qs[l] >> shift) & 15) - ml;
        }
    }
}

void dequant_q5_k(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQkK) {
        const auto b = load_block<BlockQ5_K>(src, i);
        const float d = f16_to_f32(b.d), dmin = f16_to_f32(b.dmin);
        for (int k = 0; k < 8; ++k) {
            int sc, mn;
            q4_k_scale_min(b.scales, k, &sc, &mn);
            const float dl = d * float(sc), ml = dmin * float(mn);
            const uint8_t* qs = b.qs + 32 * (k / 2);
            const int shift = 4 * (k % 2);
            for (int l = 0; l < 32; ++l) {
                const int q = ((qs[l] >> shift) & 15) | ((b.qh[l] >> k) & 1) << 4;
                y[32 * k + l] = dl * float(q) - ml;
            }
        }
    }
}

void dequant_q6_k(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQkK) {
        const auto b = load_block<BlockQ6_K>(src, i);
        const float d = f16_to_f32(b.d);
        for (int e = 0; e < kQkK; ++e) {
            const int h = e / 128, k = (e % 128) / 32, l = e % 32;
            const uint8_t ql = b.ql[64 * h + 32 * (k & 1) + l];
            const int lo = k >= 2 ? ql >> 4 : ql & 15;
            const int hi = (b.qh[32 * h + l] >> (2 * k)) & 3;
            const float dl = d * float(b.scales[e / 16]);
            y[e] = dl * float((lo | hi << 4) - 32);
        }
    }
}

void dequant_q8_k(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQkK) {
        const auto b = load_block<BlockQ8_K>(src, i);
        for (int e = 0; e < kQkK; ++e) y[e] = b.d * float(b.qs[e]);
    }
}

void dequant_iq4_xs(const uint8_t* src, float* y, int64_t nb) {
    for (int64_t i = 0; i < nb; ++i, y += kQkK) {
        const auto b = load_block<BlockIQ4_XS>(src, i);
        const float d = f16_to_f32(b.d);
        for (int k = 0; k < 8; ++k) {  // sub-block k = elements 32k .. 32k+31
            const int ls = ((b.scales_l[k / 2] >> (4 * (k % 2))) & 15) | ((b.scales_h >> (2 * k)) & 3) << 4;
            const float dl = d * float(ls - 32);
            const uint8_t* qs = b.qs + 16 * k;
            for (int j = 0; j < 16; ++j) {
                y[32 * k + j] = dl * float(kIq4NlValues[qs[j] & 15]);
                y[32 * k + j + 16] = dl * float(kIq4NlValues[qs[j] >> 4]);
            }
        }
    }
}

void widen_f16(const uint8_t* src, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        y[i] = f16_to_f32(h);
    }
}

void widen_bf16(const uint8_t* src, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        y[i] = bf16_to_f32(h);
    }
}

}  // namespace

Status dequantize_row(DType t, const void* src, float* dst, int64_t n) {
    const DTypeInfo& ti = info(t);
    LOOM_ASSERT(n >= 0 && n % ti.block_elems == 0,
                "dequantize_row: {} values of {} is not a multiple of its block size {}", n, ti.name, ti.block_elems);
    const auto* p = static_cast<const uint8_t*>(src);
    const int64_t nb = n / ti.block_elems;
    switch (t) {
        case DType::f32: std::memcpy(dst, p, size_t(n) * 4); break;
        case DType::f16: widen_f16(p, dst, n); break;
        case DType::bf16: widen_bf16(p, dst, n); break;
        case DType::q4_0: dequant_q4_0(p, dst, nb); break;
        case DType::q4_1: dequant_q4_1(p, dst, nb); break;
        case DType::q5_0: dequant_q5_0(p, dst, nb); break;
        case DType::q5_1: dequant_q5_1(p, dst, nb); break;
        case DType::q8_0: dequant_q8_0(p, dst, nb); break;
        case DType::q8_1: dequant_q8_1(p, dst, nb); break;
        case DType::q2_k: dequant_q2_k(p, dst, nb); break;
        case DType::q3_k: dequant_q3_k(p, dst, nb); break;
        case DType::q4_k: dequant_q4_k(p, dst, nb); break;
        case DType::q5_k: dequant_q5_k(p, dst, nb); break;
        case DType::q6_k: dequant_q6_k(p, dst, nb); break;
        case DType::q8_k: dequant_q8_k(p, dst, nb); break;
        case DType::iq4_nl: dequant_iq4_nl(p, dst, nb); break;
        case DType::iq4_xs: dequant_iq4_xs(p, dst, nb); break;
        default: return Error::unsupported("dequantize: no reference dequantizer for type {}", t);
    }
    return Ok{};
}

Status dequantize(DType t, const void* src, float* dst, int64_t n_rows, int64_t row_len) {
    LOOM_ASSERT(n_rows >= 0 && row_len >= 0, "dequantize: negative shape [{}, {}]", n_rows, row_len);
    // Rows are whole blocks, so contiguous rows are one long row; row_bytes asserts the block multiple.
    (void)row_bytes(t, row_len);
    return dequantize_row(t, src, dst, n_rows * row_len);
}

void q4_k_scale_min(const uint8_t s[12], int k, int* sc, int* mn) {
    if (k < 4) {
        *sc = s[k] & 63;
        *mn = s[k + 4] & 63;
    } else {
        *sc = (s[k + 4] & 15) | (s[k - 4] >> 6) << 4;
        *mn = (s[k + 4] >> 4) | (s[k] >> 6) << 4;
    }
}

}  // namespace loom::kernels::ref
