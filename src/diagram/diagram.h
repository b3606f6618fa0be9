// Architecture diagrams: what an architecture file wires (input chain, side inputs, one layer's steps, output
// chain, every block with its kind, options and weights) and how the layers of a model differ, as plain data
// (Diagram), then as Graphviz DOT (to_dot). Drawing it (SVG, PNG) is render.h's. Nothing here names a family:
// a layer's kind comes from what its blocks keep in memory and from which blocks it runs.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "arch/arch_file.h"
#include "core/error.h"

namespace loom::runtime {
class Model;
}

namespace loom::diagram {

// One weight a block binds. Without a model: the tensor name as the file writes it ({layer} and alternates).
// With a model: the tensor each layer bound, its shapes and types (distinct ones, in layer order).
struct WeightInfo {
    std::string key;                    // the block's key: "q", "rope.freq_factors"
    std::string name;                   // "blk.{layer}.attn_q.weight", or alternates joined by " | "
    std::string cond;                   // the { if = ... } condition, if any
    bool optional = false;              // a trailing '?': absent is fine
    std::vector<std::string> variants;  // with a model: "[512, 256] q4_k", one per distinct shape and type
    int64_t n_params = 0;               // with a model: elements over every layer that bound it
};

// One option of a block: its expression as written and, with a model, its distinct values over the layers.
struct OptionInfo {
    std::string key;   // "window", "rope.base"
    std::string text;  // "swa ? n_swa : 0"
    std::vector<std::string> values;
    bool constant = false;  // a TOML number, bool or array: nothing to evaluate
};

struct BlockInfo {
    std::string name, kind;
    int line = 0;
    std::vector<OptionInfo> options;
    std::vector<WeightInfo> weights;
    std::vector<std::string> reads;  // side inputs the block reads (an option naming one)
    int64_t n_layers = 0;            // with a model: layers that run it (model-level blocks: 1 where used)
    int64_t n_params = 0;            // with a model: elements of the distinct tensors it binds, over all layers
};

// What a layer of a model is, as its built blocks say.
struct LayerInfo {
    int64_t index = 0;
    bool attention = false;  // keeps (or shares) K/V
    int64_t window = 0;      // sliding attention: the window; 0: full attention
    int64_t kv_source = -1;  // shares the K/V of this earlier layer; -1: its own
    bool recurrent = false;  // keeps a recurrent state
    bool moe = false;        // runs a block of kind `moe`
    int64_t n_params = 0;
};

struct Diagram {
    std::string title;   // the family (and the model's name)
    std::string source;  // the arch file, or the model file
    bool with_model = false;
    arch::ArchFile arch;
    std::vector<BlockInfo> blocks;                          // in the file's order of names
    std::string layer_count;                                // the count expression, or with a model the number
    std::vector<std::pair<std::string, std::string>> lets;  // [layer] let rules: name, expression
    std::vector<LayerInfo> layers;                          // with a model: every layer
    // With a model: for each choice's line, how many layers take `then` ({line, n_then}).
    std::vector<std::pair<int, int64_t>> choice_then;
    int64_t n_params = 0, weight_bytes = 0;  // with a model: totals over the distinct tensors bound

    const BlockInfo* block(const std::string& name) const;
};

// From an architecture file alone: symbolic names and the rules as written.
Diagram from_arch(const arch::ArchFile& arch);
// From a loaded model: the same, with real shapes, types, counts, option values and the layer strip.
Result<Diagram> from_model(const runtime::Model& model, const std::string& source);

// Graphviz DOT text of the diagram: clusters for the input chain, side inputs, one layer and the output
// chain, one node per block occurrence (HTML-like labels), and the layer strip (a table node).
std::string to_dot(const Diagram& d);

// From a path: a .gguf model (loaded without packing) or an architecture file (anything else that parses as
// one). Errors name the path.
Result<Diagram> from_path(const std::string& path);

}  // namespace loom::diagram
