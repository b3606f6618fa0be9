// The op set: plain argument structs (views + sizes + options, no model types) that every backend
// implements. Blocks reach these through exec/ (#4); tests and benchmarks call them directly.
//
// Conventions for every op:
// - Shapes are outermost first (see core/tensor.h). Activations are f32 unless a field says otherwise.
// - Outputs are written, never accumulated into. An output may alias its input only where noted.
// - PRECONDITION: shapes agree as documented; each backend checks them and returns Error::invalid
//   naming the op, the tensor and both shapes, so a wiring mistake is an error, not a crash.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace loom {
class ThreadPool;
}

namespace loom::kernels {

enum class Backend : uint8_t { ref, cpu, cuda };
const char* name(Backend b);

// Where an op runs and what it may use. One Stream per executing thread of control.
struct Stream {
    Backend backend = Backend::cpu;
    ThreadPool* pool = nullptr;      // cpu: the workers (nullptr = run on the calling thread)
    std::vector<uint8_t> workspace;  // cpu: scratch grown on demand (quantized activations, ...)
    void* cuda_stream = nullptr;     // cuda: a cudaStream_t

    // Scratch of at least `bytes`, 64-byte aligned, valid until the next call.
    uint8_t* scratch(size_t bytes);
    int n_threads() const;
};

// ---- matmul -------------------------------------------------------------------------------------

// How activations meet weights.
// paired: each activation row is converted to the weight type's partner format first, exactly as
//   llama.cpp's CPU backend does (f16 for F16, bf16 for BF16, Q8_0 for Q4_0/Q5_0/Q8_0/IQ4_NL, Q8_1 for
//   Q4_1/Q5_1, Q8_K for the K-quants and IQ4_XS; F32 weights keep f32), then blocks are dotted in
//   integer arithmetic with f32 accumulation across blocks. This is the fast path and the one whose
//   logits match llama.cpp's. (The CPU backend may run prefill-sized jobs as an f32 GEMM over the same
//   paired-quantized activations and decoded weights: per-product rounding instead of per-block, ~1e-7
//   relative; see cpu/matmul.cpp.)
// f32: weights are dequantized to f32 and dotted with unrounded f32 activations (a numerics check).
enum class MatmulMode : uint8_t { paired, f32 };

// The activation format paired with a weight type (see MatmulMode::paired).
DType paired_act_type(DType weight);

// A call of at least this many rows, their count a multiple of 4, rounds every row as any longer such call does:
// the kernels choose their recipe by the call's row count (as llama.cpp's do) only below it (1 row, 2+, groups of 4
// and the rest, 8+ for the tiled K-quant GEMM, 32+ for the f32 prefill path). So a pass may compute a subset of its
// rows through a matmul and keep their bits, if it pads the subset to such a call (Session::stateless with rows).
inline constexpr int64_t kRowCountRecipesBelow = 32;

// y[t, o] = Σ_i w[o, i] · x[t, i]
struct MatmulArgs {
    TensorView w;  // [n_out, n_in], any type with a dequantizer; rows contiguous
    TensorView x;  // [n_tok, n_in] f32
    TensorView y;  // [n_tok, n_out] f32
    MatmulMode mode = MatmulMode::paired;
    // Round every row as llama.cpp rounds a call of that one row (its single-token kernels) instead of as one
    // call of n_tok rows: rows of different sequences decoded together then equal their solo results.
    bool rows_alone = false;
};

// How an expert matmul rounds the rows routed to one expert.
enum class ExpertRounding : uint8_t {
    // As llama.cpp's CPU mul_mat_id (the default): every routed row as a call of its own (vec_dot, or the gemv of
    // repacked Q4_0/IQ4_NL/Q4_K weights), except that an expert with 8 or more rows of a K-quant type that its tiled
    // GEMM takes (Q2_K..Q6_K, IQ4_XS, not repacked) computes them with that GEMM's recipe.
    mul_mat_id,
    // Every routed row as a call of its own, always: a row's result never depends on the other rows of the call
    // (sequences decoded together then equal their solo runs).
    per_row,
    // An expert's rows as one call of that many tokens (the multi-token recipe).
    per_matrix,
    // As llama.cpp's CPU mul_mat of a 3-D weight (per-head matmuls of latent attention), whose matrices are never
    // repacked: the K-quant types its tiled GEMM takes (Q2_K..Q6_K, IQ4_XS) as that GEMM from 8 rows and row by row
    // below; every other type as per_matrix.
    mul_mat,
};

// Expert matmul (MoE): token t's slot s uses expert ids[t, s].
// y[t, s, o] = Σ_i w[ids[t,s], o, i] · x[t, s or 0, i]
struct MatmulIdArgs {
    TensorView w;    // [n_expert, n_out, n_in]
    TensorView x;    // [n_tok, n_x, n_in] f32, n_x = 1 (every slot reads the same row) or n_used
    TensorView ids;  // [n_tok, n_used] i32, each in [0, n_expert)
    TensorView y;    // [n_tok, n_used, n_out] f32
    MatmulMode mode = MatmulMode::paired;
    ExpertRounding rounding = ExpertRounding::mul_mat_id;
    // Every row as a call of its own whatever `rounding` says (sequences decoded together), keeping the rest of
    // the rounding's choices (mul_mat: the weights count as not repacked).
    bool rows_alone = false;
};

// Embedding lookup: y[t] = dequantize(table[ids[t]]).
struct GetRowsArgs {
    TensorView table;  // [n_rows, d], any type with a dequantizer
    TensorView ids;    // [n] i32, each in [0, n_rows) (checked)
    TensorView y;      // [n, d] f32
};

// ---- norms --------------------------------------------------------------------------------------

enum class NormKind : uint8_t {
    rms,    // y = x / sqrt(mean(x²) + eps) ⊙ w          (sum of squares in double, as ggml on CPU)
    layer,  // y = (x − mean) / sqrt(var + eps) ⊙ w + b
    l2,     // y = x / max(‖x‖₂, eps)                     (w, b unused)
};

struct NormArgs {
    NormKind kind = NormKind::rms;
    TensorView x;  // [n_rows, d]; any outer shape, normalised over the last dim
    TensorView w;  // [d] f32 or empty (= 1)
    TensorView b;  // [d] f32 or empty (= 0); layer only
    TensorView y;  // like x; may alias x
    float eps = 1e-6f;
};

// ---- rope ---------------------------------------------------------------------------------------

enum class RopeMode : uint8_t {
    norm,    // rotate adjacent pairs (2k, 2k+1)
    neox,    // rotate split halves (k, k + n_rot/2)
    imrope,  // neox pairing, each pair takes one of 4 position streams by `sections` (Qwen3.5)
};

// ggml rope_ext semantics (shared reference, architectures §1.5), including YaRN.
struct RopeArgs {
    TensorView x;             // [n_tok, n_head, d_head] f32
    TensorView y;             // like x; may alias x
    TensorView pos;           // [n_tok] i32; imrope: [4, n_tok] (t, h, w, e streams)
    TensorView freq_factors;  // [n_rot / 2] f32 or empty: θ_k is divided by freq_factors[k]
    RopeMode mode = RopeMode::norm;
    int n_rot = 0;                            // rotated dims (even, <= d_head); the rest pass through
    std::array<int, 4> sections{0, 0, 0, 0};  // imrope only
    float freq_base = 10000.f;
    float freq_scale = 1.f;   // 1 / scaling factor
    float ext_factor = 0.f;   // YaRN mix (0 = off)
    float attn_factor = 1.f;  // magnitude multiplier of cos/sin
    float beta_fast = 32.f;
    float beta_slow = 1.f;
    int n_ctx_orig = 0;  // YaRN original context
};

// ---- softmax and attention ----------------------------------------------------------------------

// y = softmax(softcap(x · scale) + mask) over the last dim.
// softcap(s) = cap · tanh(s / cap) when cap > 0.
struct SoftmaxArgs {
    TensorView x;     // [n_rows, n]
    TensorView mask;  // [n_mask_rows, n] f32 or empty; row r uses mask row r % n_mask_rows; −inf allowed
    TensorView y;     // like x; may alias x
    float scale = 1.f;
    float softcap = 0.f;
};

// Attention of queries over a KV cache, one sequence (the caller passes that sequence's cache).
// score[h, i, j] = scale · q[i, h] · k[j, g(h)], capped by softcap, with g(h) = h / (n_head / n_head_kv).
// Slot j is visible to query i iff kv_pos[j] >= 0, and (not causal or kv_pos[j] <= q_pos[i]), and
// (window == 0 or q_pos[i] − kv_pos[j] < window). out[i, h] = Σ_j softmax_j(score) · v[j, g(h)].
// A query that sees no slot gets zeros. Memory does not grow with n_kv (streaming softmax).
// Numerics (as llama.cpp's CPU flash attention, ggml-cpu/ops.cpp): when k is f16, each q row is rounded
// to f16 before the dot products (Q is converted to K's dot type); softcap(s) = cap · tanh(s / cap) is
// applied to the scaled score before masking; the softmax and the weighted V sum are f32 or wider.
// Empty slots (kv_pos < 0) are never read, so their K/V rows may hold anything. Rows (the last dim)
// must be contiguous; outer dims may have any strides (views into a larger cache). d_v may differ
// from d_head (MLA). out must not alias q, k or v.
struct AttentionArgs {
    TensorView q;       // [n_tok, n_head, d_head] f32
    TensorView k;       // [n_kv, n_head_kv, d_head] f16 or f32
    TensorView v;       // [n_kv, n_head_kv, d_v] f16 or f32
    TensorView out;     // [n_tok, n_head, d_v] f32
    TensorView q_pos;   // [n_tok] i32
    TensorView kv_pos;  // [n_kv] i32; negative = empty slot
    float scale = 1.f;
    float softcap = 0.f;
    int window = 0;  // sliding window in positions; 0 = unlimited
    bool causal = true;
    // Slots a sliding-window memory dropped before k/v/kv_pos (a multiple of kAttentionSkipAlign): none is
    // visible, but kernels that group slots (tiles, threads' chunks, SIMD lanes) count them, so the sums group
    // exactly as over the full cache they were dropped from.
    int64_t kv_skip = 0;
};
inline constexpr int64_t kAttentionSkipAlign = 32;

// ---- element-wise -------------------------------------------------------------------------------

enum class UnaryOp : uint8_t {
    identity,
    silu,
    gelu_tanh,
    gelu_erf,
    gelu_quick,
    sigmoid,
    softplus,
    exp,
    relu,
    tanh,
    neg,
    sqr,
    sqrt,
};
const char* name(UnaryOp op);

struct UnaryArgs {
    UnaryOp op = UnaryOp::identity;
    TensorView x;  // any shape, f32
    TensorView y;  // same shape; may alias x
};

enum class BinaryOp : uint8_t { add, sub, mul, div };

// y = a (op) b, where b has a's shape or broadcasts: b's row (length d) repeats over a's rows, and b's
// rows repeat when a has a multiple of them; a b of one column ([n_rows', 1]) repeats its value along the row
// (ggml's broadcast of ne0 = 1: a per-token gate times a hidden state).
struct BinaryArgs {
    BinaryOp op = BinaryOp::add;
    TensorView a;  // [n_rows, d]
    TensorView b;  // [n_rows', d] or [n_rows', 1] with n_rows % n_rows' == 0, or [d]
    TensorView y;  // like a; may alias a
};

// y = x · scale + bias
struct ScaleArgs {
    TensorView x;
    TensorView y;  // may alias x
    float scale = 1.f;
    float bias = 0.f;
};

// Gated linear unit: y = act(gate) ⊙ up.
struct GluArgs {
    UnaryOp act = UnaryOp::silu;
    TensorView gate;  // [n_rows, d]
    TensorView up;    // [n_rows, d]
    TensorView y;     // [n_rows, d]; may alias gate or up
};

// ---- routing ------------------------------------------------------------------------------------

// The k largest values of each row, in descending order (ties: lower index first).
struct TopKArgs {
    TensorView x;       // [n_rows, n] f32
    TensorView ids;     // [n_rows, k] i32
    TensorView values;  // [n_rows, k] f32 or empty
    int k = 1;
};

// Expert choice of a mixture of experts, per token, from the router's probabilities (the gating function
// already applied: softmax, sigmoid, ...), as llama.cpp's build_moe_ffn:
//   sel = probs + bias                          (bias: selection only; the weights use the unbiased probs)
//   n_group > 1: the experts form n_group contiguous groups; a group's score is the sum of its 2 largest sel
//     (summed in double, as ggml_sum_rows); experts outside the n_group_used best groups get sel = −inf
//   ids = the k largest sel, descending (ties: lower index first)
//   w = probs[ids]; softmax_weights: w = softmax(w); normalize: w = w / max(Σw, 6.103515625e−5) with Σ in
//     double; scale ∉ {0, 1}: w = w · scale
struct MoeRouteArgs {
    TensorView probs;      // [n_tok, n_expert] f32
    TensorView bias;       // [n_expert] f32 or empty
    TensorView ids;        // [n_tok, k] i32
    TensorView weights;    // [n_tok, k] f32
    int n_group = 1;       // 1 = no groups; else divides n_expert
    int n_group_used = 1;  // groups kept, in [1, n_group]
    bool softmax_weights = false;
    bool normalize = false;
    float scale = 0.f;
};

// Weighted sum of expert outputs, in slot order: y[t] = x[t,0]·w[t,0] + x[t,1]·w[t,1] + ..., every product
// rounded to f32 and added left to right (ggml multiplies the experts by their weights, then adds the slots'
// views one after another). y must not alias x.
struct WeightedSumArgs {
    TensorView x;  // [n_tok, n_slot, d] f32
    TensorView w;  // [n_tok, n_slot] f32
    TensorView y;  // [n_tok, d] f32
};

// ---- recurrent blocks ---------------------------------------------------------------------------

// Causal depthwise conv1d with carried state (one sequence):
// window_c = [state[0..K−2, c], x[t, c]]; y[t, c] = Σ_i w[c, i] · window_c[i]; state keeps the last K−1
// raw inputs. K >= 2; the sum runs over the taps in order (oldest first) in f32, as ggml's ssm_conv.
// y must not alias x.
struct Conv1dArgs {
    TensorView x;      // [n_tok, n_ch] f32
    TensorView w;      // [n_ch, K] f32
    TensorView state;  // [K − 1, n_ch] f32, oldest first; read and updated
    TensorView y;      // [n_tok, n_ch] f32
};

// Gated delta rule (Qwen3.5 linear attention), per token t and value head j (key head i = j mod n_hk):
//   S_j ← exp(g[t, j]) · S_j;  δ = β[t, j] · (v[t, j] − S_j k[t, i]);  S_j ← S_j + δ k[t, i]ᵀ;
//   out[t, j] = S_j (q[t, i] · scale)
// S_j is [d_v, d_k]: for each value index a contiguous run of d_k key entries (llama.cpp's layout).
// The scale multiplies the dot product S_j q (ggml's gated_delta_net order), and n_hv % n_hk == 0.
// State is f32 and dense; out must not alias the inputs.
struct DeltaNetArgs {
    TensorView q;      // [n_tok, n_hk, d_k] f32 (already L2-normalised by the caller)
    TensorView k;      // [n_tok, n_hk, d_k] f32
    TensorView v;      // [n_tok, n_hv, d_v] f32
    TensorView g;      // [n_tok, n_hv] f32, log decay (<= 0)
    TensorView beta;   // [n_tok, n_hv] f32
    TensorView state;  // [n_hv, d_v, d_k] f32; read and updated
    TensorView out;    // [n_tok, n_hv, d_v] f32
    float scale = 1.f;
};

}  // namespace loom::kernels
