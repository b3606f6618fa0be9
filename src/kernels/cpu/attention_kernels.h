// Private to the CPU attention family (attention, conv1d, delta_net): the inner loops each ISA variant
// provides, and one entry point per variant so that tests can check every variant this CPU can run.
// The drivers (tiling, masks, threads) live in attention.cpp and recurrent.cpp and are shared.
#pragma once

#include <cstdint>

#include "kernels/ops.h"

namespace loom::kernels::cpu {

// Inner loops of the tiled attention kernel. A tile holds n_k KV slots widened to f32, n_k a multiple
// of 8 (the driver pads with zero rows and masks them). Rows of q, k, v, acc are dense in their buffers.
inline constexpr int64_t kDirectRows = 8;

struct AttentionMicro {
    const char* name;
    int64_t width;  // d_head and d_v must be multiples of this (else the driver uses the portable loops)
    // s[r·ld + j] = q_r · k_j for r < n_rows, j < n_k.
    void (*qk)(const float* q, int64_t n_rows, const float* k, int64_t n_k, int64_t d, float* s, int64_t ld);
    // acc_r += Σ_j p[r·ld + j] · v_j for r < n_rows (acc rows are d_v long).
    void (*pv)(const float* p, int64_t ld, int64_t n_rows, const float* v, int64_t n_k, int64_t d_v, float* acc);
    // As pv, for n_rows <= kDirectRows, reading V rows straight from the cache: slot idx[t] of the tile is
    // at v + idx[t] · v_stride bytes, f16 or f32. Saves widening a tile that few rows would share.
    void (*pv_direct)(const float* p, int64_t ld, int64_t n_rows, const void* v, bool v_f16, int64_t v_stride,
                      const int32_t* idx, int64_t n_idx, int64_t d_v, float* acc);
    // One score row: s = cap > 0 ? cap · tanh(s · scale) : s · scale (the driver passes scale / cap when
    // capping, as ggml does), then s = −inf where mask is 0 (a select, so garbage never leaks through).
    // Returns the row maximum.
    float (*score_row)(float* s, const uint32_t* mask, int64_t n, float scale, float cap);
    // s = exp(s − max) (exactly 0 for −inf), returns the sum.
    float (*exp_sum)(float* s, int64_t n, float max);
    // f16 → f32 widening of one row.
    void (*widen)(const uint16_t* x, float* y, int64_t n);
    // y = x rounded to f16 (nearest even, as core/half.h), kept as f32.
    void (*round_f16)(const float* x, float* y, int64_t n);
    // x *= a over one row.
    void (*scale)(float* x, int64_t n, float a);

    // llama.cpp's unfused attention, operation for operation (attention_unfused in attention.cpp); nullptr in
    // a variant that cannot reproduce ggml's bits (the streaming loops above run instead).
    // x · y in ggml_vec_dot_f32's order: four 8-lane FMA accumulators over 32-value steps, then its reduction.
    float (*dot_ggml)(const float* x, const float* y, int64_t n) = nullptr;
    // y = e^(x − max) by ggml_v_expf, n a multiple of 8; returns Σy in double, added 8 lanes at a time as
    // ggml_vec_soft_max_f32 does.
    double (*softmax_ggml)(const float* x, float* y, int64_t n, float max) = nullptr;
    // acc += p · v, one fused multiply-add per value.
    void (*axpy)(float* acc, const float* v, float p, int64_t n) = nullptr;
};

const AttentionMicro& attention_micro_portable();
const AttentionMicro& attention_micro_avx2();  // call only when cpu_features().avx2_kernels()

// Inner loop of the gated delta rule for one token and a block of value rows of one head (see DeltaNetArgs):
// s_r ← s_r · decay; δ_r = β (v_r − s_r · k); s_r ← s_r + δ_r k; out_r = (s_r · q) · scale.
// avx2 reproduces llama.cpp's CPU bits (ggml_compute_forward_gated_delta_net with AVX2 + FMA): both dot
// products in ggml_vec_dot_f32's order, the update one fused multiply-add per value.
struct DeltaNetMicro {
    const char* name;
    void (*rows)(float* s, int64_t n_rows, int64_t d_k, const float* q, const float* k, const float* v, float decay,
                 float beta, float scale, float* out);
};

const DeltaNetMicro& delta_net_micro_portable();
const DeltaNetMicro& delta_net_micro_avx2();  // call only when cpu_features().avx2_kernels()

// Inner loop of conv1d for one token and a block of at most kConvBlock channels:
// y[c] = Σ_i w[i · ld + c] · src[i][c] for c < n_ch, the taps i < K in order (oldest input first).
// avx2 reproduces llama.cpp's CPU bits (ggml_compute_forward_ssm_conv_f32 as GCC vectorised it: the first
// K & ~3 products rounded and added, the last K & 3 taps fused multiply-adds); portable rounds every product.
inline constexpr int64_t kConvBlock = 64;
struct Conv1dMicro {
    const char* name;
    void (*taps)(const float* const* src, const float* w, int64_t ld, int64_t k, int64_t n_ch, float* y);
};

const Conv1dMicro& conv1d_micro_portable();
const Conv1dMicro& conv1d_micro_avx2();  // call only when cpu_features().avx2_kernels()

// The ops with a chosen variant (each of kernels::variants() binds its ISA's micro-kernels).
Status attention_with(const AttentionArgs& a, Stream& s, const AttentionMicro& micro);
Status delta_net_with(const DeltaNetArgs& a, Stream& s, const DeltaNetMicro& micro);
Status conv1d_with(const Conv1dArgs& a, Stream& s, const Conv1dMicro& micro);

}  // namespace loom::kernels::cpu
