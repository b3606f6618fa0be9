// KV cache storage: one zeroed allocation, laid out layer by layer, sequence by sequence.
#include "exec/kv_cache.h"

#include <algorithm>
#include <cstring>
#include <new>

namespace loom::exec {

Result<KvCache> KvCache::create(const std::vector<KvLayerSpec>& layers, int n_seq, int64_t n_ctx, DType type) {
    // The attention kernels read f16 and f32 caches (kernels/ops.h, AttentionArgs).
    if (type != DType::f16 && type != DType::f32)
        return Error::unsupported("KV cache type {} (use f16 or f32)", name(type));
    if (n_seq < 1 || n_ctx < 1)
        return Error::invalid("KV cache needs n_seq >= 1 and n_ctx >= 1 (got {}, {})", n_seq, n_ctx);
    KvCache c;
    c.n_seq_ = n_seq;
    c.n_ctx_ = n_ctx;
    c.type_ = type;
    size_t off = 0;
    for (const KvLayerSpec& s : layers) {
        Layer l;
        l.spec = s;
        if (s.n_head_kv > 0) {
            l.k_seq_bytes = size_t(row_bytes(type, s.d_k) * s.n_head_kv * n_ctx);
            l.v_seq_bytes = size_t(row_bytes(type, s.d_v) * s.n_head_kv * n_ctx);
            l.k_offset = off;
            off += l.k_seq_bytes * size_t(n_seq);
            l.v_offset = off;
            off += l.v_seq_bytes * size_t(n_seq);
        }
        c.layers_.push_back(l);
    }
    c.bytes_ = off;
    // Zeroed so that unread slots are finite numbers, whatever a kernel does with them.
    uint8_t* mem = new (std::nothrow) uint8_t[std::max<size_t>(off, 1)]();
    if (!mem) return Error::make(ErrorCode::out_of_range, "KV cache: cannot allocate {} MiB", off >> 20);
    c.data_.reset(mem);
    c.pos_.reset(new int32_t[size_t(n_seq) * size_t(n_ctx)]);
    std::fill_n(c.pos_.get(), size_t(n_seq) * size_t(n_ctx), -1);
    c.used_.assign(size_t(n_seq), 0);
    return c;
}

TensorView KvCache::k(int64_t layer, int seq) const {
    const Layer& l = layers_.at(size_t(layer));
    LOOM_ASSERT(l.spec.n_head_kv > 0 && seq >= 0 && seq < n_seq_, "KV cache: layer {} seq {}", layer, seq);
    return TensorView::dense(data_.get() + l.k_offset + l.k_seq_bytes * size_t(seq), type_,
                             {n_ctx_, l.spec.n_head_kv, l.spec.d_k});
}

TensorView KvCache::v(int64_t layer, int seq) const {
    const Layer& l = layers_.at(size_t(layer));
    LOOM_ASSERT(l.spec.n_head_kv > 0 && seq >= 0 && seq < n_seq_, "KV cache: layer {} seq {}", layer, seq);
    return TensorView::dense(data_.get() + l.v_offset + l.v_seq_bytes * size_t(seq), type_,
                             {n_ctx_, l.spec.n_head_kv, l.spec.d_v});
}

TensorView KvCache::slot_pos(int seq) const {
    return TensorView::dense(pos_.get() + size_t(seq) * size_t(n_ctx_), DType::i32, {n_ctx_});
}

Status KvCache::reserve(int seq, const int32_t* pos, int64_t n) {
    if (seq < 0 || seq >= n_seq_) return Error::invalid("sequence {} outside the KV cache's {} sequences", seq, n_seq_);
    int32_t* slots = pos_.get() + size_t(seq) * size_t(n_ctx_);
    for (int64_t i = 0; i < n; ++i) {
        if (pos[i] < 0 || pos[i] >= n_ctx_)
            return Error::make(ErrorCode::out_of_range,
                               "position {} does not fit the context of {} tokens (use a larger -c)", pos[i], n_ctx_);
    }
    for (int64_t i = 0; i < n; ++i) {
        slots[pos[i]] = pos[i];
        used_[size_t(seq)] = std::max<int64_t>(used_[size_t(seq)], pos[i] + 1);
    }
    return Ok();
}

void KvCache::truncate(int seq, int64_t from) {
    LOOM_ASSERT(seq >= 0 && seq < n_seq_, "truncate seq {}", seq);
    int32_t* slots = pos_.get() + size_t(seq) * size_t(n_ctx_);
    for (int64_t p = std::max<int64_t>(from, 0); p < n_ctx_; ++p) slots[p] = -1;
    used_[size_t(seq)] = std::min(used_[size_t(seq)], std::max<int64_t>(from, 0));
}

}  // namespace loom::exec
