// Load-time weight layouts of the CPU matmul kernels (PackedLayout), and the portable code that builds them from
// a GGUF row-major tensor. The kernels that read them live with their ISA (x86/avx2/matmul_avx2_*_x8.cpp).
//
// Every layout interleaves rows in groups of 8: per group and block one record, in which one 32-byte load holds
// 4 code bytes of each of the 8 rows, so that a vpmaddubsw against 4 activation bytes broadcast to every 32-bit
// lane leaves each row's products in its own lanes: no per-token fold of row sums, no per-token scale shuffles.
// The integers are the GGUF blocks' own, only moved (Q4_K's 6-bit scales and mins become bytes, Q6_K's codes
// change planes):
//   q4_0_x8  Q4_0, per 32-value block 144 bytes (= 8 × 18)
//   q4_k_x8  Q4_K, per 256-value super-block 1184 bytes (8 × 144 + 32: +2.8%)
//   q6_k_x8  Q6_K, per 256-value super-block 1680 bytes (= 8 × 210; the 6-bit codes re-packed, see Q6KX8)
//   q5_0_x8  Q5_0, per 32-value block 176 bytes (= 8 × 22; the high bits re-packed per step, see Q50X8)
#pragma once

#include <cstdint>
#include <span>

#include "core/dtype.h"
#include "core/packed_weight.h"

namespace loom::kernels::cpu {

inline constexpr int kPackRows = 8;  // rows per group, every layout

// Q4_0: one group of 8 rows × one 32-value block.
struct Q40X8 {
    uint16_t d[8];        // f16 block scale of rows 0..7
    uint8_t qs[4][8][4];  // [step s][row r][i]: row r's code byte q[4s + i]: value 4s + i in the low nibble,
                          // value 16 + 4s + i in the high one
};
static_assert(sizeof(Q40X8) == 144);

// Q5_0: one group of 8 rows × one 32-value block. Step s holds values 4s..4s+3 (code bytes' low nibbles) and
// 16 + 4s..16 + 4s + 3 (high nibbles), as Q40X8; each row's high bits of those 8 values sit in one byte per step.
struct Q50X8 {
    uint16_t d[8];        // f16 block scale of rows 0..7
    uint8_t qh[4][8];     // [step s][row r]: bits i (0..3) the high bits of values 4s + i, bits 4 + i of 16 + 4s + i
    uint8_t qs[4][8][4];  // [step s][row r][i]: row r's code byte q[4s + i]
};
static_assert(sizeof(Q50X8) == 176);

// Q4_K: one group of 8 rows × one 256-value super-block.
struct Q4KX8 {
    uint16_t d[8];           // f16 super-block scale of rows 0..7
    uint16_t dmin[8];        // f16 super-block min scale
    uint8_t scales[8][8];    // [sub-block j][row r]: 6-bit scale
    uint8_t mins[4][8][2];   // [pair c][row r]: the mins of sub-blocks 2c and 2c + 1
    uint8_t qs[4][8][8][4];  // [pair c][step s][row r][i]: row r's code byte q[32c + 4s + i], i.e. value 64c + 4s + i
                             // (sub-block 2c) in the low nibble and value 64c + 32 + 4s + i (sub-block 2c + 1) high
};
static_assert(sizeof(Q4KX8) == 1184);

// Q6_K: one group of 8 rows × one 256-value super-block. Value v = 128h + 32k + 4s + i (half h, quarter k, step
// s, byte i) has a 6-bit code c_k (the GGUF block's low 4 bits from ql and top 2 from qh, re-packed: the same
// bytes as ql + qh). Quarters 0..2 keep their code whole in the low 6 bits of plane k; quarter 3's code is spread
// over the planes' top 2 bits (plane p holds its bits 2p, 2p + 1). Taking a code out then costs one `and` for
// three quarters in four and 8 operations for the fourth (the GGUF split costs 4–5 for each); its 16-value group
// is g = v / 16.
struct Q6KX8 {
    uint16_t d[8];             // f16 super-block scale of rows 0..7
    int8_t scales[8][8][2];    // [pair c][row r]: the scales of groups 2c and 2c + 1
    uint8_t q[2][3][8][8][4];  // [half h][plane p][step s][row r][i]: c_p | ((c_3 >> 2p) & 3) << 6, c_k the
                               // code of value 128h + 32k + 4s + i
};
static_assert(sizeof(Q6KX8) == 1680);

// A layout's geometry and code. Records of one group of rows follow each other block by block; groups follow
// each other, so the group of row o (a multiple of kPackRows) starts at o · row_stride(n_in).
struct PackedFormat {
    DType dtype;
    PackedLayout layout;
    int64_t block_values;  // values per record (per row)
    int64_t record_bytes;
    // Rearranges rows [o0, o1) (multiples of kPackRows) of the row-major blocks, row r at src + r · src_stride.
    void (*pack)(const uint8_t* src, int64_t src_stride, int64_t n_in, int64_t o0, int64_t o1, uint8_t* dst);
    // Value (o, i) read back from the packed form, as ggml's dequantize_row rounds it (tests: packing kept every
    // bit). PRECONDITION: o < n_out, i < n_in.
    float (*value)(const uint8_t* packed, int64_t n_in, int64_t o, int64_t i);

    int64_t row_stride(int64_t n_in) const { return record_bytes * (n_in / block_values) / kPackRows; }
};

// Every layout, in the order pack_weight_with prefers them.
std::span<const PackedFormat> packed_formats();

}  // namespace loom::kernels::cpu
