// Blocks: the reusable units an architecture file wires together (norms, attention, gated FFN,
// embedding, linear heads, ...). A block kind is registered by name; `create` reads the kind's keys from
// the block's table, binds its weights (every problem is collected, not just the first) and evaluates its
// options for one layer; `forward` maps an activation [n_tok, d_in] to [n_tok, d_out] through Exec.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "arch/arch_file.h"
#include "arch/expr.h"
#include "core/error.h"
#include "core/tensor.h"
#include "exec/exec.h"
#include "exec/memory.h"

namespace loom::formats {
class GgufFile;
}

namespace loom::blocks {

// A run of consecutive batch tokens that belong to one sequence (positions ascending), held in the memory's
// slots [first_slot, first_slot + count) of that sequence.
struct Segment {
    int seq = 0;
    int64_t first = 0, count = 0;
    int64_t first_slot = 0;
};

// What one forward pass tells the blocks.
struct Pass {
    TensorView tokens;  // [n_tok] i32
    TensorView pos;     // [n_tok] i32
    TensorView pos4;    // [4, n_tok] i32: position streams of multi-section rope (text: t = h = w = pos, e = 0)
    std::vector<Segment> segments;
    // The session's memory, or for a stateless pass a throwaway one sized to the batch: blocks take the
    // same path either way.
    exec::Memory* memory = nullptr;
    int64_t layer = -1;  // -1 outside the layer stack
    // The side inputs ([model] side), [n_tok, width] each, made once per pass before the layers.
    std::map<std::string, TensorView> side;
};

class Block {
public:
    virtual ~Block() = default;
    // x: [n_tok, d_in] f32 → [n_tok, d_out] f32, a new tensor; x is not modified (the runner keeps the
    // residual stream in it).
    virtual TensorView forward(exec::Exec& ex, const TensorView& x, const Pass& pass) const = 0;
    // What the block keeps in the memory for its layer, if anything (one block per layer may).
    virtual std::optional<exec::MemorySpec> memory_spec() const { return std::nullopt; }

    const std::string& name() const { return name_; }    // the block's name in the arch file
    const std::string& label() const { return label_; }  // for dumps: "l3.attention", "output_norm"
    void set_names(std::string name, std::string label) {
        name_ = std::move(name);
        label_ = std::move(label);
    }

private:
    std::string name_, label_;
};

// What a block does with a weight: matmul weights may carry a packed form for the kernels (TensorView::packed).
enum class WeightUse : uint8_t { other, matmul };

// Binds tensors for the blocks of one model, collecting every missing or mis-shaped tensor.
class WeightBinder {
public:
    explicit WeightBinder(const formats::GgufFile& file) : file_(&file) {}

    // The tensor for `key` of a block, checked against `shape` (outermost first, −1 = any). Returns an
    // empty view when the key is not in the block's table, or when it is optional ('?') and absent.
    TensorView bind(const arch::BlockSpec& spec, const std::string& key, const std::vector<int64_t>& shape,
                    int64_t layer, WeightUse use = WeightUse::other);
    // As bind(), but the weight must be there.
    TensorView need(const arch::BlockSpec& spec, const std::string& key, const std::vector<int64_t>& shape,
                    int64_t layer, WeightUse use = WeightUse::other);
    // Norm scales and biases: must be f32 (ops read them as plain floats).
    TensorView bind_f32(const arch::BlockSpec& spec, const std::string& key, const std::vector<int64_t>& shape,
                        int64_t layer, bool required);

    void error(std::string message) { errors_.push_back(std::move(message)); }
    bool ok() const { return errors_.empty(); }
    Status status() const;  // every error, one per line
    const std::set<std::string>& used() const { return used_; }
    // Tensors bound only as matmul weights (every binding WeightUse::matmul): their packed form can replace
    // their resident bytes.
    std::set<std::string> matmul_only() const;
    // Tensors bound as matmul weights at least once, with their views.
    const std::map<std::string, TensorView>& matmul_used() const { return matmul_; }
    // Packed forms to attach to matmul bindings of these tensors (owned by the caller, which outlives the views).
    void set_packed(std::map<std::string, const PackedWeight*> packed) { packed_ = std::move(packed); }
    const formats::GgufFile& file() const { return *file_; }
    // Where conditional weight refs ({ name, if }) evaluate their condition: the scope of the block being bound.
    void set_scope(const arch::Scope* scope) { scope_ = scope; }

private:
    TensorView resolve(const arch::BlockSpec& spec, const std::string& key, const std::vector<int64_t>& shape,
                       int64_t layer, bool required, WeightUse use);
    const formats::GgufFile* file_;
    const arch::Scope* scope_ = nullptr;
    std::vector<std::string> errors_;
    std::set<std::string> used_, other_;
    std::map<std::string, TensorView> matmul_;
    std::map<std::string, const PackedWeight*> packed_;
};

// Everything a block kind needs to build one instance.
struct BindContext {
    const arch::BlockSpec& spec;
    const arch::Scope& scope;  // the layer's scope (or the model's, for input/output blocks)
    int64_t layer;             // -1 outside the layer stack
    WeightBinder& weights;
    const std::set<std::string>* side_inputs = nullptr;  // the model's side inputs ([model] side)

    // Option readers: evaluate the block's expression (or the default expression) in the scope;
    // an error is recorded in `weights` and a harmless value returned, so one pass reports everything.
    int64_t integer(const std::string& key, const std::string& fallback_expr);
    double number(const std::string& key, const std::string& fallback_expr);
    std::string word(const std::string& key, const std::vector<std::string>& allowed, const std::string& fallback);
    bool flag(const std::string& key, bool fallback);
    void record(const Error& e) { weights.error(e.message()); }
};

// A projection y = W x (+ b), the unit most blocks are made of.
struct Linear {
    TensorView w;  // [n_out, n_in], any type with a matmul kernel; empty when an optional weight is absent
    TensorView b;  // [n_out] f32 or empty

    bool empty() const { return w.empty(); }
    TensorView operator()(exec::Exec& ex, const TensorView& x) const;  // [n, n_in] → [n, n_out]
};

// Binds a Linear: weight `key` checked against [n_out, n_in] (a matmul weight) and the optional f32 bias
// `bias_key` (default: key + "_bias").
Linear bind_linear(BindContext& c, const std::string& key, int64_t n_out, int64_t n_in, bool required = true,
                   const std::string& bias_key = "");

// Columns [first, first + d) of each of the `heads` runs of `width` values in every row of src ([n, heads · width]
// f32, rows contiguous) copied into a dense [n, heads, d] tensor: the parts of a fused or interleaved projection.
TensorView head_columns(exec::Exec& ex, const TensorView& src, int64_t heads, int64_t width, int64_t first, int64_t d);

// The activation a block names in `key` (silu, gelu_tanh, gelu_erf, gelu_quick, relu).
exec::UnaryOp bind_activation(BindContext& c, const std::string& key, const std::string& fallback);

// The block's `rope` table, if it has one, into `a` (options only: x, y and pos are the caller's), checked against
// the head size it rotates; false without a table (or one that is not a table). Other problems are recorded in
// c.weights, which fails the load.
bool bind_rope(BindContext& c, kernels::RopeArgs& a, int64_t head_dim);

// Gated feed-forward, y = down(act(gate x) ⊙ up x): the ffn_glu block and a mixture's shared expert.
struct GluMlp {
    Linear gate, up, down;
    exec::UnaryOp act = exec::UnaryOp::silu;

    // Intermediates are named `label`.gate, .up, .glu for dumps.
    TensorView operator()(exec::Exec& ex, const TensorView& x, const std::string& label) const;
};

using BlockFactory = std::unique_ptr<Block> (*)(BindContext& ctx);

// The factory for a kind, or nullptr. Kinds are registered in blocks/registry.cpp.
BlockFactory find_kind(const std::string& kind);
std::vector<std::string> kinds();

}  // namespace loom::blocks
