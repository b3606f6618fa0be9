// Exec: the op-emitting interface blocks see. It owns the activation arena of one forward pass,
// resolves kernels through the registry (blocks never include kernels/), names intermediates for
// dumps, and keeps the first error: after a failed op every later op returns an empty view and
// does nothing, and the runner reads status() once at the end, so block code stays a plain sequence.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/tensor.h"
#include "kernels/ops.h"

namespace loom {
class ThreadPool;
}
namespace loom::kernels {
struct OpTable;
}

namespace loom::exec {

using kernels::NormKind;
using kernels::RopeArgs;
using kernels::UnaryOp;

// Bump allocator for activations, reset at the start of every forward pass. Chunks never move, so
// views stay valid until reset; after a pass that needed several chunks, reset() merges them into one.
class Arena {
public:
    struct Mark {
        size_t chunk = 0, used = 0;
    };
    void* alloc(size_t bytes);
    void reset();
    // Everything allocated after mark() is given back by release() (a layer's scratch, so a pass needs
    // one layer's activations, not all of them).
    Mark mark() const;
    void release(Mark m);

private:
    struct Chunk {
        std::unique_ptr<uint8_t[]> data;
        size_t size = 0, used = 0;
    };
    std::vector<Chunk> chunks_;
    size_t cur_ = 0;
    size_t high_water_ = 0, live_ = 0;
};

// Receives every named intermediate (for --dump); returns quickly when it does not want the name.
using DumpFn = std::function<void(const std::string& name, const TensorView& t)>;

class Exec {
public:
    Exec(kernels::Backend backend, ThreadPool* pool);
    ~Exec();

    void begin();  // a new pass: resets the arena and the error
    Arena::Mark mark() const { return arena_.mark(); }
    void release(Arena::Mark m) { arena_.release(m); }
    Status status() const { return status_; }
    bool failed() const { return !status_.ok(); }
    void fail(Error e);  // records an error (keeps the first)
    void set_dump(DumpFn fn) { dump_ = std::move(fn); }
    // Matmuls of the following ops round each row as a call of its own (kernels::MatmulArgs::rows_alone).
    void set_rows_alone(bool on) { rows_alone_ = on; }
    kernels::Backend backend() const { return backend_; }

    // A fresh f32 (or other type) tensor from the arena, uninitialised.
    TensorView tensor(DType type, std::initializer_list<int64_t> shape);
    TensorView like(const TensorView& x);  // a dense f32 tensor of x's shape

    // Names an intermediate for dumps; returns it unchanged.
    const TensorView& name(const TensorView& t, const std::string& name);

    // ---- ops (all activations f32; shapes outermost first) ---------------------------------------
    TensorView matmul(const TensorView& x, const TensorView& w);          // x [n, in] · w [out, in]ᵀ → [n, out]
    TensorView get_rows(const TensorView& table, const TensorView& ids);  // ids [n] i32 → [n, d]
    // Expert matmul: x [n, in] (every slot reads its token's row) or [n, n_used, in] · w [n_expert, out, in]
    // at ids [n, n_used] → [n, n_used, out].
    TensorView matmul_id(const TensorView& x, const TensorView& w, const TensorView& ids,
                         kernels::ExpertRounding rounding = kernels::ExpertRounding::mul_mat_id);
    // Normalises the last dim: rms / layer (with optional bias b) / l2. A new tensor of x's shape.
    TensorView norm(NormKind kind, const TensorView& x, const TensorView& w, float eps, const TensorView& b = {});
    void rope(const TensorView& x, const RopeArgs& opts);                       // in place; opts.x/y are ignored
    TensorView attention(const kernels::AttentionArgs& a);                      // a.out: given, or allocated here
    TensorView glu(UnaryOp act, const TensorView& gate, const TensorView& up);  // new tensor
    TensorView softmax(const TensorView& x);                                    // over the last dim; a new tensor
    // Expert choice from router probabilities [n, n_expert] (kernels::MoeRouteArgs: `opts` gives the bias and
    // options; its tensors but the bias are ignored): ids [n, k] i32 and weights [n, k].
    struct Routing {
        TensorView ids, weights;
    };
    Routing moe_route(const TensorView& probs, int k, const kernels::MoeRouteArgs& opts);
    // Σ over slots of x [n, n_slot, d] · w [n, n_slot], slot after slot → [n, d].
    TensorView weighted_sum(const TensorView& x, const TensorView& w);
    // Recurrent ops (kernels/ops.h): a causal depthwise conv of x [n, ch] with taps w [ch, K] after the carried
    // history state [K − 1, ch] (updated) → y [n, ch] (given, or allocated here); the gated delta rule (a.state
    // updated, a.out given or allocated here as [n, n_hv, d_v]).
    TensorView conv1d(const TensorView& x, const TensorView& w, const TensorView& state, TensorView y = {});
    TensorView delta_net(kernels::DeltaNetArgs a);
    void unary(UnaryOp op, const TensorView& x);         // in place
    void add(const TensorView& a, const TensorView& b);  // a += b (b same shape or a broadcast row)
    void mul(const TensorView& a, const TensorView& b);  // a *= b (b: as add, or one value per row [n, 1])
    void div(const TensorView& a, const TensorView& b);  // a /= b (as mul)
    void scale(const TensorView& x, float s, const TensorView& y = {});  // y = x · s (in place without y)
    // Rows `rows` of x (in order) as a new dense tensor.
    TensorView gather_rows(const TensorView& x, const std::vector<int32_t>& rows);
    // Converts f32 rows into `dst` (f32, f16 or bf16, same shape; rows may be strided).
    void convert(const TensorView& src, const TensorView& dst);

    kernels::Stream& stream() { return *stream_; }

private:
    bool run(Status s, const char* op);  // records a failure; true when all is well
    kernels::Backend backend_;
    const kernels::OpTable* ops_ = nullptr;
    std::unique_ptr<kernels::Stream> stream_;
    Arena arena_;
    Status status_;
    DumpFn dump_;
    bool rows_alone_ = false;
};

}  // namespace loom::exec
