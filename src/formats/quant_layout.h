// Byte layouts of the GGUF/ggml quantized blocks (shared reference, formats §2.3–2.5): structs and sizes
// only, no code. A block stores a fixed number of consecutive row elements; the comments below give which
// bits hold element e (0-based within the block) and how it decodes.
//
// f16 fields are raw IEEE binary16 bits (uint16_t; decode with core/half.h). All multi-byte fields are
// little-endian. Every struct is laid out with no padding (checked by the static_asserts at the end), but a
// block inside a GGUF file is only byte-aligned: code that reads blocks from a file copies them out with
// memcpy instead of casting a pointer.
#pragma once

#include <cstddef>
#include <cstdint>

namespace loom::formats {

inline constexpr int kQk = 32;    // elements per legacy block (Q4_0 … Q8_1, IQ4_NL)
inline constexpr int kQkK = 256;  // elements per K-quant super-block (Q2_K … Q8_K, IQ4_XS)

// ---- Legacy 32-element blocks -------------------------------------------------------------------------
// Nibble order for all of them: qs[j] (j = 0..15) holds element j in its low nibble and element j+16 in its
// high nibble ("split halves", not interleaved pairs).

// y[e] = (q[e] - 8) * d, q 4-bit unsigned.
struct BlockQ4_0 {
    uint16_t d;  // f16 scale
    uint8_t qs[16];
};

// y[e] = q[e] * d + m, q 4-bit unsigned.
struct BlockQ4_1 {
    uint16_t d;  // f16 scale
    uint16_t m;  // f16 offset (the block minimum)
    uint8_t qs[16];
};

// y[e] = (q[e] - 16) * d, q 5-bit: low 4 bits in qs as above, bit 4 is bit e of qh read as a LE u32.
struct BlockQ5_0 {
    uint16_t d;     // f16 scale
    uint8_t qh[4];  // high bits, element e at bit e of the little-endian u32
    uint8_t qs[16];
};

// y[e] = q[e] * d + m, q 5-bit packed as in Q5_0.
struct BlockQ5_1 {
    uint16_t d;  // f16 scale
    uint16_t m;  // f16 offset
    uint8_t qh[4];
    uint8_t qs[16];
};

// y[e] = qs[e] * d. Also the activation format for Q4_0/Q5_0/Q8_0/IQ4_NL weights.
struct BlockQ8_0 {
    uint16_t d;     // f16 scale
    int8_t qs[32];  // element e at qs[e]
};

// Activation-only format for Q4_1/Q5_1: as Q8_0, plus s = d * Σ qs so the weights' offset term is one multiply.
struct BlockQ8_1 {
    uint16_t d;  // f16 scale
    uint16_t s;  // f16 of d * Σ qs (d before its f16 rounding)
    int8_t qs[32];
};

// y[e] = K[q[e]] * d with the non-linear table kIq4NlValues; nibble order as Q4_0.
struct BlockIQ4_NL {
    uint16_t d;  // f16 scale
    uint8_t qs[16];
};

// The 16 levels of IQ4_NL and IQ4_XS (format constant).
inline constexpr int8_t kIq4NlValues[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

// ---- K-quants: 256-element super-blocks -----------------------------------------------------------------

// 16 sub-blocks of 16 (sub-block of element e is e/16). y[e] = d*(sc&15)*q[e] - dmin*(sc>>4), sc = scales[e/16],
// q 2-bit. Element e = 128h + 32j + m (h = 0..1, j = 0..3, m = 0..31) is bits 2j..2j+1 of qs[32h + m].
struct BlockQ2_K {
    uint8_t scales[16];  // low nibble: scale, high nibble: min (both 4-bit)
    uint8_t qs[64];
    uint16_t d;     // f16 super-block scale for the scales
    uint16_t dmin;  // f16 super-block scale for the mins
};

// 16 sub-blocks of 16. y[e] = d * scale[e/16] * (q[e] - 4), q 3-bit; element e = 128h + 32j + m keeps its low
// 2 bits at bits 2j..2j+1 of qs[32h + m] and its high bit at bit 4h+j of hmask[m] (set = no subtraction of 4).
// scale[k] is 6-bit with an offset of 32: low 4 bits in the nibble (k & 8 ? high : low) of scales[k & 7],
// high 2 bits at bits 2*(k/4) of scales[8 + k%4].
struct BlockQ3_K {
    uint8_t hmask[32];
    uint8_t qs[64];
    uint8_t scales[12];
    uint16_t d;  // f16 super-block scale
};

// 8 sub-blocks of 32 (sub-block of element e is e/32). y[e] = d*sc[e/32]*q[e] - dmin*m[e/32], q 4-bit.
// Element e = 64c + l (l = 0..31) is the low nibble of qs[32c + l]; e = 64c + 32 + l the high nibble.
// scales packs 8 six-bit scales and 8 six-bit mins: bytes 0–3 low 6 bits = sc 0–3, bytes 4–7 low 6 bits =
// m 0–3; bytes 8–11 low nibble = low 4 bits of sc 4–7, high nibble = low 4 bits of m 4–7; the top 2 bits of
// bytes 0–3 are the high bits of sc 4–7, those of bytes 4–7 the high bits of m 4–7.
struct BlockQ4_K {
    uint16_t d;     // f16 super-block scale for the scales
    uint16_t dmin;  // f16 super-block scale for the mins
    uint8_t scales[12];
    uint8_t qs[128];
};

// As Q4_K with 5-bit q: bit 4 of element 64c + l is bit 2c of qh[l], of element 64c + 32 + l bit 2c+1.
struct BlockQ5_K {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];  // packed as in Q4_K
    uint8_t qh[32];
    uint8_t qs[128];
};

// 16 sub-blocks of 16. y[e] = d * scales[e/16] * (q[e] - 32), q 6-bit. For e = 128h + 32k + l (k = 0..3,
// l = 0..31): the low 4 bits are nibble (k >= 2 ? high : low) of ql[64h + 32(k&1) + l], the high 2 bits are
// bits 2k..2k+1 of qh[32h + l].
struct BlockQ6_K {
    uint8_t ql[128];
    uint8_t qh[64];
    int8_t scales[16];  // signed 8-bit sub-block scales
    uint16_t d;         // f16 super-block scale
};

// Activation-only format for K-quant weights. y[e] = d * qs[e]; bsums[g] = Σ qs[16g .. 16g+15].
struct BlockQ8_K {
    float d;  // f32 (not f16), may be negative
    int8_t qs[256];
    int16_t bsums[16];
};

// 8 sub-blocks of 32. y[32b + j] = d * (ls[b] - 32) * K[low nibble of qs[16b + j]], y[32b + 16 + j] the same
// with the high nibble. ls[b] is 6-bit: low 4 bits = nibble (b odd ? high : low) of scales_l[b/2], high 2 bits =
// bits 2b..2b+1 of scales_h.
struct BlockIQ4_XS {
    uint16_t d;         // f16 super-block scale
    uint16_t scales_h;  // LE u16
    uint8_t scales_l[4];
    uint8_t qs[128];
};

// Sizes from the type table (formats §2.1) and offsets from §2.3/§2.4: any padding would break the format.
static_assert(sizeof(BlockQ4_0) == 18 && offsetof(BlockQ4_0, qs) == 2);
static_assert(sizeof(BlockQ4_1) == 20 && offsetof(BlockQ4_1, m) == 2 && offsetof(BlockQ4_1, qs) == 4);
static_assert(sizeof(BlockQ5_0) == 22 && offsetof(BlockQ5_0, qh) == 2 && offsetof(BlockQ5_0, qs) == 6);
static_assert(sizeof(BlockQ5_1) == 24 && offsetof(BlockQ5_1, m) == 2 && offsetof(BlockQ5_1, qh) == 4 &&
              offsetof(BlockQ5_1, qs) == 8);
static_assert(sizeof(BlockQ8_0) == 34 && offsetof(BlockQ8_0, qs) == 2);
static_assert(sizeof(BlockQ8_1) == 36 && offsetof(BlockQ8_1, s) == 2 && offsetof(BlockQ8_1, qs) == 4);
static_assert(sizeof(BlockIQ4_NL) == 18 && offsetof(BlockIQ4_NL, qs) == 2);
static_assert(sizeof(BlockQ2_K) == 84 && offsetof(BlockQ2_K, qs) == 16 && offsetof(BlockQ2_K, d) == 80 &&
              offsetof(BlockQ2_K, dmin) == 82);
static_assert(sizeof(BlockQ3_K) == 110 && offsetof(BlockQ3_K, qs) == 32 && offsetof(BlockQ3_K, scales) == 96 &&
              offsetof(BlockQ3_K, d) == 108);
static_assert(sizeof(BlockQ4_K) == 144 && offsetof(BlockQ4_K, dmin) == 2 && offsetof(BlockQ4_K, scales) == 4 &&
              offsetof(BlockQ4_K, qs) == 16);
static_assert(sizeof(BlockQ5_K) == 176 && offsetof(BlockQ5_K, scales) == 4 && offsetof(BlockQ5_K, qh) == 16 &&
              offsetof(BlockQ5_K, qs) == 48);
static_assert(sizeof(BlockQ6_K) == 210 && offsetof(BlockQ6_K, qh) == 128 && offsetof(BlockQ6_K, scales) == 192 &&
              offsetof(BlockQ6_K, d) == 208);
static_assert(sizeof(BlockQ8_K) == 292 && offsetof(BlockQ8_K, qs) == 4 && offsetof(BlockQ8_K, bsums) == 260);
static_assert(sizeof(BlockIQ4_XS) == 136 && offsetof(BlockIQ4_XS, scales_h) == 2 &&
              offsetof(BlockIQ4_XS, scales_l) == 4 && offsetof(BlockIQ4_XS, qs) == 8);

}  // namespace loom::formats
