// A Session runs a Model: the thread pool, the executor, the memory of up to n_seq sequences (KV cache and
// recurrent state, exec/memory.h), and the two inference paths. decode() is the cached path (prefill and
// decode are the same code with a different number of tokens); stateless() recomputes a whole sequence
// through the same blocks with a throwaway memory sized to it, the oracle the cached path is tested against.
//
// Thread-safety: one thread drives a Session at a time.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "blocks/block.h"
#include "exec/exec.h"
#include "exec/memory.h"
#include "kernels/ops.h"

namespace loom {
class ThreadPool;
}

namespace loom::runtime {

class Model;

struct SessionOptions {
    int n_threads = 0;              // 0 = every core
    int64_t n_ctx = 4096;           // positions per sequence in the memory (capped at the model's training context
                                    // unless n_ctx_over_train)
    bool n_ctx_over_train = false;  // keep an n_ctx above the training context (positions past it extrapolate)
    int n_seq = 1;                  // sequences the memory holds
    // Most tokens of one sequence in one forward pass: sliding-window layers keep window + n_batch slots instead of
    // n_ctx, and decode() runs a batch with more in consecutive passes (as llama.cpp splits ubatches).
    int64_t n_batch = 512;
    DType kv_type = DType::f16;
    kernels::Backend backend = kernels::Backend::cpu;
};

// Tokens to run. Tokens of one sequence must be consecutive, in increasing positions, after the positions the
// sequence already holds (right after them when the model keeps a recurrent state).
struct Batch {
    std::vector<int32_t> tokens;
    std::vector<int32_t> pos;
    std::vector<int32_t> seq;     // empty: every token is sequence 0
    std::vector<uint8_t> logits;  // per token: 1 = return its logits; empty: only the last token's

    // n tokens of sequence `seq` starting at position pos0; logits for the last one, or all.
    static Batch sequence(std::span<const int32_t> tokens, int32_t pos0, int32_t seq = 0, bool all_logits = false);
};

class Session {
public:
    static Result<std::unique_ptr<Session>> create(const Model& model, const SessionOptions& opt);
    ~Session();

    // The cached forward pass. Returns the logits of the tokens that asked for them, in batch order,
    // as [n_out, n_vocab] f32, valid until the next call. A pass that fails leaves its sequences as they
    // were before it, except that a sequence with recurrent state is reset (its state cannot go back).
    // A model with sliding-window memory runs more than n_batch tokens of a sequence as several passes.
    Result<TensorView> decode(const Batch& batch);
    // The whole sequence recomputed with a fresh memory: logits at every position, [n, n_vocab].
    Result<TensorView> stateless(std::span<const int32_t> tokens);
    // The same pass with logits at the listed positions only (ascending, distinct), as [rows.size(), n_vocab], each
    // row bit for bit as the all-positions pass gives it: the output chain (the head, the largest matmul) runs on
    // the rows asked for, padded to a call that rounds as the whole one does (kernels::kRowCountRecipesBelow), or
    // on every row when the sequence is too short for that.
    Result<TensorView> stateless(std::span<const int32_t> tokens, std::span<const int64_t> rows);
    // Several sequences recomputed in one pass (each sees only itself): logits at every position, the sequences'
    // rows one after another. At most options().n_seq of them. Fewer weight reads than one pass each, but the
    // kernels round by the pass's token count, so each one's logits may differ from its own pass's in the last bits.
    Result<TensorView> stateless(std::span<const std::vector<int32_t>> seqs);
    // The same with logits only at rows[i] of sequence i (ascending positions), in that order.
    Result<TensorView> stateless(std::span<const std::vector<int32_t>> seqs,
                                 std::span<const std::vector<int64_t>> rows);

    // Forgets a sequence's positions >= from (0: all of it). With recurrent state only 0 or the end work.
    Status truncate(int seq, int64_t from = 0);
    void reset(int seq);  // truncate(seq, 0), which always works
    // What a sequence holds, copied out, and put back into any sequence of this session (or one of a session on the
    // same model and options): the passes after a restore compute what they would after the passes that made it.
    exec::MemorySnapshot save(int seq) const { return memory_->save(seq); }
    Status restore(int seq, const exec::MemorySnapshot& snap) { return memory_->restore(seq, snap); }
    int64_t n_past(int seq) const;  // 1 + the highest position a sequence holds, where to append

    // Named intermediates of every later pass go to fn (see Exec::set_dump).
    void set_dump(exec::DumpFn fn);

    const Model& model() const { return *model_; }
    const SessionOptions& options() const { return opt_; }
    const exec::Memory& memory() const { return *memory_; }
    int n_threads() const;

private:
    Session() = default;
    Result<TensorView> forward(const Batch& batch, exec::Memory& memory);
    // decode() of a batch with more than `limit` tokens of a sequence: consecutive passes of at most that many.
    Result<TensorView> forward_in_parts(const Batch& batch, int64_t limit);

    const Model* model_ = nullptr;
    SessionOptions opt_;
    std::unique_ptr<ThreadPool> pool_;
    std::unique_ptr<exec::Exec> exec_;
    std::unique_ptr<exec::Memory> memory_;
    std::vector<float> logits_;
};

}  // namespace loom::runtime
