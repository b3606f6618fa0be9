// Memory storage: one zeroed allocation, laid out layer by layer, sequence by sequence.
#include "exec/memory.h"

#include <algorithm>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "kernels/ops.h"

namespace loom::exec {

const char* name(MemoryKind k) {
    switch (k) {
        case MemoryKind::none: return "none";
        case MemoryKind::kv: return "kv";
        case MemoryKind::kv_k_only: return "kv_k_only";
        case MemoryKind::shared: return "shared";
        case MemoryKind::recurrent: return "recurrent";
    }
    return "?";
}

MemorySpec MemorySpec::kv(int64_t n_head_kv, int64_t d_k, int64_t d_v, int64_t window) {
    MemorySpec s;
    s.kind = MemoryKind::kv;
    s.n_head_kv = n_head_kv;
    s.d_k = d_k;
    s.d_v = d_v;
    s.window = window;
    return s;
}

MemorySpec MemorySpec::kv_k_only(int64_t n_head_kv, int64_t d_k, int64_t d_v, int64_t window) {
    MemorySpec s = kv(n_head_kv, d_k, d_v, window);
    s.kind = MemoryKind::kv_k_only;
    return s;
}

MemorySpec MemorySpec::shared(int64_t source_layer, int64_t n_head_kv, int64_t d_k, int64_t d_v, int64_t window) {
    MemorySpec s;
    s.window = window;
    s.kind = MemoryKind::shared;
    s.source_layer = source_layer;
    s.n_head_kv = n_head_kv;
    s.d_k = d_k;
    s.d_v = d_v;
    return s;
}

MemorySpec MemorySpec::recurrent(int64_t conv_rows, int64_t conv_channels, int64_t heads, int64_t rows, int64_t cols) {
    MemorySpec s;
    s.kind = MemoryKind::recurrent;
    s.conv_rows = conv_rows;
    s.conv_channels = conv_channels;
    s.state_heads = heads;
    s.state_rows = rows;
    s.state_cols = cols;
    return s;
}

namespace {

constexpr int64_t kMaxDim = int64_t(1) << 24;

bool in_range(int64_t x, int64_t lo) { return x >= lo && x <= kMaxDim; }

Status check_spec(const std::vector<MemorySpec>& layers, size_t l) {
    const MemorySpec& s = layers[l];
    switch (s.kind) {
        case MemoryKind::none: return Ok();
        case MemoryKind::kv:
        case MemoryKind::kv_k_only:
            if (!in_range(s.n_head_kv, 1) || !in_range(s.d_k, 1) || !in_range(s.d_v, 1))
                return Error::invalid("memory of layer {}: kv heads {} and head dims {}, {} must be positive", l,
                                      s.n_head_kv, s.d_k, s.d_v);
            if (!in_range(s.window, 0))
                return Error::invalid("memory of layer {}: window {} must be >= 0", l, s.window);
            if (s.kind == MemoryKind::kv_k_only && s.d_v > s.d_k)
                return Error::invalid("memory of layer {}: V is a view of K, so d_v {} cannot exceed d_k {}", l, s.d_v,
                                      s.d_k);
            return Ok();
        case MemoryKind::shared: {
            if (s.source_layer < 0 || size_t(s.source_layer) >= l)
                return Error::invalid("memory of layer {}: shares layer {}, which is not an earlier layer", l,
                                      s.source_layer);
            const MemorySpec& src = layers[size_t(s.source_layer)];
            if (src.kind != MemoryKind::kv && src.kind != MemoryKind::kv_k_only)
                return Error::invalid("memory of layer {}: shares layer {}, which keeps no K/V ({})", l, s.source_layer,
                                      name(src.kind));
            if (s.n_head_kv > 0 && (s.n_head_kv != src.n_head_kv || s.d_k != src.d_k || s.d_v != src.d_v))
                return Error::invalid(
                    "memory of layer {}: reads layer {}'s K/V as {} heads of {} / {}, but that layer keeps {} heads of "
                    "{} / {}",
                    l, s.source_layer, s.n_head_kv, s.d_k, s.d_v, src.n_head_kv, src.d_k, src.d_v);
            // A source that keeps only its window has nothing older for a reader that looks further back.
            if (src.window > 0 && (s.window <= 0 || s.window > src.window))
                return Error::invalid(
                    "memory of layer {}: reads layer {}, which keeps a window of {} positions, but sees {}", l,
                    s.source_layer, src.window, s.window > 0 ? fmt::format("{}", s.window) : std::string("everything"));
            return Ok();
        }
        case MemoryKind::recurrent:
            if (!in_range(s.conv_rows, 0) || !in_range(s.conv_channels, 0) || !in_range(s.state_heads, 0) ||
                !in_range(s.state_rows, 0) || !in_range(s.state_cols, 0) ||
                s.conv_rows * s.conv_channels + s.state_heads * s.state_rows * s.state_cols == 0)
                return Error::invalid(
                    "memory of layer {}: recurrent state [{}, {}] + [{}, {}, {}] is empty or too large", l, s.conv_rows,
                    s.conv_channels, s.state_heads, s.state_rows, s.state_cols);
            return Ok();
    }
    return Error::make(ErrorCode::internal, "memory of layer {}: unknown kind", l);
}

}  // namespace

Result<Memory> Memory::create(const std::vector<MemorySpec>& layers, int n_seq, int64_t n_ctx, DType kv_type,
                              int64_t max_pass) {
    // The attention kernels read f16 and f32 caches (kernels/ops.h, AttentionArgs).
    if (kv_type != DType::f16 && kv_type != DType::f32)
        return Error::unsupported("KV cache type {} (use f16 or f32)", name(kv_type));
    if (n_seq < 1 || n_ctx < 1)
        return Error::invalid("memory needs n_seq >= 1 and n_ctx >= 1 (got {}, {})", n_seq, n_ctx);
    if (max_pass < 0) return Error::invalid("memory: max_pass {} must be >= 0", max_pass);
    Memory m;
    m.n_seq_ = n_seq;
    m.n_ctx_ = n_ctx;
    m.type_ = kv_type;
    m.max_pass_ = max_pass;
    // Sizes are summed in 128 bits and capped, so an absurd context (-c past the training one is allowed) is an
    // error, not a wrapped allocation.
    constexpr unsigned __int128 kMaxBytes = (unsigned __int128)(1) << 50;
    unsigned __int128 total = 0;
    size_t off = 0;
    auto take = [&](unsigned __int128 per_seq) {
        const size_t at = off;
        total += per_seq * unsigned(n_seq);
        if (total <= kMaxBytes) off = size_t(total);
        return at;
    };
    for (size_t l = 0; l < layers.size(); ++l) {
        LOOM_RETURN_IF_ERROR(check_spec(layers, l));
        const MemorySpec& s = layers[l];
        Layer y;
        y.spec = s;
        if (s.kind == MemoryKind::kv || s.kind == MemoryKind::kv_k_only) {
            int64_t slots = n_ctx;
            // A sliding layer's own table: its window, a pass, and the up to kAttentionSkipAlign − 1 more slots a
            // drop keeps so that it drops whole groups (see drop_oldest).
            const int64_t window_slots = s.window + max_pass + kernels::kAttentionSkipAlign;
            if (s.window > 0 && max_pass > 0 && window_slots < n_ctx) {
                auto same = std::find_if(m.windows_.begin(), m.windows_.end(),
                                         [&](const Window& w) { return w.window == s.window; });
                if (same == m.windows_.end()) {
                    Window w;
                    w.window = s.window;
                    w.slots = window_slots;
                    w.dropped.assign(size_t(n_seq), 0);
                    w.pos.reset(new int32_t[size_t(n_seq) * size_t(w.slots)]);
                    std::fill_n(w.pos.get(), size_t(n_seq) * size_t(w.slots), -1);
                    m.windows_.push_back(std::move(w));
                    same = m.windows_.end() - 1;
                }
                y.window = int(same - m.windows_.begin());
                slots = same->slots;
            }
            const unsigned __int128 k =
                (unsigned __int128)(row_bytes(kv_type, s.d_k)) * uint64_t(s.n_head_kv) * uint64_t(slots);
            const unsigned __int128 v =
                (unsigned __int128)(row_bytes(kv_type, s.d_v)) * uint64_t(s.n_head_kv) * uint64_t(slots);
            if (k > kMaxBytes || v > kMaxBytes) total = kMaxBytes + 1;
            y.k_seq_bytes = size_t(std::min(k, kMaxBytes));
            y.k_offset = take(y.k_seq_bytes);
            if (s.kind == MemoryKind::kv) {
                y.v_seq_bytes = size_t(std::min(v, kMaxBytes));
                y.v_offset = take(y.v_seq_bytes);
            }
            m.kv_seq_bytes_ += y.k_seq_bytes + y.v_seq_bytes;
        } else if (s.kind == MemoryKind::recurrent) {
            y.conv_seq_bytes = size_t(s.conv_rows * s.conv_channels) * 4;
            y.state_seq_bytes = size_t(s.state_heads * s.state_rows * s.state_cols) * 4;
            y.conv_offset = take(y.conv_seq_bytes);
            y.state_offset = take(y.state_seq_bytes);
            m.state_seq_bytes_ += y.conv_seq_bytes + y.state_seq_bytes;
        }
        m.layers_.push_back(y);
    }
    total += (unsigned __int128)(uint64_t(n_seq)) * uint64_t(n_ctx) * 4;  // the slot table
    if (total > kMaxBytes)
        return Error::make(
            ErrorCode::out_of_range,
            "memory: {} sequences of {} positions do not fit in memory (more than {} TiB); use a smaller "
            "-c or fewer parallel sequences",
            n_seq, n_ctx, uint64_t(kMaxBytes >> 40));
    m.bytes_ = off;
    // Zeroed: unread slots are finite numbers whatever a kernel does with them, and a recurrent state starts at 0.
    uint8_t* mem = new (std::nothrow) uint8_t[std::max<size_t>(off, 1)]();
    if (!mem) return Error::make(ErrorCode::out_of_range, "memory: cannot allocate {} MiB", off >> 20);
    m.data_.reset(mem);
    int32_t* pos = new (std::nothrow) int32_t[size_t(n_seq) * size_t(n_ctx)];
    if (!pos) return Error::make(ErrorCode::out_of_range, "memory: cannot allocate the slot table");
    m.pos_.reset(pos);
    std::fill_n(m.pos_.get(), size_t(n_seq) * size_t(n_ctx), -1);
    m.seqs_.assign(size_t(n_seq), Seq{});
    return m;
}

const Memory::Layer& Memory::storage(int64_t layer) const {
    const Layer* l = &layers_.at(size_t(layer));
    if (l->spec.kind == MemoryKind::shared) l = &layers_[size_t(l->spec.source_layer)];
    return *l;
}

TensorView Memory::k(int64_t layer, int seq) const {
    const Layer& l = storage(layer);
    LOOM_ASSERT(l.k_seq_bytes > 0 && seq >= 0 && seq < n_seq_, "memory: no K for layer {} seq {}", layer, seq);
    const int64_t slots = l.window >= 0 ? windows_[size_t(l.window)].slots : n_ctx_;
    return TensorView::dense(data_.get() + l.k_offset + l.k_seq_bytes * size_t(seq), type_,
                             {slots, l.spec.n_head_kv, l.spec.d_k});
}

TensorView Memory::v(int64_t layer, int seq) const {
    const Layer& l = storage(layer);
    LOOM_ASSERT(l.k_seq_bytes > 0 && seq >= 0 && seq < n_seq_, "memory: no V for layer {} seq {}", layer, seq);
    if (l.spec.kind == MemoryKind::kv_k_only) {
        TensorView kv = k(layer, seq);
        kv.shape[2] = l.spec.d_v;  // the leading columns of every K row; strides stay K's
        return kv;
    }
    const int64_t slots = l.window >= 0 ? windows_[size_t(l.window)].slots : n_ctx_;
    return TensorView::dense(data_.get() + l.v_offset + l.v_seq_bytes * size_t(seq), type_,
                             {slots, l.spec.n_head_kv, l.spec.d_v});
}

TensorView Memory::slot_pos(int64_t layer, int seq) const {
    const Layer& l = storage(layer);
    if (l.window < 0) return slot_pos(seq);
    const Window& w = windows_[size_t(l.window)];
    return TensorView::dense(w.pos.get() + size_t(seq) * size_t(w.slots), DType::i32, {w.slots});
}

int64_t Memory::n_held(int64_t layer, int seq) const { return held(storage(layer), seq); }

int64_t Memory::n_dropped(int64_t layer, int seq) const {
    const Layer& l = storage(layer);
    return l.window < 0 ? 0 : windows_[size_t(l.window)].dropped.at(size_t(seq));
}

int64_t Memory::layer_slot(int64_t layer, int seq, int64_t slot) const {
    const Layer& l = storage(layer);
    return l.window < 0 ? slot : slot - windows_[size_t(l.window)].dropped[size_t(seq)];
}

TensorView Memory::conv_state(int64_t layer, int seq) const {
    const Layer& l = layers_.at(size_t(layer));
    LOOM_ASSERT(l.spec.kind == MemoryKind::recurrent && seq >= 0 && seq < n_seq_, "memory: no conv state, layer {}",
                layer);
    return TensorView::dense(data_.get() + l.conv_offset + l.conv_seq_bytes * size_t(seq), DType::f32,
                             {l.spec.conv_rows, l.spec.conv_channels});
}

TensorView Memory::recurrent_state(int64_t layer, int seq) const {
    const Layer& l = layers_.at(size_t(layer));
    LOOM_ASSERT(l.spec.kind == MemoryKind::recurrent && seq >= 0 && seq < n_seq_, "memory: no state, layer {}", layer);
    return TensorView::dense(data_.get() + l.state_offset + l.state_seq_bytes * size_t(seq), DType::f32,
                             {l.spec.state_heads, l.spec.state_rows, l.spec.state_cols});
}

TensorView Memory::slot_pos(int seq) const {
    LOOM_ASSERT(seq >= 0 && seq < n_seq_, "memory: seq {}", seq);
    return TensorView::dense(pos_.get() + size_t(seq) * size_t(n_ctx_), DType::i32, {n_ctx_});
}

Status Memory::check_reserve(int seq, const int32_t* pos, int64_t n) const {
    if (seq < 0 || seq >= n_seq_) return Error::invalid("sequence {} outside the memory's {} sequences", seq, n_seq_);
    const Seq& s = seqs_[size_t(seq)];
    for (int64_t i = 0; i < n; ++i) {
        if (pos[i] < 0 || pos[i] >= n_ctx_)
            return Error::make(ErrorCode::out_of_range,
                               "position {} does not fit the context of {} tokens (use a larger -c)", pos[i], n_ctx_);
        if (i > 0 && pos[i] <= pos[i - 1])
            return Error::invalid("sequence {}: positions must increase ({} after {})", seq, pos[i], pos[i - 1]);
    }
    if (n == 0) return Ok();
    if (has_recurrent() && pos[0] != s.n_past)
        return Error::invalid(
            "sequence {}: the model keeps a recurrent state, so its tokens must continue at position {} (got {}); "
            "truncate to 0 to start over",
            seq, s.n_past, pos[0]);
    if (pos[0] < s.n_past)
        return Error::invalid("sequence {}: position {} is already held (it has {}); truncate it first", seq, pos[0],
                              s.n_past);
    if (s.n_slots + n > n_ctx_)
        return Error::make(ErrorCode::out_of_range, "sequence {}: {} tokens do not fit the context of {} tokens", seq,
                           s.n_slots + n, n_ctx_);
    if (!windows_.empty() && n > max_pass_)
        return Error::invalid(
            "sequence {}: {} tokens in one pass, but the sliding-window layers keep room for {} new tokens per pass "
            "(split the batch)",
            seq, n, max_pass_);
    return Ok();
}

void Memory::drop_oldest(int seq, Window& w, int64_t keep) {
    // Keep at least the sequence's last `keep` slots of this window's layers, moved to the front of their tables.
    // Slots go in whole groups of kAttentionSkipAlign, so that the attention kernels, told how many were dropped
    // (AttentionArgs::kv_skip), group the rest exactly as over the full cache.
    int32_t* pos = w.pos.get() + size_t(seq) * size_t(w.slots);
    const int64_t held = seqs_[size_t(seq)].n_slots - w.dropped[size_t(seq)];
    const int64_t from = (held - keep) / kernels::kAttentionSkipAlign * kernels::kAttentionSkipAlign;
    if (from <= 0) return;
    keep = held - from;
    const int index = int(&w - windows_.data());
    for (const Layer& l : layers_) {
        if (l.window != index) continue;
        for (const auto& [offset, per_seq] : {std::pair{l.k_offset, l.k_seq_bytes}, {l.v_offset, l.v_seq_bytes}}) {
            if (per_seq == 0) continue;
            const size_t row = per_seq / size_t(w.slots);
            uint8_t* base = data_.get() + offset + per_seq * size_t(seq);
            std::memmove(base, base + size_t(from) * row, size_t(keep) * row);
        }
    }
    std::memmove(pos, pos + from, size_t(keep) * sizeof(int32_t));
    std::fill(pos + keep, pos + w.slots, -1);
    w.dropped[size_t(seq)] += from;
}

Result<int64_t> Memory::reserve(int seq, const int32_t* pos, int64_t n) {
    LOOM_RETURN_IF_ERROR(check_reserve(seq, pos, n));
    Seq& s = seqs_[size_t(seq)];
    if (n == 0) return s.n_slots;
    // Sliding layers without room for n more drop what no token of this pass (or later) can see.
    for (Window& w : windows_)
        if (s.n_slots - w.dropped[size_t(seq)] + n > w.slots) drop_oldest(seq, w, w.window - 1);
    int32_t* slots = pos_.get() + size_t(seq) * size_t(n_ctx_);
    const int64_t first = s.n_slots;
    for (int64_t i = 0; i < n; ++i) slots[first + i] = pos[i];
    for (Window& w : windows_) {
        int32_t* wpos = w.pos.get() + size_t(seq) * size_t(w.slots);
        for (int64_t i = 0; i < n; ++i) wpos[first - w.dropped[size_t(seq)] + i] = pos[i];
    }
    s.n_slots += n;
    s.n_past = int64_t(pos[n - 1]) + 1;
    return first;
}

Status Memory::truncate(int seq, int64_t from) {
    if (seq < 0 || seq >= n_seq_) return Error::invalid("sequence {} outside the memory's {} sequences", seq, n_seq_);
    Seq& s = seqs_[size_t(seq)];
    from = std::max<int64_t>(from, 0);
    if (from > 0 && from >= s.n_past) return Ok();
    if (from > 0 && has_recurrent())
        return Error::invalid(
            "sequence {}: cannot go back to position {} of {}: the model's recurrent state holds every token and "
            "cannot be rewound (truncate to 0 to start over)",
            seq, from, s.n_past);
    int32_t* slots = pos_.get() + size_t(seq) * size_t(n_ctx_);
    int64_t keep = s.n_slots;
    while (keep > 0 && slots[keep - 1] >= from) --keep;
    // A sliding layer must still hold every token the next one at `from` sees: those after from − window.
    for (const Window& w : windows_) {
        const int64_t dropped = w.dropped[size_t(seq)];
        if (from > 0 && dropped > 0 && slots[dropped - 1] > from - w.window)
            return Error::invalid(
                "sequence {}: cannot go back to position {}: its sliding-window layers keep only the last {} slots "
                "and no longer hold position {} (truncate to 0 to start over)",
                seq, from, w.slots, slots[dropped - 1]);
    }
    for (int64_t i = keep; i < s.n_slots; ++i) slots[i] = -1;
    for (Window& w : windows_) {
        int64_t& dropped = w.dropped[size_t(seq)];
        if (keep == 0) dropped = 0;
        int32_t* wpos = w.pos.get() + size_t(seq) * size_t(w.slots);
        std::fill(wpos + (keep - dropped), wpos + w.slots, -1);
    }
    s.n_slots = keep;
    s.n_past = keep > 0 ? int64_t(slots[keep - 1]) + 1 : 0;
    if (s.n_slots == 0) {
        for (const Layer& l : layers_) {
            if (l.spec.kind != MemoryKind::recurrent) continue;
            std::memset(data_.get() + l.conv_offset + l.conv_seq_bytes * size_t(seq), 0, l.conv_seq_bytes);
            std::memset(data_.get() + l.state_offset + l.state_seq_bytes * size_t(seq), 0, l.state_seq_bytes);
        }
    }
    return Ok();
}

void Memory::reset(int seq) {
    const Status s = truncate(seq, 0);
    LOOM_ASSERT(s.ok(), "memory reset of sequence {}: {}", seq, s.error().message());
}

}  // namespace loom::exec
