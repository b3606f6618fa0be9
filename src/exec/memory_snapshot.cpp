// Copying one sequence's memory out and back in (Memory::save / restore), for prefix caches: a sequence restored
// from a snapshot holds the same bytes, slot tables and recurrent state as the one saved, so the passes that follow
// compute exactly what they would have computed after the passes that made it.
#include <cstring>

#include "exec/memory.h"

namespace loom::exec {

uint64_t Memory::layout_id() const {
    // FNV-1a over what decides where every byte of a sequence lives.
    uint64_t h = 1469598103934665603ull;
    auto mix = [&](uint64_t v) {
        for (int i = 0; i < 8; ++i, v >>= 8) h = (h ^ (v & 0xff)) * 1099511628211ull;
    };
    mix(uint64_t(n_ctx_));
    mix(uint64_t(type_));
    mix(bytes_);
    mix(uint64_t(max_pass_));
    for (const Layer& l : layers_) {
        mix(uint64_t(l.spec.kind));
        mix(l.k_seq_bytes);
        mix(l.v_seq_bytes);
        mix(l.conv_seq_bytes);
        mix(l.state_seq_bytes);
        mix(uint64_t(int64_t(l.window)));
    }
    return h;
}

int64_t Memory::held(const Layer& l, int seq) const {
    const int64_t n = seqs_.at(size_t(seq)).n_slots;
    return l.window < 0 ? n : n - windows_[size_t(l.window)].dropped[size_t(seq)];
}

MemorySnapshot Memory::save(int seq) const {
    LOOM_ASSERT(seq >= 0 && seq < n_seq_, "memory: save of sequence {}", seq);
    MemorySnapshot snap;
    snap.layout_ = layout_id();
    const Seq& s = seqs_[size_t(seq)];
    snap.n_slots_ = s.n_slots;
    snap.n_past_ = s.n_past;
    const int32_t* pos = pos_.get() + size_t(seq) * size_t(n_ctx_);
    snap.slot_pos_.assign(pos, pos + s.n_slots);
    for (const Window& w : windows_) snap.dropped_.push_back(w.dropped[size_t(seq)]);
    for (const Layer& l : layers_) {
        const int64_t slots = l.window >= 0 ? windows_[size_t(l.window)].slots : n_ctx_;
        for (const auto& [offset, per_seq] : {std::pair{l.k_offset, l.k_seq_bytes}, {l.v_offset, l.v_seq_bytes}}) {
            if (per_seq == 0) continue;
            const uint8_t* base = data_.get() + offset + per_seq * size_t(seq);
            snap.data_.insert(snap.data_.end(), base, base + size_t(held(l, seq)) * (per_seq / size_t(slots)));
        }
        for (const auto& [offset, per_seq] :
             {std::pair{l.conv_offset, l.conv_seq_bytes}, {l.state_offset, l.state_seq_bytes}}) {
            if (per_seq == 0) continue;
            const uint8_t* base = data_.get() + offset + per_seq * size_t(seq);
            snap.data_.insert(snap.data_.end(), base, base + per_seq);
        }
    }
    return snap;
}

Status Memory::restore(int seq, const MemorySnapshot& snap) {
    if (seq < 0 || seq >= n_seq_) return Error::invalid("sequence {} outside the memory's {} sequences", seq, n_seq_);
    if (snap.layout_ != layout_id() || snap.dropped_.size() != windows_.size())
        return Error::invalid("memory: the snapshot comes from a memory of another layout; sequence {} unchanged", seq);
    Seq& s = seqs_[size_t(seq)];
    s.n_slots = snap.n_slots_;
    s.n_past = snap.n_past_;
    int32_t* pos = pos_.get() + size_t(seq) * size_t(n_ctx_);
    std::copy(snap.slot_pos_.begin(), snap.slot_pos_.end(), pos);
    std::fill(pos + s.n_slots, pos + n_ctx_, -1);
    for (size_t i = 0; i < windows_.size(); ++i) {
        Window& w = windows_[i];
        const int64_t dropped = snap.dropped_[i];
        w.dropped[size_t(seq)] = dropped;
        int32_t* wpos = w.pos.get() + size_t(seq) * size_t(w.slots);
        std::fill(wpos, wpos + w.slots, -1);
        std::copy(pos + dropped, pos + s.n_slots, wpos);
    }
    const uint8_t* src = snap.data_.data();
    for (const Layer& l : layers_) {
        const int64_t slots = l.window >= 0 ? windows_[size_t(l.window)].slots : n_ctx_;
        for (const auto& [offset, per_seq] : {std::pair{l.k_offset, l.k_seq_bytes}, {l.v_offset, l.v_seq_bytes}}) {
            if (per_seq == 0) continue;
            const size_t n = size_t(held(l, seq)) * (per_seq / size_t(slots));
            std::memcpy(data_.get() + offset + per_seq * size_t(seq), src, n);
            src += n;
        }
        for (const auto& [offset, per_seq] :
             {std::pair{l.conv_offset, l.conv_seq_bytes}, {l.state_offset, l.state_seq_bytes}}) {
            if (per_seq == 0) continue;
            std::memcpy(data_.get() + offset + per_seq * size_t(seq), src, per_seq);
            src += per_seq;
        }
    }
    LOOM_ASSERT(src == snap.data_.data() + snap.data_.size(), "memory: snapshot of {} bytes restored as {}",
                snap.data_.size(), size_t(src - snap.data_.data()));
    return Ok();
}

}  // namespace loom::exec
