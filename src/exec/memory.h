// A session's memory: what each layer keeps between passes, per sequence. Every layer declares one kind
// (MemorySpec, from its blocks):
//   none       nothing (a layer without attention or recurrence)
//   kv         K and V rows per cached token (f16 by default, f32 selectable)
//   kv_k_only  K rows only; V is a view of the first d_v columns of K (a latent cache, as MLA keeps)
//   shared     no storage: the layer reads the K/V of an earlier layer (source_layer)
//   recurrent  a fixed-size f32 state per sequence: a conv history [conv_rows, conv_channels] and a
//              recurrent state [state_heads, state_rows, state_cols] (gated delta-net layers)
// Token bookkeeping is per sequence and shared by every layer: slot i of a sequence holds the token at
// position slot_pos[i]; slots fill in order, so a sequence's cache is a prefix [0, n_slots) whatever its
// positions (a slot is no longer the position). n_past is 1 + the highest position held.
//
// Recurrent state cannot be rewound: truncating a sequence that has it is allowed only to 0 (reset) or at
// or past its end; a failed pass must reset the sequence (Session does).
//
// Sliding-window layers (MemorySpec::window > 0: a token at position p sees positions q with p − q < window) keep,
// when the memory is made with a pass size (max_pass > 0), only window + max_pass + 32 slots per sequence instead
// of n_ctx: before a pass would overflow them, the oldest slots are dropped in groups of 32, keeping at least the
// last window − 1 tokens, which are moved to the front (keys stay in position order). Attention is told how many
// were dropped (n_dropped → AttentionArgs::kv_skip) and sums exactly as over the full cache.
// Layers with the same window share one slot table. Such a memory cannot go back further than its sliding layers
// remember: truncating to `from` needs every token in (from − window, from) still held.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace loom::exec {

class Memory;

// What one sequence of a Memory holds, copied out (Memory::save) to be put back later into any sequence of a
// memory with the same layout (Memory::restore): a prefix cache keeps these.
class MemorySnapshot {
public:
    int64_t n_past() const { return n_past_; }
    size_t bytes() const { return data_.size() + slot_pos_.size() * sizeof(int32_t); }

private:
    friend class Memory;
    uint64_t layout_ = 0;  // the memory's layout (Memory::layout_id): restore refuses another
    int64_t n_slots_ = 0, n_past_ = 0;
    std::vector<int32_t> slot_pos_;  // [n_slots]: the position each slot holds
    std::vector<int64_t> dropped_;   // per window table: slots its layers no longer hold
    std::vector<uint8_t> data_;      // per storing layer in order: K rows, V rows of its held slots; recurrent state
};

enum class MemoryKind : uint8_t { none, kv, kv_k_only, shared, recurrent };

const char* name(MemoryKind k);

struct MemorySpec {
    MemoryKind kind = MemoryKind::none;
    int64_t n_head_kv = 0, d_k = 0, d_v = 0;  // kv, kv_k_only (d_v <= d_k: V = K[:, :, :d_v])
    int64_t window = 0;                       // kv, kv_k_only: a sliding layer's window (0: it sees everything)
    // shared: an earlier layer with kv or kv_k_only (n_head_kv, d_k, d_v, when set, must be the source's)
    int64_t source_layer = -1;
    int64_t conv_rows = 0, conv_channels = 0;                 // recurrent: conv history
    int64_t state_heads = 0, state_rows = 0, state_cols = 0;  // recurrent: the recurrent state

    static MemorySpec kv(int64_t n_head_kv, int64_t d_k, int64_t d_v, int64_t window = 0);
    static MemorySpec kv_k_only(int64_t n_head_kv, int64_t d_k, int64_t d_v, int64_t window = 0);
    static MemorySpec shared(int64_t source_layer, int64_t n_head_kv = 0, int64_t d_k = 0, int64_t d_v = 0,
                             int64_t window = 0);
    static MemorySpec recurrent(int64_t conv_rows, int64_t conv_channels, int64_t heads, int64_t rows, int64_t cols);
    bool operator==(const MemorySpec&) const = default;
};

class Memory {
public:
    // PRECONDITION-checked: kv_type is f16 or f32; n_seq >= 1; n_ctx >= 1; every spec consistent (a shared
    // layer names an earlier layer that stores K). Zeroed. max_pass > 0: sliding layers keep window + max_pass
    // slots (see above) and a pass may add at most max_pass tokens per sequence; 0: every layer keeps n_ctx.
    static Result<Memory> create(const std::vector<MemorySpec>& layers, int n_seq, int64_t n_ctx, DType kv_type,
                                 int64_t max_pass = 0);

    int n_seq() const { return n_seq_; }
    int64_t n_ctx() const { return n_ctx_; }  // slots per sequence
    DType type() const { return type_; }      // of K and V
    size_t bytes() const { return bytes_; }
    size_t kv_bytes_per_seq() const { return kv_seq_bytes_; }        // at full context (sliding layers: their slots)
    int64_t max_pass() const { return max_pass_; }                   // tokens per sequence per pass (0: any)
    size_t state_bytes_per_seq() const { return state_seq_bytes_; }  // recurrent layers, whatever the context
    bool has_recurrent() const { return state_seq_bytes_ > 0; }
    bool has_windows() const { return !windows_.empty(); }  // sliding layers with slots of their own
    const MemorySpec& spec(int64_t layer) const { return layers_.at(size_t(layer)).spec; }

    // [slots, n_head_kv, d] views of one layer's K or V for one sequence (a shared layer: its source's; a
    // kv_k_only layer: V is a strided view into K). slots = n_ctx, or a sliding layer's window + max_pass.
    TensorView k(int64_t layer, int seq) const;
    TensorView v(int64_t layer, int seq) const;
    // Recurrent layers: [conv_rows, conv_channels] and [state_heads, state_rows, state_cols] f32.
    TensorView conv_state(int64_t layer, int seq) const;
    TensorView recurrent_state(int64_t layer, int seq) const;

    // [n_ctx] i32: the position each slot holds, −1 = empty.
    TensorView slot_pos(int seq) const;
    int64_t n_slots(int seq) const { return seqs_.at(size_t(seq)).n_slots; }  // slots [0, n_slots) in use
    // One layer's view of the slots (sliding layers with their own, shorter table): the position each of its
    // slots holds (the attention op's kv_pos), how many are in use, and where the sequence's slot `slot` (as
    // reserve() returns it) is in the layer's K/V.
    TensorView slot_pos(int64_t layer, int seq) const;
    int64_t n_held(int64_t layer, int seq) const;
    int64_t n_dropped(int64_t layer, int seq) const;  // slots of the sequence this layer no longer holds
    int64_t layer_slot(int64_t layer, int seq, int64_t slot) const;
    int64_t n_past(int seq) const { return seqs_.at(size_t(seq)).n_past; }

    // Whether n tokens of `seq` at positions pos can be reserved: strictly increasing, inside the context,
    // starting at or after n_past (exactly at n_past when the memory is recurrent).
    Status check_reserve(int seq, const int32_t* pos, int64_t n) const;
    // Takes slots for them before a pass writes them (check_reserve first); returns the first slot.
    Result<int64_t> reserve(int seq, const int32_t* pos, int64_t n);
    // Forgets positions >= from (0: the whole sequence, and zeroes its recurrent state). A recurrent memory
    // refuses 0 < from < n_past: its state holds every token and cannot go back.
    Status truncate(int seq, int64_t from);
    void reset(int seq);  // truncate(seq, 0), which never fails

    // A copy of what `seq` holds: its slots' K/V (the held ones of sliding layers), positions and recurrent state.
    MemorySnapshot save(int seq) const;
    // Makes `seq` hold what `snap` holds. Refused (and `seq` left as it was) when the snapshot comes from a memory
    // of another layout.
    Status restore(int seq, const MemorySnapshot& snap);

private:
    // The slots of the sliding layers that share one window: `slots` per sequence, of which the first `dropped`
    // of the sequence's slots are gone.
    struct Window {
        int64_t window = 0, slots = 0;
        std::vector<int64_t> dropped;    // per sequence
        std::shared_ptr<int32_t[]> pos;  // [n_seq, slots]
    };
    struct Layer {
        MemorySpec spec;
        int window = -1;  // index into windows_, or −1: n_ctx slots
        size_t k_offset = 0, v_offset = 0, k_seq_bytes = 0, v_seq_bytes = 0;
        size_t conv_offset = 0, state_offset = 0, conv_seq_bytes = 0, state_seq_bytes = 0;
    };
    struct Seq {
        int64_t n_slots = 0, n_past = 0;
    };
    const Layer& storage(int64_t layer) const;    // the layer that keeps its K/V (a shared layer's source)
    uint64_t layout_id() const;                   // what a snapshot must match to be restored here
    int64_t held(const Layer& l, int seq) const;  // slots of `seq` that a storing layer holds
    void drop_oldest(int seq, Window& w, int64_t keep);
    int n_seq_ = 0;
    int64_t n_ctx_ = 0, max_pass_ = 0;
    std::vector<Window> windows_;
    DType type_ = DType::f16;
    size_t bytes_ = 0, kv_seq_bytes_ = 0, state_seq_bytes_ = 0;
    std::vector<Layer> layers_;
    std::shared_ptr<uint8_t[]> data_;
    std::shared_ptr<int32_t[]> pos_;  // [n_seq, n_ctx]
    std::vector<Seq> seqs_;
};

}  // namespace loom::exec
