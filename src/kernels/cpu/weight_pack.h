// Load-time weight layouts of the CPU matmul kernels (PackedLayout), and the portable code that builds them from
// a GGUF row-major tensor. The kernels that read them live with their ISA (x86/avx2/matmul_avx2_q4k_x8.cpp).
//
// q4_k_x8: Q4_K rows in groups of 8, per group and super-block one 1184-byte record (Q4KX8), so that one 32-byte
// load holds 4 code bytes (8 values) of each of the 8 rows and a vpmaddubsw against 4 broadcast activation bytes
// leaves each row's products in its own lanes: no per-token fold of row sums, no per-token scale shuffles.
// The integers are Q4_K's own (d and dmin stay f16, the 6-bit scales and mins become bytes), 32 bytes more per
// 8 rows than the GGUF blocks (1152): +2.8%.
#pragma once

#include <cstdint>

namespace loom::kernels::cpu {

// One group of 8 rows × one 256-value super-block.
struct Q4KX8 {
    uint16_t d[8];            // f16 super-block scale of rows 0..7
    uint16_t dmin[8];         // f16 super-block min scale
    uint8_t scales[8][8];     // [sub-block j][row r]: 6-bit scale
    uint8_t mins[4][8][2];    // [pair c][row r]: the mins of sub-blocks 2c and 2c + 1
    uint8_t qs[4][8][8][4];   // [pair c][step s][row r][i]: row r's code byte q[32c + 4s + i], i.e. value 64c + 4s + i
                              // (sub-block 2c) in the low nibble and value 64c + 32 + 4s + i (sub-block 2c + 1) high
};
static_assert(sizeof(Q4KX8) == 1184);

inline constexpr int kQ4KX8Rows = 8;

// Rearranges n_out rows (n_out % 8 == 0, n_in % 256 == 0) of Q4_K blocks, row r at src + r * src_stride, into
// n_out / 8 groups of n_in / 256 records. Rows [o0, o1) only (multiples of 8), for parallel packing.
void pack_q4_k_x8(const uint8_t* src, int64_t src_stride, int64_t n_in, int64_t o0, int64_t o1, Q4KX8* dst);

// Reads one value back from the packed form (tests, and the check that packing kept every bit).
// PRECONDITION: o < n_out, i < n_in.
float q4_k_x8_value(const Q4KX8* packed, int64_t n_in, int64_t o, int64_t i);

}  // namespace loom::kernels::cpu
