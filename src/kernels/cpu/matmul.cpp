// The threaded matmul driver: packs activations once per call into Stream scratch, then splits the outputs
// into tasks over the pool. Decode-sized jobs (a few tokens) split output rows only; prefill-sized jobs tile
// (rows × tokens) so that each weight row loaded is reused across a chunk of tokens held in L2, on the integer
// tiles or on the f32 GEMM (see run_jobs). Weights with a load-time packed form go to that layout's tile.
#include <algorithm>
#include <cstring>
#include <span>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/ref/matmul.h"
#include "kernels/ref/quant.h"

namespace loom::kernels::cpu {
namespace {

constexpr int64_t kAlign = 64;

int64_t round_up(int64_t v, int64_t m) { return (v + m - 1) / m * m; }
int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Runs fn(task, thread) for every task, on the pool when there is one.
template <typename Fn>
void parallel(Stream& s, int64_t n_tasks, const Fn& fn) {
    if (s.pool && n_tasks > 1) {
        s.pool->run(n_tasks, [&](int64_t task, int thread) { fn(task, thread); });
    } else {
        for (int64_t t = 0; t < n_tasks; ++t) fn(t, 0);
    }
}

// One weight matrix and the token slots it applies to (all tokens for matmul, one expert's slots for
// matmul_id). Slots [slot0, slot0 + n_slots) index the shared x/y row arrays.
struct Job {
    const uint8_t* w;
    int64_t w_stride;
    int64_t n_out;
    int64_t slot0;
    int64_t n_slots;
    // The token count llama.cpp's kernel choice sees for these slots (0 = n_slots, as one call of them all), and
    // whether its groups-of-4 GEMM of repacked weights applies (not in mul_mat_id, which runs gemv per row).
    int64_t call_tokens = 0;
    bool repacked_gemm = true;
    bool repackable = true;  // see GemmTile::repackable
};

// Below this many slots a job is decode-sized: its integer-path tasks are row ranges over all of its slots.
constexpr int64_t kDecodeSlots = 4;
// Integer-path prefill tiles: rows × tokens per task (63 packed int8 activation rows, ~2.8 KB each at
// n_in = 2048, stay in L2 while each group of 4 weight rows sweeps over them, 3 tokens at a time).
constexpr int64_t kTileRows = 64;
constexpr int64_t kTileTokens = 63;
// f32-path tasks: up to 96 rows × 8 blocks of 16 tokens, over k panels of 256 values. Per thread that is a
// 96 KB decoded weight panel, a 48 KB output tile and a 128 KB activation slice: all in a 512 KB L2.
constexpr int64_t kSgemmRows = 96;
constexpr int64_t kSgemmBlocks = 8;
constexpr int64_t kSgemmPanel = 256;
constexpr int64_t kTok = 16;  // tokens per interleaved block

// A rectangle of one job's outputs: rows [o0, o0 + n_o) × slots [t0, t0 + n_t) (f32 path: token blocks).
struct Task {
    int32_t job;
    bool f32;
    int64_t o0, n_o;
    int64_t t0, n_t;
};

// Rows per task so that the call has about 8 tasks per thread, a multiple of `step` in [step, cap].
int64_t rows_per_task(int64_t total_rows, int n_threads, int64_t step, int64_t cap) {
    const int64_t target = std::max<int64_t>(1, total_rows / (8 * int64_t(n_threads)));
    return std::clamp<int64_t>(round_up(target, step), step, cap);
}

// Decode-sized tasks, guided: each takes about 1 / (2 · threads) of the rows the call has left to hand out (a
// multiple of `step` in [step, cap]), so tasks shrink towards the end and the threads finish within a short task of
// each other. Equal tasks of 1/8 per thread left a thread idle for half a task on average at the end of every
// matmul, which at decode sizes is tens of microseconds per op. `rows_left` counts the rows of this job and of the
// jobs after it.
void add_guided_tasks(std::vector<Task>& tasks, int32_t job, int64_t n_out, int64_t n_t, int64_t& rows_left,
                      int n_threads, int64_t step, int64_t cap) {
    for (int64_t o0 = 0; o0 < n_out;) {
        const int64_t want = std::clamp<int64_t>(round_up(rows_left / (2 * int64_t(n_threads)), step), step, cap);
        const int64_t rows = std::min(want, n_out - o0);
        tasks.push_back({job, false, o0, rows, 0, n_t});
        o0 += rows;
        rows_left -= rows;
    }
}

void add_tasks(std::vector<Task>& tasks, int32_t job, bool f32, int64_t n_out, int64_t n_t, int64_t rows,
               int64_t toks) {
    for (int64_t o0 = 0; o0 < n_out; o0 += rows)
        for (int64_t t0 = 0; t0 < n_t; t0 += toks)
            tasks.push_back({job, f32, o0, std::min(rows, n_out - o0), t0, std::min(toks, n_t - t0)});
}

// Decodes weight values [k0, k1) of one row to f32: the variant's decoder, else the reference one.
void decode_row(const TypeKernels* dk, DType wtype, const uint8_t* row, int64_t k0, int64_t k1, float* dst) {
    if (dk && dk->dequant_f32) {
        dk->dequant_f32(row, k0, k1, dst);
        return;
    }
    // Types reach here only after check_matmul_args found a dequantizer: this cannot fail.
    const Status st = ref::dequantize_row(wtype, row + row_bytes(wtype, k0), dst, k1 - k0);
    LOOM_ASSERT(st.ok(), "dequantize {}: {}", wtype, st.error().message());
}

// Computes every job: y_rows[slot][o] = Σ_i w_job[o, i]·x_rows[slot][i].
//
// Two paths. The integer path packs each activation row into the type's paired integer format and runs the
// variant's tiles (exactly the reference's block integers). The f32 path, for jobs of at least
// K.sgemm_min_tokens tokens, decodes the paired activations back to f32 (the same quantized values) and each
// task's weight rows to f32, then runs the f32 GEMM: the same operands, rounded per product instead of per
// block, which is faster on CPUs whose integer multiplies are no wider than their FMAs (AVX2 on Zen 1).
// `layout`: the weight layout the jobs point at (a packed one only with its paired kernel in K).
Status run_jobs(const MatmulKernels& K, DType wtype, MatmulMode mode, int64_t n_in, std::span<const Job> jobs,
                std::span<const float* const> x_rows, std::span<float* const> y_rows, Stream& s, bool rows_alone,
                PackedLayout layout = PackedLayout::none) {
    // The integer-path kernel: the paired one for this type, else f32 (dequantizing each task's rows first).
    const TypeKernels* paired = mode == MatmulMode::paired ? K.find(wtype, layout) : nullptr;
    LOOM_ASSERT(layout == PackedLayout::none || paired, "no paired kernel for a packed {} weight", wtype);
    const bool dequant = paired == nullptr && wtype != DType::f32;
    const TypeKernels* tk = paired ? paired : &K.f32;
    // The f32 path: activations as the paired type decoded (f32 mode / f32 weights: as given), weights decoded
    // by the type's own decoder when the variant has one.
    auto* const pack_f32 = paired ? paired->pack_f32 : K.f32.pack_f32;
    const TypeKernels* decoder = K.find(wtype);

    const int n_threads = s.n_threads();
    const int64_t n_slots = int64_t(x_rows.size());
    const int64_t a_stride = round_up(tk->act_row_bytes(n_in), kAlign);

    int64_t total_rows = 0;
    // A decode call (every job decode-sized) hands out guided tasks; in a prefill call, which may route a few tokens
    // to some experts, those jobs keep equal tasks among the larger tiles.
    bool decode_call = true;
    for (const Job& j : jobs) {
        total_rows += j.n_out;
        decode_call = decode_call && j.n_slots <= kDecodeSlots;
    }
    int64_t rows_left = total_rows;  // of a decode call, still to be handed out (add_guided_tasks)
    // Row ranges of the integer path's decode-sized tasks; dequantized f32 rows (4 bytes a value) stay few per task.
    const int64_t row_step = round_up(16, tk->row_group), row_cap = dequant ? 32 : 512;
    std::vector<Task> tasks;
    std::vector<int64_t> panel_at(jobs.size(), -1);  // byte offset of a job's interleaved f32 activations
    int64_t panel_bytes = 0, max_rows = 0, int_slots = 0;
    for (size_t ji = 0; ji < jobs.size(); ++ji) {
        const Job& j = jobs[ji];
        const int64_t min_tokens = tk->sgemm_min_tokens != 0 ? tk->sgemm_min_tokens : K.sgemm_min_tokens;
        if (K.sgemm && pack_f32 && min_tokens > 0 && j.n_slots >= min_tokens && !rows_alone && j.call_tokens == 0) {
            panel_at[ji] = panel_bytes;
            const int64_t n_blocks = ceil_div(j.n_slots, kTok);
            panel_bytes += n_blocks * n_in * kTok * 4;
            add_tasks(tasks, int32_t(ji), true, j.n_out, n_blocks, rows_per_task(total_rows, n_threads, 6, kSgemmRows),
                      kSgemmBlocks);
            continue;
        }
        int_slots += j.n_slots;
        if (decode_call) {
            add_guided_tasks(tasks, int32_t(ji), j.n_out, j.n_slots, rows_left, n_threads, row_step, row_cap);
        } else if (dequant || j.n_slots <= kDecodeSlots) {  // about 8 row ranges per thread
            add_tasks(tasks, int32_t(ji), false, j.n_out, j.n_slots,
                      rows_per_task(total_rows, n_threads, row_step, row_cap), j.n_slots);
        } else {
            add_tasks(tasks, int32_t(ji), false, j.n_out, j.n_slots, round_up(kTileRows, tk->row_group), kTileTokens);
        }
    }
    for (const Task& t : tasks) max_rows = std::max(max_rows, t.n_o);

    // Scratch: packed integer rows (indexed by slot), interleaved f32 panels, then per-thread buffers.
    const int64_t act_bytes = int_slots > 0 ? n_slots * a_stride : 0;
    const int64_t deq_bytes = dequant ? round_up(max_rows * n_in * 4, kAlign) : 0;
    const bool any_f32 = panel_bytes > 0;
    const int64_t wbuf_bytes = any_f32 ? round_up(kSgemmRows * kSgemmPanel * 4, kAlign) : 0;
    const int64_t cbuf_bytes = any_f32 ? round_up(kSgemmRows * kSgemmBlocks * kTok * 4, kAlign) : 0;
    const int64_t rows_bytes = any_f32 ? round_up(kTok * n_in * 4, kAlign) : 0;  // rows to interleave
    const int64_t per_thread = std::max(deq_bytes, wbuf_bytes + cbuf_bytes + rows_bytes);
    uint8_t* scratch = s.scratch(size_t(act_bytes + panel_bytes + n_threads * per_thread));
    uint8_t* act = scratch;
    uint8_t* panels = scratch + act_bytes;
    uint8_t* thread_mem = panels + panel_bytes;

    // 1. Pack activations once: integer rows for the integer-path jobs (chunks of slots), interleaved f32
    //    blocks of 16 tokens for the f32-path jobs.
    struct PackUnit {
        int32_t job;
        int64_t first, count;  // slots of the job (integer) or its token block index (f32, count = 0)
    };
    std::vector<PackUnit> units;
    const int64_t pack_chunk = std::max<int64_t>(1, ceil_div(std::max<int64_t>(int_slots, 1), 4 * int64_t(n_threads)));
    for (size_t ji = 0; ji < jobs.size(); ++ji) {
        const Job& j = jobs[ji];
        if (panel_at[ji] >= 0) {
            for (int64_t b = 0; b < ceil_div(j.n_slots, kTok); ++b) units.push_back({int32_t(ji), b, 0});
        } else {
            for (int64_t f = 0; f < j.n_slots; f += pack_chunk)
                units.push_back({int32_t(ji), f, std::min(pack_chunk, j.n_slots - f)});
        }
    }
    parallel(s, int64_t(units.size()), [&](int64_t u, int thread) {
        const PackUnit& pu = units[size_t(u)];
        const Job& j = jobs[size_t(pu.job)];
        if (pu.count > 0) {
            for (int64_t r = j.slot0 + pu.first; r < j.slot0 + pu.first + pu.count; ++r)
                tk->pack_act(x_rows[size_t(r)], act + r * a_stride, n_in);
            return;
        }
        auto* rows = reinterpret_cast<float*>(thread_mem + thread * per_thread + wbuf_bytes + cbuf_bytes);
        const float* row_ptrs[kTok];
        const int n = int(std::min(kTok, j.n_slots - pu.first * kTok));
        for (int i = 0; i < n; ++i) {
            pack_f32(x_rows[size_t(j.slot0 + pu.first * kTok + i)], rows + i * n_in, n_in);
            row_ptrs[i] = rows + i * n_in;
        }
        K.interleave16(row_ptrs, n, n_in,
                       reinterpret_cast<float*>(panels + panel_at[size_t(pu.job)] + pu.first * n_in * kTok * 4));
    });

    // 2. The tasks.
    parallel(s, int64_t(tasks.size()), [&](int64_t i, int thread) {
        const Task& t = tasks[size_t(i)];
        const Job& j = jobs[size_t(t.job)];
        uint8_t* mine = thread_mem + thread * per_thread;
        if (t.f32) {
            auto* wbuf = reinterpret_cast<float*>(mine);
            auto* c = reinterpret_cast<float*>(mine + wbuf_bytes);
            const int64_t cs = t.n_t * kTok;
            const auto* panel = reinterpret_cast<const float*>(panels + panel_at[size_t(t.job)]);
            for (int64_t k0 = 0; k0 < n_in; k0 += kSgemmPanel) {
                const int64_t k1 = std::min(n_in, k0 + kSgemmPanel);
                SgemmPanel p;
                if (wtype == DType::f32) {  // f32 weights are read in place
                    p.w = reinterpret_cast<const float*>(j.w + t.o0 * j.w_stride) + k0;
                    p.w_stride = j.w_stride / 4;
                } else {
                    for (int64_t r = 0; r < t.n_o; ++r)
                        decode_row(decoder, wtype, j.w + (t.o0 + r) * j.w_stride, k0, k1, wbuf + r * kSgemmPanel);
                    p.w = wbuf;
                    p.w_stride = kSgemmPanel;
                }
                p.a = panel + t.t0 * n_in * kTok + k0 * kTok;
                p.a_block_stride = n_in * kTok;
                p.n_blocks = t.n_t;
                p.c = c;
                p.c_stride = cs;
                p.n_rows = t.n_o;
                p.kc = k1 - k0;
                p.accumulate = k0 > 0;
                K.sgemm(p);
            }
            // Back to token-major outputs, real tokens only.
            const int64_t first = t.t0 * kTok, last = std::min(j.n_slots, (t.t0 + t.n_t) * kTok);
            for (int64_t tok = first; tok < last; ++tok) {
                float* y = y_rows[size_t(j.slot0 + tok)] + t.o0;
                const float* col = c + (tok - first);
                for (int64_t r = 0; r < t.n_o; ++r) y[r] = col[r * cs];
            }
            return;
        }
        GemmTile g;
        g.w = j.w + t.o0 * j.w_stride;
        g.w_stride = j.w_stride;
        if (dequant) {
            auto* wf = reinterpret_cast<float*>(mine);
            for (int64_t r = 0; r < t.n_o; ++r)
                decode_row(decoder, wtype, g.w + r * j.w_stride, 0, n_in, wf + r * n_in);
            g.w = reinterpret_cast<const uint8_t*>(wf);
            g.w_stride = n_in * 4;
        }
        g.a = act + (j.slot0 + t.t0) * a_stride;
        g.a_stride = a_stride;
        g.y_rows = y_rows.data() + j.slot0 + t.t0;
        g.y_col = t.o0;
        g.n_out = t.n_o;
        g.n_tok = t.n_t;
        // ggml's repacked matmul runs whole groups of 4 tokens as a GEMM and the last n % 4 one by one.
        const int64_t call_tokens = rows_alone ? 1 : j.call_tokens > 0 ? j.call_tokens : j.n_slots;
        const int64_t n_gemm = call_tokens >= 4 && j.repacked_gemm ? call_tokens - call_tokens % 4 : 0;
        g.n_batched = std::clamp<int64_t>(n_gemm - t.t0, 0, t.n_t);
        g.call_tokens = call_tokens;
        g.call_rows = j.n_out;
        g.repackable = j.repackable;
        g.n_in = n_in;
        const int64_t panel = tk->k_panel > 0 ? tk->k_panel : n_in;
        for (int64_t k0 = 0; k0 < n_in; k0 += panel) {
            g.k0 = k0;
            g.k1 = std::min(n_in, k0 + panel);
            g.accumulate = k0 > 0;
            tk->gemm(g);
        }
    });
    return Ok{};
}

}  // namespace

Status matmul_with(const MatmulKernels& K, const MatmulArgs& a, Stream& s) {
    LOOM_RETURN_IF_ERROR(ref::check_matmul_args(a, "cpu matmul"));
    const int64_t n_tok = a.x.n_rows(), n_out = a.w.dim(0), n_in = a.w.dim(1);
    if (n_tok == 0 || n_out == 0) return Ok{};
    if (n_in == 0) {
        for (int64_t t = 0; t < n_tok; ++t) std::fill_n(a.y.row<float>(t), n_out, 0.f);
        return Ok{};
    }
    std::vector<const float*> x_rows(static_cast<size_t>(n_tok));
    std::vector<float*> y_rows(static_cast<size_t>(n_tok));
    for (int64_t t = 0; t < n_tok; ++t) {
        x_rows[size_t(t)] = a.x.row<float>(t);
        y_rows[size_t(t)] = a.y.row<float>(t);
    }
    // The load-time packed form, when it is still this weight's and the variant has its tile (same bits).
    const PackedWeight* pk = a.w.packed;
    if (pk && a.mode == MatmulMode::paired && pk->describes(a.w) && K.find(a.w.dtype, pk->layout)) {
        const Job job{pk->data.get(), pk->row_stride, n_out, 0, n_tok};
        return run_jobs(K, a.w.dtype, a.mode, n_in, {&job, 1}, x_rows, y_rows, s, a.rows_alone, pk->layout);
    }
    const Job job{static_cast<const uint8_t*>(a.w.data), a.w.stride[0], n_out, 0, n_tok};
    return run_jobs(K, a.w.dtype, a.mode, n_in, {&job, 1}, x_rows, y_rows, s, a.rows_alone);
}

// The K-quant types ggml's tiled GEMM computes when their weight is not repacked (tiled/tiled.cpp).
bool tiled_gemm_type(DType t) {
    return t == DType::q2_k || t == DType::q3_k || t == DType::q4_k || t == DType::q5_k || t == DType::q6_k ||
           t == DType::iq4_xs;
}

// The token count llama.cpp's mul_mat_id hands its kernels for one expert with n_slots routed rows (ggml-cpu.c
// ggml_compute_forward_mul_mat_id, tiled/tiled.cpp): 1 (vec_dot per row; gemv per row on repacked weights, which
// are Q4_0, IQ4_NL and Q4_K with rows in multiples of 8 on x86), except the K-quant types its tiled GEMM takes,
// from 8 rows (ggml_tiled_min_batch).
int64_t mul_mat_id_call_tokens(DType t, int64_t n_out, int64_t n_slots) {
    const bool repacked = t == DType::q4_k && n_out % 8 == 0;  // its rows go through the repacked gemv instead
    return tiled_gemm_type(t) && !repacked && n_slots >= 8 ? n_slots : 1;
}

// Slots are grouped by expert so that each expert's weights are read once per call; the rounding decides which
// recipe computes an expert's slots (see ExpertRounding).
Status matmul_id_with(const MatmulKernels& K, const MatmulIdArgs& a, Stream& s) {
    LOOM_RETURN_IF_ERROR(ref::check_matmul_id_args(a, "cpu matmul_id"));
    const int64_t n_expert = a.w.dim(0), n_out = a.w.dim(1), n_in = a.w.dim(2);
    const int64_t n_tok = a.ids.dim(0), n_used = a.ids.dim(1), n_x = a.x.dim(1);
    const int64_t n_slots = n_tok * n_used;
    if (n_slots == 0 || n_out == 0) return Ok{};
    auto id_of = [&](int64_t t, int64_t u) {
        int32_t e;
        std::memcpy(&e, a.ids.row<uint8_t>(t) + u * a.ids.stride[1], 4);
        return int64_t(e);
    };
    if (n_in == 0) {
        for (int64_t i = 0; i < n_slots; ++i) std::fill_n(a.y.row<float>(i), n_out, 0.f);
        return Ok{};
    }
    // Counting sort of the slots by expert (stable: token order within an expert).
    std::vector<int64_t> start(static_cast<size_t>(n_expert + 1), 0);
    for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t u = 0; u < n_used; ++u) ++start[size_t(id_of(t, u) + 1)];
    for (int64_t e = 0; e < n_expert; ++e) start[size_t(e + 1)] += start[size_t(e)];
    std::vector<const float*> x_rows(static_cast<size_t>(n_slots));
    std::vector<float*> y_rows(static_cast<size_t>(n_slots));
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t u = 0; u < n_used; ++u) {
            const size_t at = size_t(fill[size_t(id_of(t, u))]++);
            x_rows[at] = a.x.row<float>(t * n_x + (n_x == 1 ? 0 : u));
            y_rows[at] = a.y.row<float>(t * n_used + u);
        }
    }
    // The load-time packed form (every expert's rows packed one expert after another), when it is still this
    // weight's and the variant has its tile.
    const PackedWeight* pk = a.w.packed;
    const bool packed = pk && a.mode == MatmulMode::paired && pk->describes(a.w) && K.find(a.w.dtype, pk->layout);
    std::vector<Job> jobs;
    for (int64_t e = 0; e < n_expert; ++e) {
        const int64_t n = start[size_t(e + 1)] - start[size_t(e)];
        if (n == 0) continue;
        Job j = packed ? Job{pk->data.get() + e * n_out * pk->row_stride, pk->row_stride, n_out, start[size_t(e)], n}
                       : Job{static_cast<const uint8_t*>(a.w.data) + e * a.w.stride[0], a.w.stride[1], n_out,
                             start[size_t(e)], n};
        if (a.rounding == ExpertRounding::mul_mat_id) {
            j.call_tokens = mul_mat_id_call_tokens(a.w.dtype, n_out, n);
            j.repacked_gemm = false;
        } else if (a.rounding == ExpertRounding::mul_mat) {
            j.repackable = false;
            j.repacked_gemm = false;
            if (tiled_gemm_type(a.w.dtype)) j.call_tokens = n >= 8 ? n : 1;
        }
        jobs.push_back(j);
    }
    const bool rows_alone = a.rounding == ExpertRounding::per_row || a.rows_alone;
    return run_jobs(K, a.w.dtype, a.mode, n_in, jobs, x_rows, y_rows, s, rows_alone,
                    packed ? pk->layout : PackedLayout::none);
}

Status get_rows_with(const MatmulKernels&, const GetRowsArgs& a, Stream& s) {
    LOOM_RETURN_IF_ERROR(ref::check_get_rows_args(a, "cpu get_rows"));
    const int64_t n = a.ids.dim(0), d = a.table.dim(1);
    parallel(s, n, [&](int64_t i, int) {
        int32_t id;
        std::memcpy(&id, a.ids.row<uint8_t>(0) + i * a.ids.stride[0], 4);
        // check_get_rows_args has checked the id and the type: this cannot fail.
        const Status st = ref::dequantize_row(a.table.dtype, a.table.row(id), a.y.row<float>(i), d);
        LOOM_ASSERT(st.ok(), "get_rows {}: {}", a.table.dtype, st.error().message());
    });
    return Ok{};
}

}  // namespace loom::kernels::cpu
