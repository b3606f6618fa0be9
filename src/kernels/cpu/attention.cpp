// CPU attention over a KV cache: streaming (online) softmax over KV tiles, so memory does not grow with
// n_kv. The query heads of one KV group are processed together so each K/V tile is widened once for the
// whole group (decode-sized groups read V straight from the cache instead). Work is threaded over token
// blocks; when those are too few for the threads (decode) the KV range is split into chunks, merged at
// the end, and then the KV groups. A unit walks its slots front to back across all of its groups.
// The inner loops come from an AttentionMicro (portable here, AVX2 in x86/avx2/attention_avx2.cpp).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>

#include "core/half.h"
#include "core/thread_pool.h"
#include "kernels/attention_check.h"
#include "kernels/cpu/attention_kernels.h"

namespace loom::kernels::cpu {

namespace {

constexpr int64_t kTileKv = 32;       // KV slots per tile: the f32 K and V tiles stay in L1 at d = 128
constexpr int64_t kRowsPerUnit = 32;  // query rows per group in a unit (tokens × heads sharing a K/V tile)
constexpr int64_t kMinChunkKv = 128;  // shorter KV chunks are not worth their merge
constexpr int64_t kAlign = 16;        // floats: scratch segments start on 64-byte lines

int64_t div_up(int64_t x, int64_t m) { return (x + m - 1) / m; }
int64_t round_up(int64_t x, int64_t m) { return div_up(x, m) * m; }

void run_tasks(Stream& s, int64_t n, const std::function<void(int64_t, int)>& fn) {
    if (s.pool) {
        s.pool->run(n, fn);
    } else {
        for (int64_t i = 0; i < n; ++i) fn(i, 0);
    }
}

// ---- portable inner loops -----------------------------------------------------------------------

void qk_portable(const float* q, int64_t n_rows, const float* k, int64_t n_k, int64_t d, float* s, int64_t ld) {
    for (int64_t r = 0; r < n_rows; ++r) {
        const float* qr = q + r * d;
        for (int64_t j = 0; j < n_k; ++j) {
            const float* kj = k + j * d;
            float part[8] = {};  // independent partial sums, so the compiler can vectorise the loop
            int64_t e = 0;
            for (; e + 8 <= d; e += 8)
                for (int l = 0; l < 8; ++l) part[l] += qr[e + l] * kj[e + l];
            float sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
            for (; e < d; ++e) sum += qr[e] * kj[e];
            s[r * ld + j] = sum;
        }
    }
}

void pv_portable(const float* p, int64_t ld, int64_t n_rows, const float* v, int64_t n_k, int64_t d_v, float* acc) {
    for (int64_t r = 0; r < n_rows; ++r) {
        float* ar = acc + r * d_v;
        for (int64_t j = 0; j < n_k; ++j) {
            const float pj = p[r * ld + j];
            if (pj == 0.f) continue;
            const float* vj = v + j * d_v;
            for (int64_t e = 0; e < d_v; ++e) ar[e] += pj * vj[e];
        }
    }
}

void pv_direct_portable(const float* p, int64_t ld, int64_t n_rows, const void* v, bool v_f16, int64_t v_stride,
                        const int32_t* idx, int64_t n_idx, int64_t d_v, float* acc) {
    for (int64_t t = 0; t < n_idx; ++t) {
        const uint8_t* row = static_cast<const uint8_t*>(v) + idx[t] * v_stride;
        for (int64_t r = 0; r < n_rows; ++r) {
            const float pj = p[r * ld + idx[t]];
            float* ar = acc + r * d_v;
            if (v_f16) {
                const uint16_t* vh = reinterpret_cast<const uint16_t*>(row);
                for (int64_t e = 0; e < d_v; ++e) ar[e] += pj * f16_to_f32(vh[e]);
            } else {
                const float* vf = reinterpret_cast<const float*>(row);
                for (int64_t e = 0; e < d_v; ++e) ar[e] += pj * vf[e];
            }
        }
    }
}

float score_row_portable(float* s, const uint32_t* mask, int64_t n, float scale, float cap) {
    float max = -INFINITY;
    for (int64_t j = 0; j < n; ++j) {
        float x = s[j] * scale;
        if (cap > 0.f) x = cap * std::tanh(x);
        s[j] = mask[j] ? x : -INFINITY;
        max = std::max(max, s[j]);
    }
    return max;
}

float exp_sum_portable(float* s, int64_t n, float max) {
    float sum = 0.f;
    for (int64_t j = 0; j < n; ++j) {
        s[j] = std::exp(s[j] - max);  // exp(−inf) = 0
        sum += s[j];
    }
    return sum;
}

void widen_portable(const uint16_t* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(x[i]);
}

void round_f16_portable(const float* x, float* y, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(f32_to_f16(x[i]));
}

void scale_portable(float* x, int64_t n, float a) {
    for (int64_t i = 0; i < n; ++i) x[i] *= a;
}

// ---- the driver ---------------------------------------------------------------------------------

// How the work is cut. A unit is (token block, head block, group block, KV chunk): n_tq tokens × n_hb query
// heads of each of n_gpb consecutive KV groups, over one chunk of the KV range. Within a unit the tiles
// run over the slots once, visiting every group of the block per tile: the K/V rows of one slot are
// adjacent across groups, so the unit reads the cache front to back instead of striding over it (a
// strided stream costs 1.7× on this machine).
struct Plan {
    int64_t n_tq = 1;   // tokens per unit
    int64_t n_hb = 1;   // query heads per group per unit (all of them unless the group is large, MLA)
    int64_t n_gpb = 1;  // KV groups per unit
    int64_t n_tblk = 1, n_hblk = 1, n_gblk = 1, n_chunk = 1;
    int64_t chunk_len = 0;  // KV slots per chunk
    int64_t rows_g = 1;     // query rows per group in a unit (n_tq · n_hb)
    int64_t n_units() const { return n_tblk * n_hblk * n_gblk * n_chunk; }
};

Plan make_plan(int64_t n_tok, int64_t n_head_kv, int64_t n_rep, int64_t n_kv, int n_threads) {
    Plan p;
    p.n_hb = std::min(n_rep, kRowsPerUnit);
    p.n_tq = p.n_hb < n_rep ? 1 : std::clamp<int64_t>(kRowsPerUnit / n_rep, 1, n_tok);
    p.n_tblk = div_up(n_tok, p.n_tq);
    p.n_hblk = div_up(n_rep, p.n_hb);
    p.rows_g = p.n_tq * p.n_hb;
    p.n_gpb = n_head_kv;
    // Enough units to keep every thread busy (about two each): first split the KV range into chunks of
    // at least kMinChunkKv slots (merged at the end), then, if still short, the groups.
    const int64_t want = 2 * int64_t(n_threads);
    if (n_threads > 1 && p.n_units() < want) {
        p.n_chunk = std::clamp<int64_t>(div_up(want, p.n_units()), 1, std::max<int64_t>(1, n_kv / kMinChunkKv));
        if (p.n_units() < want) {
            p.n_gblk = std::min(n_head_kv, div_up(want, p.n_units()));
            p.n_gpb = div_up(n_head_kv, p.n_gblk);
            p.n_gblk = div_up(n_head_kv, p.n_gpb);
        }
    }
    p.chunk_len = std::max<int64_t>(1, div_up(n_kv, p.n_chunk));
    p.n_chunk = std::max<int64_t>(1, div_up(n_kv, p.chunk_len));
    return p;
}

// One thread's scratch, carved out of the stream's workspace. Row state is per group of the unit:
// group gi's rows start at gi · rows_g.
struct Scratch {
    float* q;          // [n_gpb · rows_g, d_head]  the unit's queries (rounded to f16 when K is f16)
    float* acc;        // [n_gpb · rows_g, d_v]     unnormalised Σ p·v
    float* m;          // [n_gpb · rows_g]          running maximum
    float* l;          // [n_gpb · rows_g]          running sum of exp(score − m)
    float* s;          // [rows_g, kTileKv]         scores, then probabilities, of the current group
    float* kt;         // [kTileKv, d_head]         the K tile in f32
    float* vt;         // [kTileKv, d_v]            the V tile in f32
    uint32_t* mask;    // [n_tq, kTileKv]           all ones where the slot is visible to the token
    uint8_t* tok_any;  // [n_tq]                    the token sees some slot of the current tile
    int32_t* idx;      // [kTileKv]                 the tile's non-empty slots (direct V reads skip the rest)
};

int64_t scratch_floats(const Plan& p, int64_t d, int64_t d_v) {
    const int64_t r = p.n_gpb * p.rows_g;
    return round_up(r * d, kAlign) + round_up(r * d_v, kAlign) + 2 * round_up(r, kAlign) +
           round_up(p.rows_g * kTileKv, kAlign) + round_up(kTileKv * d, kAlign) + round_up(kTileKv * d_v, kAlign) +
           round_up(p.n_tq * kTileKv, kAlign) + round_up(p.n_tq, kAlign) + round_up(kTileKv, kAlign);
}

Scratch carve(float* base, const Plan& p, int64_t d, int64_t d_v) {
    Scratch sc;
    const int64_t r = p.n_gpb * p.rows_g;
    auto take = [&](int64_t n) {
        float* x = base;
        base += round_up(n, kAlign);
        return x;
    };
    sc.q = take(r * d);
    sc.acc = take(r * d_v);
    sc.m = take(r);
    sc.l = take(r);
    sc.s = take(p.rows_g * kTileKv);
    sc.kt = take(kTileKv * d);
    sc.vt = take(kTileKv * d_v);
    sc.mask = reinterpret_cast<uint32_t*>(take(p.n_tq * kTileKv));
    sc.tok_any = reinterpret_cast<uint8_t*>(take(p.n_tq));
    sc.idx = reinterpret_cast<int32_t*>(take(kTileKv));
    return sc;
}

template <typename T>
T* at3(const TensorView& t, int64_t i0, int64_t i1) {
    return reinterpret_cast<T*>(static_cast<uint8_t*>(t.data) + i0 * t.stride[0] + i1 * t.stride[1]);
}

// Prefetches n rows of `bytes` each, `stride` apart.
void prefetch_rows(const uint8_t* p, int64_t bytes, int64_t n, int64_t stride) {
    for (int64_t i = 0; i < n; ++i)
        for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + i * stride + off, 0, 2);
}

// Widens rows [r0, r0 + n) of K or V (KV group g) into a dense f32 tile, zeroing empty slots (tile_pos[j] < 0:
// their memory may hold anything, or is not there: r0 + j < 0 before the first slot a sliding memory kept) and
// the padding up to n_pad.
void stage_tile(const TensorView& src, int64_t g, int64_t r0, int64_t n, int64_t n_pad, const int32_t* tile_pos,
                float* dst, const AttentionMicro& mk) {
    const int64_t d = src.shape[2];
    for (int64_t j = 0; j < n; ++j) {
        float* row = dst + j * d;
        if (tile_pos[j] < 0) {
            std::memset(row, 0, size_t(d) * 4);
        } else if (src.dtype == DType::f16) {
            mk.widen(at3<const uint16_t>(src, r0 + j, g), row, d);
        } else {
            std::memcpy(row, at3<const float>(src, r0 + j, g), size_t(d) * 4);
        }
    }
    std::memset(dst + n * d, 0, size_t((n_pad - n) * d) * 4);
}

// llama.cpp's attention without flash attention, operation for operation, for an f32 cache (what
// llama-graph's build_attn_mha runs on ggml-cpu; the configuration loom's equivalence goldens record):
//   KQ  = mul_mat(K, Q)         every score a ggml_vec_dot_f32 (Q is a permuted view: no GEMM)
//   P   = soft_max_ext(KQ, mask, scale)   s·scale, masked slots −inf, e^(s − max) by ggml_v_expf summed in
//                                          double per 8 slots, then × (float)(1/Σ)
//   KQV = mul_mat(Vᵀ, P)        two or more tokens: tinyBLAS, 8 lanes by slot j mod 8, each an FMA chain over
//                               increasing j, then its horizontal sum; one token: ggml_vec_dot_f32, 32 lanes
//                               by j mod 32, then its reduction
// Slot j here is llama.cpp's cell j (a sequence's positions fill cells from 0, as slots = positions here), and
// the slots llama.cpp pads its KV range with hold probability 0: they change no sum. The 8 or 32 lanes of
// each output column become planes [lane][d_v] so the FMAs run across d_v. Memory per row: n_kv scores and
// 32·d_v accumulators, not n_kv².
Status attention_unfused(const AttentionArgs& a, Stream& st, const AttentionMicro& mk) {
    const int64_t n_tok = a.q.shape[0], n_head = a.q.shape[1], d = a.q.shape[2];
    const int64_t n_kv = a.k.shape[0], n_head_kv = a.k.shape[1], d_v = a.v.shape[2];
    const int64_t n_rep = n_head / n_head_kv;
    const int64_t n_lanes = n_tok >= 2 ? 8 : 32;
    const int64_t n_pad = round_up(std::max<int64_t>(n_kv, 1), 8);
    const int32_t* q_pos = static_cast<const int32_t*>(a.q_pos.data);
    const int32_t* kv_pos = static_cast<const int32_t*>(a.kv_pos.data);
    const int64_t per_thread = round_up(n_pad, kAlign) + round_up(n_lanes * d_v, kAlign);
    float* base = reinterpret_cast<float*>(st.scratch(size_t(per_thread * st.n_threads()) * 4));

    run_tasks(st, n_tok * n_head, [&](int64_t row, int thread) {
        const int64_t t = row / n_head, h = row % n_head, g = h / n_rep;
        const float* q = at3<const float>(a.q, t, h);
        float* s = base + per_thread * thread;
        float* planes = s + round_up(n_pad, kAlign);
        const int64_t qp = q_pos[t];
        float mx = -INFINITY;
        for (int64_t j = 0; j < n_pad; ++j) {
            const int64_t kp = j < n_kv ? kv_pos[j] : -1;
            const bool vis = kp >= 0 && (!a.causal || kp <= qp) && (a.window == 0 || qp - kp < a.window);
            s[j] = vis ? mk.dot_ggml(at3<const float>(a.k, j, g), q, d) * a.scale : -INFINITY;
            mx = std::max(mx, s[j]);
        }
        float* out = at3<float>(a.out, t, h);
        if (mx == -INFINITY) {  // nothing visible (llama.cpp would make NaNs): zeros, as the streaming path
            std::fill(out, out + d_v, 0.f);
            return;
        }
        const float inv = float(1.0 / mk.softmax_ggml(s, s, n_pad, mx));
        std::fill(planes, planes + n_lanes * d_v, 0.f);
        for (int64_t j = 0; j < n_kv; ++j) {
            if (s[j] == 0.f) continue;  // a zero probability adds exactly nothing
            mk.axpy(planes + (j % n_lanes) * d_v, at3<const float>(a.v, j, g), s[j] * inv, d_v);
        }
        const float* x = planes;
        for (int64_t e = 0; e < d_v; ++e) {
            auto lane = [&](int64_t l) { return x[l * d_v + e]; };
            if (n_lanes == 8) {  // tinyBLAS's hsum: halves, then pairs
                out[e] = ((lane(0) + lane(4)) + (lane(2) + lane(6))) + ((lane(1) + lane(5)) + (lane(3) + lane(7)));
            } else {  // GGML_F32x8_REDUCE over four 8-lane accumulators, then two horizontal adds
                float y[8];
                for (int l = 0; l < 8; ++l) y[l] = (lane(l) + lane(16 + l)) + (lane(8 + l) + lane(24 + l));
                out[e] = ((y[0] + y[4]) + (y[1] + y[5])) + ((y[2] + y[6]) + (y[3] + y[7]));
            }
        }
    });
    return Ok{};
}

}  // namespace

Status attention_with(const AttentionArgs& a, Stream& st, const AttentionMicro& micro) {
    LOOM_RETURN_IF_ERROR(check_attention(a));
    const int64_t n_tok = a.q.shape[0], n_head = a.q.shape[1], d = a.q.shape[2];
    const int64_t n_kv = a.k.shape[0], n_head_kv = a.k.shape[1], d_v = a.v.shape[2];
    const int64_t n_rep = n_head / n_head_kv;
    if (n_tok == 0) return Ok{};
    const AttentionMicro& mk = (d % micro.width == 0 && d_v % micro.width == 0) ? micro : attention_micro_portable();
    // (The unfused path groups slots by 8 and 32 from slot 0, so a kv_skip that is a multiple of 32 changes none of
    // its groups: it reads only the slots that are there.)
    if (a.k.dtype == DType::f32 && a.v.dtype == DType::f32 && a.softcap == 0.f && mk.dot_ggml != nullptr)
        return attention_unfused(a, st, mk);

    // Tiles and threads' chunks are laid over the slots the full cache would have (kv_skip dropped ones first, all
    // invisible), so each kept slot is summed in the same group, at the same place, as there.
    const int64_t skip = a.kv_skip, n_virt = skip + n_kv;
    const int n_threads = st.n_threads();
    const Plan plan = make_plan(n_tok, n_head_kv, n_rep, n_virt, n_threads);
    const bool chunked = plan.n_chunk > 1;
    const int32_t* q_pos = static_cast<const int32_t*>(a.q_pos.data);
    const int32_t* kv_pos = static_cast<const int32_t*>(a.kv_pos.data);
    // ggml-cpu/ops.cpp (flash_attn_ext): with a softcap the scale is divided by the cap first, then
    // s = cap · tanh(s · scale); the mask is applied after the cap.
    const float cap = a.softcap;
    const float scale = cap > 0.f ? a.scale / cap : a.scale;
    const bool round_q = a.k.dtype == DType::f16;
    const int64_t k_row_bytes = d * info(a.k.dtype).block_bytes, v_row_bytes = d_v * info(a.v.dtype).block_bytes;

    // Scratch: per-thread work areas, then (chunked) partial results [chunk][tok][head][m, l, acc[d_v]].
    const int64_t per_thread = scratch_floats(plan, d, d_v);
    const int64_t partial_len = 2 + d_v;
    const int64_t partial_floats = chunked ? plan.n_chunk * n_tok * n_head * partial_len : 0;
    float* base = reinterpret_cast<float*>(st.scratch(size_t(per_thread * n_threads + partial_floats) * 4));
    float* partials = base + per_thread * n_threads;

    run_tasks(st, plan.n_units(), [&](int64_t unit, int thread) {
        int64_t u = unit;
        const int64_t gb = u % plan.n_gblk;
        u /= plan.n_gblk;
        const int64_t hb = u % plan.n_hblk;
        u /= plan.n_hblk;
        const int64_t tb = u % plan.n_tblk;
        const int64_t c = u / plan.n_tblk;
        const int64_t t0 = tb * plan.n_tq, nt = std::min(plan.n_tq, n_tok - t0);
        const int64_t nh = std::min(plan.n_hb, n_rep - hb * plan.n_hb);
        const int64_t g0 = gb * plan.n_gpb, ng = std::min(plan.n_gpb, n_head_kv - g0);
        const int64_t rows = nt * nh;  // per group: row r is token t0 + r / nh, head h0(g) + r % nh
        auto head = [&](int64_t gi, int64_t r) { return (g0 + gi) * n_rep + hb * plan.n_hb + r % nh; };
        const int64_t kv_begin = c * plan.chunk_len, kv_end = std::min(n_virt, kv_begin + plan.chunk_len);
        const Scratch sc = carve(base + per_thread * thread, plan, d, d_v);

        // llama.cpp's CPU flash attention (ggml-cpu/ops.cpp, one_chunk path: decode and small batches)
        // converts Q to K's vec-dot type before the dot products, so an f16 cache sees f16-rounded queries.
        for (int64_t gi = 0; gi < ng; ++gi)
            for (int64_t r = 0; r < rows; ++r) {
                const float* src = at3<const float>(a.q, t0 + r / nh, head(gi, r));
                float* dst = sc.q + (gi * plan.rows_g + r) * d;
                if (round_q) {
                    mk.round_f16(src, dst, d);
                } else {
                    std::memcpy(dst, src, size_t(d) * 4);
                }
            }
        const int64_t n_state = ng * plan.rows_g;
        std::fill(sc.acc, sc.acc + n_state * d_v, 0.f);
        std::fill(sc.m, sc.m + n_state, -INFINITY);
        std::fill(sc.l, sc.l + n_state, 0.f);

        for (int64_t j0 = kv_begin; j0 < kv_end; j0 += kTileKv) {
            const int64_t n = std::min(kTileKv, kv_end - j0), n_pad = round_up(n, 8);
            if (j0 + n <= skip) continue;  // dropped slots only: nothing visible (as over the full cache)
            // The tile's slots: r0 + j in k/v (r0 < 0 only on the tile that straddles the first kept slot).
            const int64_t r0 = j0 - skip;
            int32_t tile_pos[kTileKv];
            for (int64_t j = 0; j < n; ++j) tile_pos[j] = r0 + j < 0 ? -1 : kv_pos[r0 + j];
            // Visibility of each slot to each token (ops.h): not empty, causal, inside the window.
            bool any = false;
            for (int64_t tt = 0; tt < nt; ++tt) {
                const int64_t qp = q_pos[t0 + tt];
                uint32_t* mrow = sc.mask + tt * kTileKv;
                bool tok = false;
                for (int64_t j = 0; j < n; ++j) {
                    const int64_t kp = tile_pos[j];
                    const bool vis = kp >= 0 && (!a.causal || kp <= qp) && (a.window == 0 || qp - kp < a.window);
                    mrow[j] = vis ? ~0u : 0u;
                    tok |= vis;
                }
                std::fill(mrow + n, mrow + n_pad, 0u);
                sc.tok_any[tt] = tok;
                any |= tok;
            }
            if (!any) continue;
            int64_t n_idx = 0;
            for (int64_t j = 0; j < n; ++j)
                if (tile_pos[j] >= 0) sc.idx[n_idx++] = int32_t(j);
            // Ask for the next tile's rows now; the compute below hides the misses.
            const int64_t r1 = r0 + kTileKv, n1 = std::min(kTileKv, kv_end - (j0 + kTileKv));
            for (int64_t j = std::max<int64_t>(0, -r1); j < n1; ++j) {
                prefetch_rows(at3<const uint8_t>(a.k, r1 + j, g0), k_row_bytes, ng, a.k.stride[1]);
                prefetch_rows(at3<const uint8_t>(a.v, r1 + j, g0), v_row_bytes, ng, a.v.stride[1]);
            }

            for (int64_t gi = 0; gi < ng; ++gi) {
                const int64_t g = g0 + gi;
                float* q = sc.q + gi * plan.rows_g * d;
                float* acc = sc.acc + gi * plan.rows_g * d_v;
                float* m = sc.m + gi * plan.rows_g;
                float* l = sc.l + gi * plan.rows_g;
                stage_tile(a.k, g, r0, n, n_pad, tile_pos, sc.kt, mk);
                mk.qk(q, rows, sc.kt, n_pad, d, sc.s, kTileKv);
                for (int64_t r = 0; r < rows; ++r) {
                    float* srow = sc.s + r * kTileKv;
                    const int64_t tt = r / nh;
                    const float tile_max =
                        sc.tok_any[tt] ? mk.score_row(srow, sc.mask + tt * kTileKv, n_pad, scale, cap) : -INFINITY;
                    if (!(tile_max > -INFINITY)) {  // nothing visible to this row here: it adds nothing
                        std::fill(srow, srow + n_pad, 0.f);
                        continue;
                    }
                    // Online softmax (Milakov & Gimelshein 2018): rescale what is accumulated to the new maximum.
                    const float m_new = std::max(m[r], tile_max);
                    const float alpha = std::exp(m[r] - m_new);  // 0 while nothing was seen
                    const float sum = mk.exp_sum(srow, n_pad, m_new);
                    if (alpha != 1.f) mk.scale(acc + r * d_v, d_v, alpha);
                    l[r] = l[r] * alpha + sum;
                    m[r] = m_new;
                }
                if (rows <= kDirectRows) {  // decode-sized: V read once, straight from the cache
                    // Row r0 of V (the rows read, idx[i] >= −r0, are all there).
                    const uint8_t* v0 = static_cast<const uint8_t*>(a.v.data) + r0 * a.v.stride[0] + g * a.v.stride[1];
                    mk.pv_direct(sc.s, kTileKv, rows, v0, a.v.dtype == DType::f16, a.v.stride[0], sc.idx, n_idx, d_v,
                                 acc);
                } else {
                    stage_tile(a.v, g, r0, n, n_pad, tile_pos, sc.vt, mk);
                    mk.pv(sc.s, kTileKv, rows, sc.vt, n_pad, d_v, acc);
                }
            }
        }

        for (int64_t gi = 0; gi < ng; ++gi)
            for (int64_t r = 0; r < rows; ++r) {
                const int64_t t = t0 + r / nh, h = head(gi, r), i = gi * plan.rows_g + r;
                const float* ar = sc.acc + i * d_v;
                if (chunked) {
                    float* part = partials + ((c * n_tok + t) * n_head + h) * partial_len;
                    part[0] = sc.m[i];
                    part[1] = sc.l[i];
                    std::memcpy(part + 2, ar, size_t(d_v) * 4);
                } else {
                    float* out = at3<float>(a.out, t, h);
                    const float inv = sc.l[i] > 0.f ? 1.f / sc.l[i] : 0.f;  // a query that sees nothing gets zeros
                    for (int64_t e = 0; e < d_v; ++e) out[e] = ar[e] * inv;
                }
            }
    });

    if (chunked) {
        // Merge the chunks of each (token, head): rescale every partial to the common maximum.
        run_tasks(st, n_tok * n_head, [&](int64_t row, int) {
            const int64_t t = row / n_head, h = row % n_head;
            auto part = [&](int64_t c) { return partials + ((c * n_tok + t) * n_head + h) * partial_len; };
            float m = -INFINITY;
            for (int64_t c = 0; c < plan.n_chunk; ++c) m = std::max(m, part(c)[0]);
            float* out = at3<float>(a.out, t, h);
            std::fill(out, out + d_v, 0.f);
            if (m == -INFINITY) return;
            float l = 0.f;
            for (int64_t c = 0; c < plan.n_chunk; ++c) {
                const float* pc = part(c);
                if (pc[1] == 0.f) continue;
                const float w = std::exp(pc[0] - m);
                l += pc[1] * w;
                for (int64_t e = 0; e < d_v; ++e) out[e] += pc[2 + e] * w;
            }
            const float inv = l > 0.f ? 1.f / l : 0.f;
            for (int64_t e = 0; e < d_v; ++e) out[e] *= inv;
        });
    }
    return Ok{};
}

const AttentionMicro& attention_micro_portable() {
    static const AttentionMicro m{"portable",         1,
                                  qk_portable,        pv_portable,
                                  pv_direct_portable, score_row_portable,
                                  exp_sum_portable,   widen_portable,
                                  round_f16_portable, scale_portable};
    return m;
}

}  // namespace loom::kernels::cpu
