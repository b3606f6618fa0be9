// Hyperparameters: an architecture file's [params] bound against one GGUF file's metadata and tensors,
// then its [[check]]s. Also the per-layer scope ([layer] let values and `layer`) that block options see.
#pragma once

#include <map>
#include <string>

#include "arch/arch_file.h"
#include "arch/expr.h"

namespace loom::formats {
class GgufFile;
}

namespace loom::arch {

// A metadata value as an expression Value (integers and floats → number, bool → 0/1, string, numeric
// arrays → array). Arrays of strings are not values: an error naming the key.
Result<Value> metadata_value(const formats::GgufFile& file, std::string_view key);

// Every parameter, evaluated (so a bad key or expression fails at load, not mid-inference).
// Functions the expressions may call: has('tensor name'), shape('tensor name', i) (outermost first).
class Params : public Scope {
public:
    static Result<Params> bind(const ArchFile& arch, const formats::GgufFile& file);

    Result<Value> lookup(std::string_view name) const override;
    Result<Value> call(std::string_view fn, std::span<const Value> args) const override;

    // Typed access for the engine (the parameter must exist: a missing one is a bug in the caller).
    int64_t integer(const std::string& name) const;
    const std::map<std::string, Value>& values() const { return values_; }
    const formats::GgufFile& file() const { return *file_; }

private:
    Params() = default;
    const formats::GgufFile* file_ = nullptr;
    std::map<std::string, Value> values_;
};

// The scope of one layer: `layer`, the [layer] let values, then the parameters. Tensor names given to
// has()/shape() may use {layer}.
class LayerScope : public Scope {
public:
    static Result<LayerScope> make(const ArchFile& arch, const Params& params, int64_t layer);

    Result<Value> lookup(std::string_view name) const override;
    Result<Value> call(std::string_view fn, std::span<const Value> args) const override;
    int64_t layer() const { return layer_; }

private:
    LayerScope(const Params& p, int64_t layer) : params_(&p), layer_(layer) {}
    const Params* params_;
    int64_t layer_;
    std::map<std::string, Value> lets_;
};

// `{layer}` in a tensor name → the layer number.
std::string with_layer(std::string name, int64_t layer);

}  // namespace loom::arch
