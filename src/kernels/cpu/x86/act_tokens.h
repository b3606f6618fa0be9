// The token pointers of packed activation rows (x86/avx2/matmul_avx2.h), shared by the AVX2 and AVX-512 tiles.
// Pointer arithmetic only (no intrinsics), but include only from x86/ kernels: they are the only users, and every
// copy of these inline templates is built with x86-64 vector flags.
#pragma once

#include <cstdint>

namespace loom::kernels::cpu::x86 {

// NR tokens' parts of packed A8 rows (rows `as` bytes apart, nb blocks): values, scales, s, Σq.
template <int NR>
struct A8Tokens {
    const int8_t* q[NR];
    const float* d[NR];
    const float* s[NR];
    const int32_t* sum[NR];
    A8Tokens(const uint8_t* a, int64_t as, int64_t nb) {
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) {
            const uint8_t* row = a + t * as;
            q[t] = reinterpret_cast<const int8_t*>(row);
            d[t] = reinterpret_cast<const float*>(row + 32 * nb);
            s[t] = d[t] + nb;
            sum[t] = reinterpret_cast<const int32_t*>(s[t] + nb);
        }
    }
};

// NR tokens' parts of packed A8K rows (rows `as` bytes apart, nb super-blocks): values, scales, bsums.
template <int NR>
struct A8KTokens {
    const int8_t* q[NR];
    const float* d[NR];
    const int16_t* bsums[NR];
    A8KTokens(const uint8_t* a, int64_t as, int64_t nb) {
#pragma GCC unroll 8
        for (int t = 0; t < NR; ++t) {
            const uint8_t* row = a + t * as;
            q[t] = reinterpret_cast<const int8_t*>(row);
            d[t] = reinterpret_cast<const float*>(row + 256 * nb);
            bsums[t] = reinterpret_cast<const int16_t*>(row + 260 * nb);
        }
    }
};

}  // namespace loom::kernels::cpu::x86
