// WeightBinder and BindContext: tensor lookup with alternates, optional weights and shape checks;
// option evaluation that records errors instead of stopping.
#include <fmt/format.h>

#include <algorithm>
#include <cctype>

#include "arch/params.h"
#include "blocks/block.h"
#include "formats/gguf_reader.h"

namespace loom::blocks {
namespace {

std::string shape_text(const std::vector<int64_t>& s) {
    std::string out = "[";
    for (size_t i = 0; i < s.size(); ++i)
        out += fmt::format("{}{}", i ? ", " : "", s[i] < 0 ? std::string("*") : std::to_string(s[i]));
    return out + "]";
}

// A weight as a dense view of the mapped file (GGUF tensors are dense, rows contiguous).
TensorView view_of(const formats::TensorInfo& t) {
    TensorView v;
    v.data = const_cast<uint8_t*>(t.data);
    v.dtype = t.type;
    v.rank = int(t.shape.size());
    for (int i = 0; i < v.rank; ++i) v.shape[size_t(i)] = t.shape[size_t(i)];
    v.stride[size_t(v.rank - 1)] = info(t.type).block_bytes;  // one element, or one block for quantized types
    int64_t step = row_bytes(t.type, t.shape.back());
    for (int i = v.rank - 2; i >= 0; --i) {
        v.stride[size_t(i)] = step;
        step *= t.shape[size_t(i)];
    }
    return v;
}

}  // namespace

TensorView WeightBinder::resolve(const arch::BlockSpec& spec, const std::string& key, const std::vector<int64_t>& shape,
                                 int64_t layer, bool required, WeightUse use) {
    if (!spec.has(key)) {
        (void)spec.weight(key);  // marks the key as known to this kind
        if (required)
            error(fmt::format("{}: needs weight '{}' (expected shape {})", spec.where(), key, shape_text(shape)));
        return {};
    }
    auto ref = spec.weight(key);
    if (!ref.ok()) {
        error(ref.error().message());
        return {};
    }
    if (ref->cond) {  // { name, if }: no weight where the condition does not hold
        if (!scope_) {
            error(fmt::format("{}: weight '{}': a conditional weight needs a scope to evaluate `if` in", spec.where(),
                              key));
            return {};
        }
        auto holds = ref->cond->eval(*scope_);
        if (!holds.ok()) {
            error(fmt::format("{}: weight '{}': if: {}", spec.where(ref->line), key, holds.error().message()));
            return {};
        }
        if (!holds->truthy()) {
            if (required)
                error(fmt::format("{}: needs weight '{}', but its `if` does not hold{}", spec.where(ref->line), key,
                                  layer >= 0 ? fmt::format(" for layer {}", layer) : std::string()));
            return {};
        }
    }
    const formats::TensorInfo* found = nullptr;
    std::string tried;
    for (const std::string& pattern : ref->names) {
        const std::string name = arch::with_layer(pattern, layer);
        tried += (tried.empty() ? "'" : "', '") + name;
        if ((found = file_->tensor(name))) break;
    }
    tried += "'";
    if (!found) {
        if (!ref->optional || required)
            error(fmt::format("{}: weight '{}': tensor {} not in the file (expected shape {})", spec.where(ref->line),
                              key, tried, shape_text(shape)));
        return {};
    }
    bool shape_ok = found->shape.size() == shape.size();
    for (size_t i = 0; shape_ok && i < shape.size(); ++i) shape_ok = shape[i] < 0 || shape[i] == found->shape[i];
    if (!shape_ok) {
        error(fmt::format("{}: tensor '{}': shape {}, expected {}", file_->source(), found->name,
                          shape_text(found->shape), shape_text(shape)));
        return {};
    }
    std::string name(found->name);
    TensorView v = view_of(*found);
    if (use == WeightUse::matmul) {
        matmul_.emplace(name, v);
        if (auto it = packed_.find(name); it != packed_.end()) v.packed = it->second;
    } else {
        other_.insert(name);
    }
    used_.insert(std::move(name));
    return v;
}

std::set<std::string> WeightBinder::matmul_only() const {
    std::set<std::string> out;
    for (const auto& [n, v] : matmul_)
        if (!other_.count(n)) out.insert(n);
    return out;
}

TensorView WeightBinder::bind(const arch::BlockSpec& spec, const std::string& key, const std::vector<int64_t>& shape,
                              int64_t layer, WeightUse use) {
    return resolve(spec, key, shape, layer, false, use);
}

TensorView WeightBinder::need(const arch::BlockSpec& spec, const std::string& key, const std::vector<int64_t>& shape,
                              int64_t layer, WeightUse use) {
    return resolve(spec, key, shape, layer, true, use);
}

TensorView WeightBinder::bind_f32(const arch::BlockSpec& spec, const std::string& key,
                                  const std::vector<int64_t>& shape, int64_t layer, bool required) {
    TensorView t = resolve(spec, key, shape, layer, required, WeightUse::other);
    if (!t.empty() && t.dtype != DType::f32) {
        error(fmt::format("{}: weight '{}' is {}, but norm scales and biases must be f32", spec.where(), key,
                          name(t.dtype)));
        return {};
    }
    return t;
}

Status WeightBinder::status() const {
    if (errors_.empty()) return Ok();
    // A wrong file can miss every tensor of every layer: list enough to see the pattern.
    constexpr size_t kShown = 40;
    std::string all;
    for (size_t i = 0; i < errors_.size() && i < kShown; ++i) all += (all.empty() ? "" : "\n") + errors_[i];
    if (errors_.size() > kShown) all += fmt::format("\n... and {} more problems", errors_.size() - kShown);
    return Error::invalid("{}", all);
}

// ---- BindContext -------------------------------------------------------------------------------

double BindContext::number(const std::string& key, const std::string& fallback_expr) {
    Result<arch::Expr> e = spec.has(key) ? spec.expr(key) : arch::Expr::parse(fallback_expr);
    if (!spec.has(key)) (void)spec.expr(key, 0);  // marks the key as known
    if (!e.ok()) return record(e.error()), 0.0;
    auto v = e->eval_number(scope);
    if (!v.ok()) {
        const std::string layer_text = layer >= 0 ? fmt::format(" (layer {})", layer) : "";
        weights.error(fmt::format("{}: option '{}'{}: {}", spec.where(), key, layer_text, v.error().message()));
        return 0.0;
    }
    return *v;
}

int64_t BindContext::integer(const std::string& key, const std::string& fallback_expr) {
    const double v = number(key, fallback_expr);
    if (v != double(int64_t(v))) {
        weights.error(fmt::format("{}: option '{}' must be a whole number, got {}", spec.where(), key, v));
        return 0;
    }
    return int64_t(v);
}

std::string BindContext::word(const std::string& key, const std::vector<std::string>& allowed,
                              const std::string& fallback) {
    auto w = spec.word(key, allowed, fallback);
    if (w.ok()) return *w;
    // Not one of the words: an expression that gives one (chosen from metadata, or per layer), if it parses.
    auto e = spec.expr(key);
    if (!e.ok()) return record(w.error()), fallback;
    auto v = e->eval(scope);
    if (!v.ok()) {
        // A single misspelt word reads as a name: its error (with a suggestion) says more than "unknown name".
        const std::string& t = e->text();
        const bool one_word =
            std::all_of(t.begin(), t.end(), [](char ch) { return std::isalnum(uint8_t(ch)) || ch == '_'; });
        record(one_word ? w.error() : v.error().with_context(spec.where() + ": " + key));
        return fallback;
    }
    if (v->kind == arch::Value::Kind::string && std::find(allowed.begin(), allowed.end(), v->str) != allowed.end())
        return v->str;
    std::string all;
    for (const auto& a : allowed) all += (all.empty() ? "" : ", ") + a;
    weights.error(
        fmt::format("{}: '{}' = '{}' gives {}, not one of: {}", spec.where(), key, e->text(), v->to_string(), all));
    return fallback;
}

bool BindContext::flag(const std::string& key, bool fallback) {
    auto f = spec.flag(key, fallback);
    if (!f.ok()) return record(f.error()), fallback;
    return *f;
}

}  // namespace loom::blocks
