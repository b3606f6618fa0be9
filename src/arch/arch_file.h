// An architecture file (archs/<family>.arch.toml) parsed into plain data: parameter bindings, checks,
// the blocks and how a model wires them. Nothing here knows a block kind or a family; block kinds read
// their own keys through BlockSpec, which remembers what was read so unknown keys become errors.
//
// File shape (archs/llama.arch.toml is the commented example):
//   [arch]    name = "<family>"                   the GGUF general.architecture it serves
//   [params]  n_embd = "{arch}.embedding_length"  metadata key ({arch} = the name), or a table:
//             x = { key = "k" | ["k1", "k2"], default = <expr|number>, value = <expr> }
//             (key: first key present; default: when no key is present; value: derived, no key)
//   [[check]] expr = "n_head % n_head_kv == 0", message = "..."
//   [model]   input = [chain]  (token ids → h)   output = [chain]  (h → logits)
//             side = { name = [chain], ... }     side inputs: made once per pass from the input chain's h,
//                                                 read by name by layer blocks (e.g. per-layer embeddings)
//   [layer]   count = <expr>, let = { name = <expr with `layer`> },
//             steps = [{ residual = [chain] } | { replace = [chain] }, ...]
//                 residual: h = h + chain(h); replace: h = chain(h); a step whose chain is empty for a layer
//                 (every item conditioned out) leaves h as it is
//             residual = [[chain], ...]           the short form: every step a residual one
//   [blocks.<name>] kind = "<block kind>", then the kind's weights and options.
//   [hf]      optional: how a Hugging Face checkpoint maps onto this file's metadata and tensors (arch/hf_map.h)
// A chain item is a block name, { if = <expr>, then = X, else = Y } where X and Y are a block name or a chain
// (else optional: skip), or { sum = [[chain], [chain], ...] }: every branch reads the same input and their
// outputs are added, in order.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arch/expr.h"
#include "core/error.h"

namespace loom::arch {

struct HfMap;

// A TOML value with its line, detached from the TOML library.
struct Node {
    enum class Kind : uint8_t { string, number, boolean, array, table };
    Kind kind = Kind::string;
    int line = 0;
    std::string str;
    double num = 0;
    std::vector<Node> items;             // array
    std::map<std::string, Node> fields;  // table
};

// A weight reference: one tensor name (may contain `{layer}`), or alternates tried in order
// (["output.weight", "token_embd.weight"]); a trailing '?' on the last name makes it optional. The table form
// { name = <name or alternates>, if = <expr> } binds the weight only where the condition holds (elsewhere the
// block sees no weight, as for an absent optional one).
struct WeightRef {
    std::vector<std::string> names;
    bool optional = false;
    std::optional<Expr> cond;
    int line = 0;
};

// The keys of one block table (or a nested table of it), read by the block kind.
class BlockSpec {
public:
    BlockSpec() = default;
    BlockSpec(std::string file, std::string name, const Node& table);

    const std::string& name() const { return name_; }
    const std::string& kind() const { return kind_; }
    int line() const { return line_; }
    bool has(const std::string& key) const { return table_->fields.count(key) != 0; }
    // Marks a key as one this kind reads (for keys it skips in some configurations).
    void accept(const std::string& key) const { read_->push_back(key); }
    // The block's whole table, for tools that show every key (the diagram); reading it marks nothing as read.
    const Node& table() const { return *table_; }

    // Readers. A missing key with no default is an error; so is a value of the wrong TOML type.
    Result<WeightRef> weight(const std::string& key) const;
    Result<Expr> expr(const std::string& key) const;
    Result<Expr> expr(const std::string& key, double fallback) const;
    Result<std::string> word(const std::string& key, const std::vector<std::string>& allowed,
                             const std::string& fallback) const;
    Result<bool> flag(const std::string& key, bool fallback) const;
    Result<BlockSpec> table(const std::string& key) const;  // nested table, e.g. rope = { ... }

    // Errors for keys nobody read: `file:41: block 'ffn': unknown key 'activaton' (did you mean
    // 'activation'?)`. Call after the kind has read everything it knows.
    Status check_unknown_keys() const;

    // `file:line: block 'name': ` for messages about this block.
    std::string where(int line = 0) const;

private:
    const Node* find(const std::string& key) const;  // marks the key as read
    std::string file_, name_, kind_;
    int line_ = 0;
    std::shared_ptr<const Node> table_;
    std::shared_ptr<std::vector<std::string>> read_ = std::make_shared<std::vector<std::string>>();
};

struct ParamSpec {
    std::string name;
    std::vector<std::string> keys;  // metadata keys, {arch} already substituted; empty = derived
    std::optional<Expr> fallback;   // `default`
    std::optional<Expr> value;      // derived value
    int line = 0;
};

struct CheckSpec {
    Expr expr;
    std::string message;
    int line = 0;
};

// One item of a chain: a block, a choice between two sub-chains, or a sum of branches.
struct ChainItem;
using Chain = std::vector<ChainItem>;
struct ChainItem {
    std::string block;         // a block name (no cond, no sum)
    std::optional<Expr> cond;  // a choice: `then` where it holds, else `otherwise` (empty = skip)
    Chain then, otherwise;
    std::vector<Chain> sum;  // a sum of two or more branches
    int line = 0;
};

// Every block name a chain mentions, nested ones included.
void for_each_block_name(const Chain& chain, const std::function<void(const std::string&, int line)>& fn);

// One step of a layer: h = h + chain(h), or h = chain(h).
struct LayerStep {
    enum class Kind : uint8_t { residual, replace } kind = Kind::residual;
    Chain chain;
    int line = 0;
};

// A side input: a named tensor the pass computes once from the input chain's output, for layer blocks to read.
struct SideInput {
    std::string name;
    Chain chain;
    int line = 0;
};

struct LetSpec {
    std::string name;
    Expr expr;
    int line = 0;
};

// How a model generates ([model] generation): left to right with a cache, or by unmasking a canvas with
// bidirectional, cache-less passes (masked diffusion). Diffusion options are expressions of the parameters.
struct Generation {
    enum class Mode : uint8_t { autoregressive, diffusion } mode = Mode::autoregressive;
    Expr mask_token = Expr::constant(-1);   // the canvas's mask token id (diffusion)
    Expr shift_logits = Expr::constant(0);  // position p reads the logits of p − 1 (diffusion)
    int line = 0;
};

struct ArchFile {
    std::string path;
    std::string name;
    std::vector<ParamSpec> params;  // in file order
    std::vector<CheckSpec> checks;
    Chain input, output;
    std::vector<SideInput> side;  // in file order
    Generation generation;
    Expr layer_count;
    int layer_count_line = 0;
    std::vector<LetSpec> lets;
    std::vector<LayerStep> steps;
    std::map<std::string, BlockSpec> blocks;
    std::shared_ptr<const HfMap> hf;  // [hf]; null when the family has no mapping from Hugging Face checkpoints

    static Result<ArchFile> parse(const std::string& text, const std::string& path);
    static Result<ArchFile> load(const std::string& path);
};

}  // namespace loom::arch
