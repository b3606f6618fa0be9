// The KV cache: per attention layer and per sequence, K and V rows for n_ctx positions (f16 by
// default, f32 selectable). A position's slot is the position itself, so a sequence's cache is a plain
// prefix and attention sees it as one strided view; slot_pos marks which slots hold a token.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"

namespace loom::exec {

// What one layer stores per position (n_head_kv == 0: the layer has no attention cache).
struct KvLayerSpec {
    int64_t n_head_kv = 0, d_k = 0, d_v = 0;
};

class KvCache {
public:
    // PRECONDITION-checked: type is f16 or f32; n_seq >= 1; n_ctx >= 1.
    static Result<KvCache> create(const std::vector<KvLayerSpec>& layers, int n_seq, int64_t n_ctx, DType type);

    int n_seq() const { return n_seq_; }
    int64_t n_ctx() const { return n_ctx_; }
    DType type() const { return type_; }
    size_t bytes() const { return bytes_; }

    // [n_ctx, n_head_kv, d] views of one layer's cache for one sequence.
    TensorView k(int64_t layer, int seq) const;
    TensorView v(int64_t layer, int seq) const;
    // [n_ctx] i32: the position held by each slot, −1 = empty (the attention op's kv_pos).
    TensorView slot_pos(int seq) const;
    // 1 + the highest slot in use (attention reads slots [0, n_used)).
    int64_t n_used(int seq) const { return used_[size_t(seq)]; }

    // Marks positions as present before a pass writes them (the pass's own tokens attend to themselves).
    Status reserve(int seq, const int32_t* pos, int64_t n);
    // Forgets positions >= from (from = 0 clears the sequence).
    void truncate(int seq, int64_t from);

private:
    struct Layer {
        KvLayerSpec spec;
        size_t k_offset = 0, v_offset = 0;  // of sequence 0; each sequence follows the previous one
        size_t k_seq_bytes = 0, v_seq_bytes = 0;
    };
    int n_seq_ = 0;
    int64_t n_ctx_ = 0;
    DType type_ = DType::f16;
    size_t bytes_ = 0;
    std::vector<Layer> layers_;
    std::shared_ptr<uint8_t[]> data_;
    std::shared_ptr<int32_t[]> pos_;  // [n_seq, n_ctx]
    std::vector<int64_t> used_;
};

}  // namespace loom::exec
