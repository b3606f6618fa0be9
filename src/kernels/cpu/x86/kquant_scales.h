// Q4_K/Q5_K's packed 6-bit sub-block scales and mins, unpacked with word arithmetic, for the x86 kernels of every
// ISA. Internal linkage on purpose: each translation unit (built with its own ISA flags) keeps its own copy, so no
// copy built for AVX-512 can stand in for the AVX2 one at link time.
#pragma once

#include <cstdint>
#include <cstring>

namespace loom::kernels::cpu::x86 {
namespace {

// The 12 bytes at s (formats §2.4) as eight bytes each: sc 0–3 / mn 0–3 are the low 6 bits of bytes 0–3 / 4–7;
// sc 4–7 / mn 4–7 take their low nibble from bytes 8–11 (low / high nibble) and their top 2 bits from the top of
// bytes 0–3 / 4–7.
inline void scale_min_k4(const uint8_t* s, uint64_t* sc, uint64_t* mn) {
    uint32_t u[3];
    std::memcpy(u, s, 12);
    const uint32_t sc_lo = u[0] & 0x3f3f3f3f, mn_lo = u[1] & 0x3f3f3f3f;
    const uint32_t sc_hi = (u[2] & 0x0f0f0f0f) | ((u[0] >> 6) & 0x03030303) << 4;
    const uint32_t mn_hi = ((u[2] >> 4) & 0x0f0f0f0f) | ((u[1] >> 6) & 0x03030303) << 4;
    *sc = uint64_t(sc_lo) | uint64_t(sc_hi) << 32;
    *mn = uint64_t(mn_lo) | uint64_t(mn_hi) << 32;
}

}  // namespace
}  // namespace loom::kernels::cpu::x86
