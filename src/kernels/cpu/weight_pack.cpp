// Builds the CPU matmul kernels' load-time weight layouts (weight_pack.h) and decides which weights get one.
#include "kernels/cpu/weight_pack.h"

#include <cstring>

#include "core/half.h"
#include "core/thread_pool.h"
#include "formats/quant_layout.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/ref/quant.h"

namespace loom::kernels::cpu {
namespace {

// Calls fill(record, r, block) for every row r of every group in [o0, o1) and every block of the row, with the
// row's GGUF block copied out (blocks are not aligned in the file).
template <class Record, class Block, class Fill>
void pack_rows(const uint8_t* src, int64_t src_stride, int64_t nb, int64_t o0, int64_t o1, uint8_t* dst, Fill fill) {
    auto* out = reinterpret_cast<Record*>(dst);
    for (int64_t g = o0 / kPackRows; g < o1 / kPackRows; ++g)
        for (int64_t b = 0; b < nb; ++b)
            for (int r = 0; r < kPackRows; ++r) {
                Block blk;
                std::memcpy(&blk, src + (g * kPackRows + r) * src_stride + b * int64_t(sizeof blk), sizeof blk);
                fill(out[g * nb + b], r, blk);
            }
}

template <class Record>
const Record& record_of(const uint8_t* packed, int64_t n_in, int64_t block_values, int64_t o, int64_t i) {
    return reinterpret_cast<const Record*>(packed)[(o / kPackRows) * (n_in / block_values) + i / block_values];
}

void pack_q4_0_x8(const uint8_t* src, int64_t src_stride, int64_t n_in, int64_t o0, int64_t o1, uint8_t* dst) {
    pack_rows<Q40X8, formats::BlockQ4_0>(src, src_stride, n_in / 32, o0, o1, dst,
                                         [](Q40X8& out, int r, const formats::BlockQ4_0& blk) {
                                             out.d[r] = blk.d;
                                             for (int s = 0; s < 4; ++s) std::memcpy(out.qs[s][r], blk.qs + 4 * s, 4);
                                         });
}

float q4_0_x8_value(const uint8_t* packed, int64_t n_in, int64_t o, int64_t i) {
    const Q40X8& blk = record_of<Q40X8>(packed, n_in, 32, o, i);
    const int r = int(o % kPackRows), v = int(i % 32), high = v / 16, s = (v % 16) / 4;
    const int code = (blk.qs[s][r][v % 4] >> (4 * high)) & 15;
    return float(code - 8) * f16_to_f32(blk.d[r]);  // as ggml's dequantize_row_q4_0
}

void pack_q5_0_x8(const uint8_t* src, int64_t src_stride, int64_t n_in, int64_t o0, int64_t o1, uint8_t* dst) {
    pack_rows<Q50X8, formats::BlockQ5_0>(src, src_stride, n_in / 32, o0, o1, dst,
                                         [](Q50X8& out, int r, const formats::BlockQ5_0& blk) {
                                             uint32_t qh;
                                             std::memcpy(&qh, blk.qh, 4);
                                             out.d[r] = blk.d;
                                             for (int s = 0; s < 4; ++s) {
                                                 out.qh[s][r] =
                                                     uint8_t(((qh >> (4 * s)) & 15) | ((qh >> (16 + 4 * s)) & 15) << 4);
                                                 std::memcpy(out.qs[s][r], blk.qs + 4 * s, 4);
                                             }
                                         });
}

float q5_0_x8_value(const uint8_t* packed, int64_t n_in, int64_t o, int64_t i) {
    const Q50X8& blk = record_of<Q50X8>(packed, n_in, 32, o, i);
    const int r = int(o % kPackRows), v = int(i % 32), high = v / 16, s = (v % 16) / 4, k = v % 4;
    const int code = ((blk.qs[s][r][k] >> (4 * high)) & 15) | ((blk.qh[s][r] >> (4 * high + k)) & 1) << 4;
    return float(code - 16) * f16_to_f32(blk.d[r]);  // as ggml's dequantize_row_q5_0
}

void pack_q4_k_x8(const uint8_t* src, int64_t src_stride, int64_t n_in, int64_t o0, int64_t o1, uint8_t* dst) {
    pack_rows<Q4KX8, formats::BlockQ4_K>(src, src_stride, n_in / 256, o0, o1, dst,
                                         [](Q4KX8& out, int r, const formats::BlockQ4_K& blk) {
                                             out.d[r] = blk.d;
                                             out.dmin[r] = blk.dmin;
                                             for (int j = 0; j < 8; ++j) {
                                                 int sc, mn;
                                                 ref::q4_k_scale_min(blk.scales, j, &sc, &mn);
                                                 out.scales[j][r] = uint8_t(sc);
                                                 out.mins[j / 2][r][j % 2] = uint8_t(mn);
                                             }
                                             for (int c = 0; c < 4; ++c)
                                                 for (int s = 0; s < 8; ++s)
                                                     std::memcpy(out.qs[c][s][r], blk.qs + 32 * c + 4 * s, 4);
                                         });
}

float q4_k_x8_value(const uint8_t* packed, int64_t n_in, int64_t o, int64_t i) {
    const Q4KX8& blk = record_of<Q4KX8>(packed, n_in, 256, o, i);
    const int r = int(o % kPackRows), v = int(i % 256);
    const int c = v / 64, high = (v % 64) / 32, s = (v % 32) / 4, j = 2 * c + high;
    const int code = (blk.qs[c][s][r][v % 4] >> (4 * high)) & 15;
    // As ggml's dequantize_row_q4_K: d·sc·q − dmin·m, each product rounded to f32.
    const float d = f16_to_f32(blk.d[r]) * float(blk.scales[j][r]);
    const float m = f16_to_f32(blk.dmin[r]) * float(blk.mins[c][r][high]);
    return d * float(code) - m;
}

void pack_q6_k_x8(const uint8_t* src, int64_t src_stride, int64_t n_in, int64_t o0, int64_t o1, uint8_t* dst) {
    pack_rows<Q6KX8, formats::BlockQ6_K>(
        src, src_stride, n_in / 256, o0, o1, dst, [](Q6KX8& out, int r, const formats::BlockQ6_K& blk) {
            out.d[r] = blk.d;
            for (int g = 0; g < 16; ++g) out.scales[g / 2][r][g % 2] = blk.scales[g];
            for (int h = 0; h < 2; ++h)
                for (int s = 0; s < 8; ++s)
                    for (int i = 0; i < 4; ++i) {
                        // The GGUF split: low 4 bits of quarter k in ql byte
                        // 64h + 32(k & 1) + l (nibble k / 2), top 2 at bit 2k of
                        // qh byte 32h + l.
                        const int l = 4 * s + i;
                        int c[4];
                        for (int k = 0; k < 4; ++k)
                            c[k] = ((blk.ql[64 * h + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 15) |
                                   ((blk.qh[32 * h + l] >> (2 * k)) & 3) << 4;
                        for (int p = 0; p < 3; ++p) out.q[h][p][s][r][i] = uint8_t(c[p] | ((c[3] >> (2 * p)) & 3) << 6);
                    }
        });
}

float q6_k_x8_value(const uint8_t* packed, int64_t n_in, int64_t o, int64_t i) {
    const Q6KX8& blk = record_of<Q6KX8>(packed, n_in, 256, o, i);
    const int r = int(o % kPackRows), v = int(i % 256);
    const int h = v / 128, k = (v % 128) / 32, s = (v % 32) / 4, b = v % 4, g = v / 16;
    int code = 0;
    if (k < 3) {
        code = blk.q[h][k][s][r][b] & 63;
    } else {
        for (int p = 0; p < 3; ++p) code |= (blk.q[h][p][s][r][b] >> 6) << (2 * p);
    }
    // As ggml's dequantize_row_q6_K: (d·sc)·(q − 32).
    const int8_t sc = blk.scales[g / 2][r][g % 2];
    return f16_to_f32(blk.d[r]) * float(sc) * float(code - 32);
}

constexpr PackedFormat kFormats[] = {
    {DType::q4_0, PackedLayout::q4_0_x8, 32, sizeof(Q40X8), pack_q4_0_x8, q4_0_x8_value},
    {DType::q4_k, PackedLayout::q4_k_x8, 256, sizeof(Q4KX8), pack_q4_k_x8, q4_k_x8_value},
    {DType::q6_k, PackedLayout::q6_k_x8, 256, sizeof(Q6KX8), pack_q6_k_x8, q6_k_x8_value},
    {DType::q5_0, PackedLayout::q5_0_x8, 32, sizeof(Q50X8), pack_q5_0_x8, q5_0_x8_value},
};

}  // namespace

std::span<const PackedFormat> packed_formats() { return kFormats; }

Result<std::unique_ptr<PackedWeight>> pack_weight_with(const MatmulKernels& K, const TensorView& w, Stream& s) {
    const PackedFormat* f = nullptr;
    for (const PackedFormat& cand : kFormats)
        if (cand.dtype == w.dtype && K.find(cand.dtype, cand.layout)) {
            f = &cand;
            break;
        }
    // A 3-D expert tensor [n_expert, rows, n_in] packs as n_expert · rows rows when no row group straddles two
    // experts (rows a multiple of the group) and the slabs lie one after another.
    const bool slabs = w.rank == 3 && w.dim(1) % kPackRows == 0 && w.stride[1] == w.row_bytes() &&
                       w.stride[0] == w.dim(1) * w.row_bytes();
    if (!f || (w.rank != 2 && !slabs) || w.dim(w.rank - 2) % kPackRows != 0 || w.row_length() % f->block_values != 0 ||
        w.row_length() == 0 || w.stride[w.rank - 2] != w.row_bytes())
        return std::unique_ptr<PackedWeight>();
    const int64_t n_out = w.rank == 3 ? w.dim(0) * w.dim(1) : w.dim(0), n_in = w.row_length();
    auto p = std::make_unique<PackedWeight>();
    p->layout = f->layout;
    p->source = w.data;
    p->dtype = w.dtype;
    p->n_out = n_out;
    p->n_in = n_in;
    p->row_stride = f->row_stride(n_in);
    p->bytes = size_t(p->row_stride * n_out);
    p->data.reset(static_cast<uint8_t*>(std::aligned_alloc(64, (p->bytes + 63) / 64 * 64)));
    if (!p->data)
        return Error::make(ErrorCode::io, "packing a {} weight {}: cannot allocate {} bytes", w.dtype, shape_string(w),
                           p->bytes);
    uint8_t* dst = p->data.get();
    const auto* src = static_cast<const uint8_t*>(w.data);
    const int64_t n_groups = n_out / kPackRows, per_task = std::max<int64_t>(1, n_groups / 64);
    const int64_t n_tasks = (n_groups + per_task - 1) / per_task;
    auto pack = [&](int64_t task, int) {
        const int64_t g0 = task * per_task, g1 = std::min(n_groups, g0 + per_task);
        f->pack(src, w.stride[w.rank - 2], n_in, g0 * kPackRows, g1 * kPackRows, dst);
    };
    if (s.pool) s.pool->run(n_tasks, pack);
    else
        for (int64_t t = 0; t < n_tasks; ++t) pack(t, 0);
    return p;
}

}  // namespace loom::kernels::cpu
