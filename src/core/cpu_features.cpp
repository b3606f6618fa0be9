// CPUID-based feature detection (x86-64); other CPUs report no features and get portable kernels.
#include "core/cpu_features.h"

#include <cstdlib>
#include <string_view>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

namespace loom {
namespace {

CpuFeatures detect() {
    CpuFeatures f;
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
    const bool osxsave = c & (1u << 27);
    f.fma = c & (1u << 12);
    f.f16c = c & (1u << 29);
    if (!osxsave) return f;
    // XGETBV: the OS must save the YMM (bits 1-2) and ZMM (bits 5-7) state for us to use them.
    unsigned xlo, xhi;
    __asm__("xgetbv" : "=a"(xlo), "=d"(xhi) : "c"(0));
    const bool ymm = (xlo & 0x6) == 0x6;
    const bool zmm = (xlo & 0xe6) == 0xe6;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
        f.avx2 = ymm && (b & (1u << 5));
        f.avx512f = zmm && (b & (1u << 16));
        f.avx512bw = zmm && (b & (1u << 30));
        f.avx512vl = zmm && (b & (1u << 31));
        f.avx512vnni = zmm && (c & (1u << 11));
    }
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
        f.avx_vnni = ymm && (a & (1u << 4));
        f.avx512bf16 = zmm && (a & (1u << 5));
    }
    if (!ymm) f.fma = f.f16c = false;
#endif
    return f;
}

CpuFeatures apply_cap(CpuFeatures f) {
    const char* cap = std::getenv("LOOM_CPU");
    if (!cap) return f;
    const std::string_view c(cap);
    if (c == "portable") return CpuFeatures{};
    if (c == "avx2") {
        f.avx512f = f.avx512bw = f.avx512vl = f.avx512vnni = f.avx512bf16 = false;
    }
    return f;
}

}  // namespace

std::string CpuFeatures::describe() const {
    std::string s;
    auto add = [&s](bool on, const char* n) {
        if (!on) return;
        if (!s.empty()) s += ' ';
        s += n;
    };
    add(avx2, "avx2");
    add(fma, "fma");
    add(f16c, "f16c");
    add(avx_vnni, "avx_vnni");
    add(avx512f, "avx512f");
    add(avx512bw, "avx512bw");
    add(avx512vl, "avx512vl");
    add(avx512vnni, "avx512vnni");
    add(avx512bf16, "avx512bf16");
    return s.empty() ? "portable" : s;
}

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = apply_cap(detect());
    return f;
}

}  // namespace loom
