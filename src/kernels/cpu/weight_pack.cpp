// Builds the CPU matmul kernels' load-time weight layouts (weight_pack.h) and decides which weights get one.
#include "kernels/cpu/weight_pack.h"

#include <cstring>

#include "core/half.h"
#include "core/thread_pool.h"
#include "formats/quant_layout.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/ref/quant.h"

namespace loom::kernels::cpu {

void pack_q4_k_x8(const uint8_t* src, int64_t src_stride, int64_t n_in, int64_t o0, int64_t o1, Q4KX8* dst) {
    const int64_t nb = n_in / 256;
    for (int64_t g = o0 / kQ4KX8Rows; g < o1 / kQ4KX8Rows; ++g) {
        for (int64_t b = 0; b < nb; ++b) {
            Q4KX8& out = dst[g * nb + b];
            for (int r = 0; r < kQ4KX8Rows; ++r) {
                formats::BlockQ4_K blk;
                std::memcpy(&blk, src + (g * kQ4KX8Rows + r) * src_stride + b * int64_t(sizeof blk), sizeof blk);
                out.d[r] = blk.d;
                out.dmin[r] = blk.dmin;
                for (int j = 0; j < 8; ++j) {
                    int sc, mn;
                    ref::q4_k_scale_min(blk.scales, j, &sc, &mn);
                    out.scales[j][r] = uint8_t(sc);
                    out.mins[j / 2][r][j % 2] = uint8_t(mn);
                }
                for (int c = 0; c < 4; ++c)
                    for (int s = 0; s < 8; ++s) std::memcpy(out.qs[c][s][r], blk.qs + 32 * c + 4 * s, 4);
            }
        }
    }
}

float q4_k_x8_value(const Q4KX8* packed, int64_t n_in, int64_t o, int64_t i) {
    const Q4KX8& blk = packed[(o / kQ4KX8Rows) * (n_in / 256) + i / 256];
    const int r = int(o % kQ4KX8Rows), v = int(i % 256);
    const int c = v / 64, high = (v % 64) / 32, s = (v % 32) / 4, j = 2 * c + high;
    const int code = (blk.qs[c][s][r][v % 4] >> (4 * high)) & 15;
    // As ggml's dequantize_row_q4_K: d·sc·q − dmin·m, each product rounded to f32.
    const float d = f16_to_f32(blk.d[r]) * float(blk.scales[j][r]);
    const float m = f16_to_f32(blk.dmin[r]) * float(blk.mins[c][r][high]);
    return d * float(code) - m;
}

Result<std::unique_ptr<PackedWeight>> pack_weight_with(const MatmulKernels& K, const TensorView& w, Stream& s) {
    if (w.rank != 2 || w.dtype != DType::q4_k || w.dim(0) % kQ4KX8Rows != 0 || w.dim(1) % 256 != 0 || w.dim(1) == 0 ||
        w.stride[0] != w.row_bytes() || !K.find(DType::q4_k, PackedLayout::q4_k_x8))
        return std::unique_ptr<PackedWeight>();
    const int64_t n_out = w.dim(0), n_in = w.dim(1);
    auto p = std::make_unique<PackedWeight>();
    p->layout = PackedLayout::q4_k_x8;
    p->source = w.data;
    p->dtype = w.dtype;
    p->n_out = n_out;
    p->n_in = n_in;
    p->row_stride = int64_t(sizeof(Q4KX8)) * (n_in / 256) / kQ4KX8Rows;
    p->bytes = size_t(p->row_stride * n_out);
    p->data.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (p->bytes + 63) / 64 * 64)));
    if (!p->data)
        return Error::make(ErrorCode::io, "packing a {} weight {}: cannot allocate {} bytes", w.dtype,
                           shape_string(w), p->bytes);
    auto* dst = reinterpret_cast<Q4KX8*>(p->data.get());
    const auto* src = static_cast<const uint8_t*>(w.data);
    const int64_t n_groups = n_out / kQ4KX8Rows, per_task = std::max<int64_t>(1, n_groups / 64);
    const int64_t n_tasks = (n_groups + per_task - 1) / per_task;
    auto pack = [&](int64_t task, int) {
        const int64_t g0 = task * per_task, g1 = std::min(n_groups, g0 + per_task);
        pack_q4_k_x8(src, w.stride[0], n_in, g0 * kQ4KX8Rows, g1 * kQ4KX8Rows, dst);
    };
    if (s.pool) s.pool->run(n_tasks, pack);
    else for (int64_t t = 0; t < n_tasks; ++t) pack(t, 0);
    return p;
}

}  // namespace loom::kernels::cpu
