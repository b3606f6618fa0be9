// Binding of [params] (metadata keys, defaults, derived values; dependencies resolved on demand with
// cycle detection), [[check]]s, and the per-layer scope.
#include "arch/params.h"

#include <fmt/format.h>

#include <cstring>
#include <set>

#include "formats/gguf_reader.h"

namespace loom::arch {
namespace {

using formats::GgufType;

double read_scalar(GgufType t, const uint8_t* p) {
    auto get = [p]<typename T>(T) {
        T v;
        std::memcpy(&v, p, sizeof(T));
        return double(v);
    };
    switch (t) {
        case GgufType::u8: return get(uint8_t{});
        case GgufType::i8: return get(int8_t{});
        case GgufType::u16: return get(uint16_t{});
        case GgufType::i16: return get(int16_t{});
        case GgufType::u32: return get(uint32_t{});
        case GgufType::i32: return get(int32_t{});
        case GgufType::f32: return get(float{});
        case GgufType::u64: return get(uint64_t{});
        case GgufType::i64: return get(int64_t{});
        case GgufType::f64: return get(double{});
        case GgufType::boolean: return p[0] != 0 ? 1.0 : 0.0;
        default: return 0;
    }
}

Result<Value> tensor_function(const formats::GgufFile& file, std::string_view fn, std::span<const Value> args,
                              int64_t layer) {
    if (fn != "has" && fn != "shape")
        return Error::not_found(
            "unknown function '{}' (known: has, shape, sqrt, log, exp, floor, ceil, abs, min, max, at, len, sum, f32)",
            fn);
    const size_t want = fn == "has" ? 1 : 2;
    if (args.size() != want || args[0].kind != Value::Kind::string)
        return Error::invalid("{}() takes {}", fn, fn == "has" ? "('tensor name')" : "('tensor name', dim)");
    std::string name = args[0].str;
    if (name.find("{layer}") != std::string::npos) {
        if (layer < 0) return Error::invalid("{}('{}'): {{layer}} outside a layer", fn, name);
        name = with_layer(name, layer);
    }
    const formats::TensorInfo* t = file.tensor(name);
    if (fn == "has") return Value::number(t != nullptr);
    if (!t) return Error::not_found("shape('{}'): no such tensor in the file", name);
    if (!args[1].is_number()) return Error::invalid("shape(): dim must be a number");
    const double d = args[1].num;
    if (d < 0 || d >= double(t->shape.size()) || d != double(int64_t(d)))
        return Error::invalid("shape('{}', {}): the tensor has {} dims", name, d, t->shape.size());
    return Value::number(double(t->shape[size_t(d)]));
}

// Evaluates parameters in dependency order, whatever the file order.
class Binder : public Scope {
public:
    Binder(const ArchFile& a, const formats::GgufFile& f) : arch_(a), file_(f) {
        for (const ParamSpec& p : a.params) specs_[p.name] = &p;
    }

    Result<Value> lookup(std::string_view name) const override {
        const std::string key(name);
        if (auto it = values_.find(key); it != values_.end()) return it->second;
        auto spec = specs_.find(key);
        if (spec == specs_.end()) return Error::not_found("unknown parameter '{}'", name);
        if (busy_.count(key)) return Error::invalid("parameter '{}' depends on itself", name);
        busy_.insert(key);
        auto v = evaluate(*spec->second);
        busy_.erase(key);
        if (!v.ok()) return v;
        values_[key] = v.value();
        return v;
    }
    Result<Value> call(std::string_view fn, std::span<const Value> args) const override {
        return tensor_function(file_, fn, args, -1);
    }

    std::map<std::string, Value> take() { return std::move(values_); }

private:
    Result<Value> evaluate(const ParamSpec& p) const {
        const std::string where = fmt::format("{}:{}: param '{}'", arch_.path, p.line, p.name);
        if (p.value) {
            auto v = p.value->eval(*this);
            if (!v.ok()) return std::move(v).error().with_context(where);
            return v;
        }
        for (const std::string& key : p.keys) {
            if (!file_.has(key)) continue;
            auto v = metadata_value(file_, key);
            if (!v.ok()) return std::move(v).error().with_context(where);
            return v;
        }
        if (p.fallback) {
            auto v = p.fallback->eval(*this);
            if (!v.ok()) return std::move(v).error().with_context(where + ": default");
            return v;
        }
        std::string keys;
        for (const auto& k : p.keys) keys += (keys.empty() ? "'" : " or '") + k + "'";
        return Error::not_found("{}: {}: required metadata key {} is missing", file_.source(), where, keys);
    }

    const ArchFile& arch_;
    const formats::GgufFile& file_;
    std::map<std::string, const ParamSpec*> specs_;
    mutable std::map<std::string, Value> values_;
    mutable std::set<std::string> busy_;
};

}  // namespace

std::string with_layer(std::string name, int64_t layer) {
    const std::string n = std::to_string(layer);
    for (size_t p; (p = name.find("{layer}")) != std::string::npos;) name.replace(p, 7, n);
    return name;
}

Result<Value> metadata_value(const formats::GgufFile& file, std::string_view key) {
    const formats::MetaEntry* e = file.find(key);
    if (!e) return Error::not_found("metadata key '{}' is missing", key);
    if (e->type == GgufType::string) return Value::string(std::string(e->str));
    if (e->type != GgufType::array) {
        const double v = read_scalar(e->type, e->data);
        if ((e->type == GgufType::u64 || e->type == GgufType::i64) && std::fabs(v) > 9.0e15)
            return Error::invalid("metadata '{}': {} is too large for a hyperparameter", key, v);
        return Value::number(v);
    }
    if (e->elem_type == GgufType::string || e->elem_type == GgufType::array)
        return Error::unsupported("metadata '{}': an array of {} is not a hyperparameter", key,
                                  formats::name(e->elem_type));
    std::vector<double> arr(e->count);
    const size_t step = formats::scalar_size(e->elem_type);
    for (uint64_t i = 0; i < e->count; ++i) arr[i] = read_scalar(e->elem_type, e->data + i * step);
    return Value::array(std::move(arr));
}

Result<Params> Params::bind(const ArchFile& arch, const formats::GgufFile& file) {
    Binder b(arch, file);
    std::string errors;
    for (const ParamSpec& p : arch.params) {
        auto v = b.lookup(p.name);
        if (!v.ok()) errors += (errors.empty() ? "" : "\n") + v.error().message();
    }
    if (!errors.empty()) return Error::invalid("{}", errors);
    Params out;
    out.file_ = &file;
    out.values_ = b.take();
    // Every failing check is reported, one per line: a file with several inconsistent keys is fixed in one go.
    for (const CheckSpec& c : arch.checks) {
        auto v = c.expr.eval(out);
        std::string problem;
        if (!v.ok()) {
            problem = v.error().with_context(fmt::format("{}:{}: check", arch.path, c.line)).message();
        } else if (!v->is_number() || v->num == 0) {
            std::string vals;
            for (const std::string& n : c.expr.names())
                if (auto x = out.values_.find(n); x != out.values_.end())
                    vals += fmt::format("{}{} = {}", vals.empty() ? "" : ", ", n, x->second.to_string());
            problem = fmt::format("{}: {}:{}: {} ('{}' fails with {})", file.source(), arch.path, c.line, c.message,
                                  c.expr.text(), vals);
        }
        if (!problem.empty()) errors += (errors.empty() ? "" : "\n") + problem;
    }
    if (!errors.empty()) return Error::invalid("{}", errors);
    return out;
}

Result<Value> Params::lookup(std::string_view name) const {
    if (auto it = values_.find(std::string(name)); it != values_.end()) return it->second;
    if (name == "layer") return Error::invalid("'layer' is only defined inside [layer] and block options");
    return Error::not_found("unknown parameter '{}'", name);
}

Result<Value> Params::call(std::string_view fn, std::span<const Value> args) const {
    return tensor_function(*file_, fn, args, -1);
}

int64_t Params::integer(const std::string& name) const {
    auto it = values_.find(name);
    LOOM_ASSERT(it != values_.end() && it->second.is_number(), "parameter '{}' is not a bound number", name);
    return int64_t(it->second.num);
}

Result<LayerScope> LayerScope::make(const ArchFile& arch, const Params& params, int64_t layer) {
    LayerScope s(params, layer);
    for (const LetSpec& let : arch.lets) {
        auto v = let.expr.eval(s);  // a let may read earlier lets
        if (!v.ok())
            return std::move(v).error().with_context(
                fmt::format("{}:{}: layer {}: let '{}'", arch.path, let.line, layer, let.name));
        s.lets_[let.name] = std::move(v).value();
    }
    return s;
}

Result<Value> LayerScope::lookup(std::string_view name) const {
    if (name == "layer") return Value::number(double(layer_));
    if (auto it = lets_.find(std::string(name)); it != lets_.end()) return it->second;
    return params_->lookup(name);
}

Result<Value> LayerScope::call(std::string_view fn, std::span<const Value> args) const {
    return tensor_function(params_->file(), fn, args, layer_);
}

}  // namespace loom::arch
