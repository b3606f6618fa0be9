// IEEE binary16 and bfloat16 conversions, bit-exact with ggml's reference (round to nearest even).
#pragma once

#include <cstdint>
#include <cstring>

namespace loom {

inline float bits_to_f32(uint32_t b) {
    float f;
    std::memcpy(&f, &b, 4);
    return f;
}
inline uint32_t f32_to_bits(float f) {
    uint32_t b;
    std::memcpy(&b, &f, 4);
    return b;
}

// binary16 -> f32, exact (subnormals, inf and NaN preserved).
inline float f16_to_f32(uint16_t h) {
    const uint32_t sign = uint32_t(h & 0x8000) << 16;
    const uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0) {
        if (mant == 0) return bits_to_f32(sign);
        // Subnormal: normalise the mantissa.
        int e = -1;
        do {
            ++e;
            mant <<= 1;
        } while ((mant & 0x400) == 0);
        return bits_to_f32(sign | uint32_t(127 - 15 - e) << 23 | (mant & 0x3ff) << 13);
    }
    if (exp == 31) return bits_to_f32(sign | 0x7f800000u | mant << 13);
    return bits_to_f32(sign | (exp + 127 - 15) << 23 | mant << 13);
}

// f32 -> binary16, round to nearest even; overflow goes to inf, NaN stays NaN.
inline uint16_t f32_to_f16(float f) {
    const uint32_t x = f32_to_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000;
    const uint32_t abs = x & 0x7fffffff;
    if (abs > 0x7f800000) return uint16_t(sign | 0x7e00 | ((abs >> 13) & 0x3ff));  // NaN, quiet
    if (abs >= 0x477ff000) return uint16_t(sign | 0x7c00);                         // rounds to >= 65520: inf
    if (abs < 0x38800000) {
        // Result is subnormal (or zero): value / 2^-24, rounded to nearest even.
        if (abs < 0x33000000) return uint16_t(sign);  // below half the smallest subnormal
        const uint32_t e = abs >> 23;
        const uint32_t m = (abs & 0x7fffff) | 0x800000;
        const uint32_t shift = 126 - e;  // 14..24
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1);
        const uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (r & 1))) ++r;
        return uint16_t(sign | r);
    }
    // Normal: rebias the exponent and round the 13 dropped bits to nearest even.
    uint32_t r = abs - ((127 - 15) << 23);
    r += 0xfff + ((r >> 13) & 1);
    return uint16_t(sign | (r >> 13));
}

inline float bf16_to_f32(uint16_t h) { return bits_to_f32(uint32_t(h) << 16); }

// f32 -> bfloat16 as ggml does it: NaN becomes a quiet NaN, everything else rounds to nearest even.
inline uint16_t f32_to_bf16(float f) {
    const uint32_t x = f32_to_bits(f);
    if ((x & 0x7fffffff) > 0x7f800000) return uint16_t((x >> 16) | 0x40);
    return uint16_t((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

}  // namespace loom
