// CPU features detected once at start-up; kernels pick their widest variant from these.
#pragma once

#include <string>

namespace loom {

struct CpuFeatures {
    bool avx2 = false;
    bool fma = false;
    bool f16c = false;
    bool avx512f = false;
    bool avx512bw = false;
    bool avx512vl = false;
    bool avx512vnni = false;
    bool avx512bf16 = false;
    bool avx_vnni = false;

    // All of the AVX-512 subsets loom's AVX-512 kernels are compiled for (F, BW, VL, VNNI).
    bool avx512_kernels() const { return avx512f && avx512bw && avx512vl && avx512vnni; }
    bool avx2_kernels() const { return avx2 && fma && f16c; }
    std::string describe() const;  // "avx2 fma f16c avx512f ..."
};

// Detected on first call; LOOM_CPU=portable|avx2|avx512 caps what is reported (to test every variant).
const CpuFeatures& cpu_features();

}  // namespace loom
