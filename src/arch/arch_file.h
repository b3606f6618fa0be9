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
//   [model]   input = [blocks...]  (token ids → h)   output = [blocks...]  (h → logits)
//   [layer]   count = <expr>, let = { name = <expr with `layer`> },
//             residual = [[blocks...], ...]           each: h = h + chain(h)
//   [blocks.<name>] kind = "<block kind>", then the kind's weights and options.
// A chain item is a block name, or { if = <expr>, then = "a", else = "b" } (else optional: skip).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "arch/expr.h"
#include "core/error.h"

namespace loom::arch {

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
// (["output.weight", "token_embd.weight"]); a trailing '?' on the last name makes it optional.
struct WeightRef {
    std::vector<std::string> names;
    bool optional = false;
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

struct ChainItem {
    std::optional<Expr> cond;     // none: always `then`
    std::string then, otherwise;  // block names; `otherwise` empty = skip
    int line = 0;
};
using Chain = std::vector<ChainItem>;

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
    Generation generation;
    Expr layer_count;
    int layer_count_line = 0;
    std::vector<LetSpec> lets;
    std::vector<Chain> residual;
    std::map<std::string, BlockSpec> blocks;

    static Result<ArchFile> parse(const std::string& text, const std::string& path);
    static Result<ArchFile> load(const std::string& path);
};

}  // namespace loom::arch
