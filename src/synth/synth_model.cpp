// Spec parsing (toml++), deterministic weights, per-tensor type choice, quantization and writing.
#include "synth/synth_model.h"

#include <toml++/toml.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "core/dtype.h"
#include "core/glob.h"
#include "core/thread_pool.h"
#include "formats/gguf_writer.h"
#include "kernels/ref/quant.h"
#include "tokenizer/synth_vocab.h"

namespace loom::synth {
namespace {

using formats::GgufValue;

// splitmix64: a tiny, good-enough generator whose streams are cheap to derive from (seed, name, row).
uint64_t mix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}
uint64_t hash_name(std::string_view s) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (char c : s) h = (h ^ uint8_t(c)) * 1099511628211ull;
    return h;
}

// Approximately normal values (sum of 4 uniforms, variance-corrected): fast and deterministic.
void fill_normal(float* out, int64_t n, uint64_t stream, float std_dev) {
    uint64_t s = stream;
    // Each term is uniform on [-2^15, 2^15): variance 2^32/12, so the sum of 4 has std 2^16/sqrt(3).
    const float k = std_dev * std::sqrt(3.0f) / 65536.0f;
    for (int64_t i = 0; i < n; ++i) {
        int32_t acc = 0;
        s = mix(s);
        for (int j = 0; j < 4; ++j) acc += int32_t((s >> (16 * j)) & 0xffff) - 0x8000;
        out[i] = float(acc) * k;
    }
}

std::string where(const std::string& path, const toml::node& n) {
    return fmt::format("{}:{}", path, n.source().begin.line);
}

Result<GgufValue> to_gguf_value(const std::string& path, const std::string& key, const toml::node& n) {
    if (auto v = n.as_string()) return GgufValue(v->get());
    if (auto v = n.as_boolean()) return GgufValue(v->get());
    if (auto v = n.as_floating_point()) return GgufValue(float(v->get()));
    if (auto v = n.as_integer()) {
        const int64_t x = v->get();
        if (x >= 0 && x <= int64_t(UINT32_MAX)) return GgufValue(uint32_t(x));
        if (x < 0 && x >= INT32_MIN) return GgufValue(int32_t(x));
        return GgufValue(x);
    }
    if (auto arr = n.as_array()) {
        if (arr->empty()) return GgufValue(std::vector<int32_t>{});
        if (arr->is_homogeneous<std::string>()) {
            std::vector<std::string> out;
            for (auto& e : *arr) out.push_back(e.as_string()->get());
            return GgufValue(std::move(out));
        }
        if (arr->is_homogeneous<int64_t>()) {
            std::vector<int32_t> out;
            for (auto& e : *arr) out.push_back(int32_t(e.as_integer()->get()));
            return GgufValue(std::move(out));
        }
        if (arr->is_homogeneous<double>()) {
            std::vector<float> out;
            for (auto& e : *arr) out.push_back(float(e.as_floating_point()->get()));
            return GgufValue(std::move(out));
        }
        if (arr->is_homogeneous<bool>()) {
            std::vector<bool> out;
            for (auto& e : *arr) out.push_back(e.as_boolean()->get());
            return GgufValue(std::move(out));
        }
    }
    if (auto t = n.as_table()) {
        // Explicit type: { type = "u64", value = 5 }
        auto type = (*t)["type"].value<std::string>();
        auto value = (*t)["value"].value<int64_t>();
        if (type && value) {
            if (*type == "u8") return GgufValue(uint8_t(*value));
            if (*type == "i8") return GgufValue(int8_t(*value));
            if (*type == "u16") return GgufValue(uint16_t(*value));
            if (*type == "i16") return GgufValue(int16_t(*value));
            if (*type == "u32") return GgufValue(uint32_t(*value));
            if (*type == "i32") return GgufValue(int32_t(*value));
            if (*type == "u64") return GgufValue(uint64_t(*value));
            if (*type == "i64") return GgufValue(int64_t(*value));
        }
    }
    return Error::invalid(
        "{}: metadata '{}': unsupported value (use a string, bool, number, homogeneous array, "
        "or {{ type = \"u64\", value = N }})",
        where(path, n), key);
}

struct Rule {
    std::string match;
    std::vector<int64_t> layers;  // empty = any
    DType type;
};

struct TensorSpec {
    std::string name;  // expanded
    int64_t layer = -1;
    std::vector<int64_t> shape;
    std::string init = "normal";
    float std_dev = 0.02f;
    float mean = 0.0f;          // "normal" only: e.g. norm weights spread around 1
    std::vector<float> values;  // "values": every row is these
    std::optional<DType> type;  // the tensor's own type, over --type and presets
};

std::string expand(std::string name, int64_t layer) {
    const std::string key = "{layer}";
    for (size_t at; (at = name.find(key)) != std::string::npos;) name.replace(at, key.size(), std::to_string(layer));
    return name;
}

DType fallback_for_row(DType want, int64_t row) {
    if (row % info(want).block_elems == 0) return want;
    if (row % 32 == 0) return DType::q8_0;
    return DType::f16;
}

}  // namespace

Result<SynthReport> synthesize(const SynthOptions& opt) {
    // Debian's toml++ is built with exceptions: parse errors are caught here and become an Error.
    toml::table spec;
    try {
        spec = toml::parse_file(opt.spec_path);
    } catch (const toml::parse_error& e) {
        return Error::invalid("{}:{}: {}", opt.spec_path, e.source().begin.line, e.description());
    }
    formats::GgufWriter w;

    if (auto meta = spec["metadata"].as_table()) {
        for (auto& [k, v] : *meta) {
            LOOM_TRY(GgufValue value, to_gguf_value(opt.spec_path, std::string(k.str()), v));
            w.set(std::string(k.str()), std::move(value));
        }
    }
    if (auto vocab = spec["vocab"].as_table()) {
        const int64_t size = (*vocab)["size"].value_or<int64_t>(0);
        if (size < 3 || size > (int64_t(1) << 22))
            return Error::invalid("{}: vocab.size {} outside [3, 4194304]", where(opt.spec_path, *vocab), size);
        auto model = (*vocab)["model"].value<std::string>();  // tokenizer.ggml.model, e.g. SentencePiece's
        if (!model) return Error::invalid("{}: vocab.model is required", where(opt.spec_path, *vocab));
        if (Status st = tokenizer::add_vocab(w, *model, size); !st.ok())
            return Error::invalid("{}: vocab: {}", where(opt.spec_path, *vocab), st.error().message());
    }
    const int64_t n_layers = spec["layers"]["count"].value_or<int64_t>(0);

    // Tensor list, with "{layer}" names repeated over the layers.
    std::vector<TensorSpec> tensors;
    const toml::array* list = spec["tensor"].as_array();
    if (!list) return Error::invalid("{}: no [[tensor]] entries", opt.spec_path);
    for (const toml::node& node : *list) {
        const toml::table* t = node.as_table();
        if (!t) return Error::invalid("{}: [[tensor]] must be a table", where(opt.spec_path, node));
        auto name = (*t)["name"].value<std::string>();
        const toml::array* shape = (*t)["shape"].as_array();
        if (!name || !shape || shape->empty() || shape->size() > 4)
            return Error::invalid("{}: [[tensor]] needs name and a shape of 1..4 dims", where(opt.spec_path, node));
        TensorSpec ts;
        for (auto& d : *shape) {
            const int64_t v = d.value_or<int64_t>(0);
            if (v <= 0)
                return Error::invalid("{}: tensor '{}': dims must be positive", where(opt.spec_path, node), *name);
            ts.shape.push_back(v);
        }
        ts.init = (*t)["init"].value_or<std::string>("normal");
        if (ts.init != "normal" && ts.init != "ones" && ts.init != "values")
            return Error::invalid("{}: tensor '{}': init '{}' (expected normal, ones or values)",
                                  where(opt.spec_path, node), *name, ts.init);
        if (ts.init == "values") {  // values = [...], one row's worth (every row gets them)
            const toml::array* vs = (*t)["values"].as_array();
            if (vs)
                for (const toml::node& v : *vs)
                    if (auto x = v.value<double>()) ts.values.push_back(float(*x));
            if (!vs || int64_t(ts.values.size()) != ts.shape.back() || int64_t(ts.values.size()) != int64_t(vs->size()))
                return Error::invalid("{}: tensor '{}': init = \"values\" needs values = [...], {} numbers (a row)",
                                      where(opt.spec_path, node), *name, ts.shape.back());
        }
        ts.std_dev = float((*t)["std"].value_or<double>(0.02));
        ts.mean = float((*t)["mean"].value_or<double>(0.0));
        if (auto type = (*t)["type"].value<std::string>()) {
            ts.type = dtype_from_name(*type);
            if (!ts.type || !kernels::ref::can_quantize(*ts.type))
                return Error::invalid("{}: tensor '{}': type '{}' is not one loom can write",
                                      where(opt.spec_path, node), *name, *type);
        }
        // `layers = [...]`: the layers that have this tensor (default: every layer), e.g. experts only after
        // the leading dense layers.
        std::vector<int64_t> only;
        if (const toml::node* ls = t->get("layers")) {
            const toml::array* arr = ls->as_array();
            if (!arr)
                return Error::invalid("{}: tensor '{}': layers must be an array of layer indices",
                                      where(opt.spec_path, *ls), *name);
            for (const toml::node& l : *arr) {
                const int64_t v = l.value_or<int64_t>(-1);
                if (v < 0 || v >= n_layers)
                    return Error::invalid("{}: tensor '{}': layer {} outside [0, {})", where(opt.spec_path, l), *name,
                                          l.value_or<int64_t>(-1), n_layers);
                only.push_back(v);
            }
        }
        if (name->find("{layer}") == std::string::npos) {
            if (!only.empty())
                return Error::invalid("{}: tensor '{}': layers needs a name with {{layer}}", where(opt.spec_path, node),
                                      *name);
            ts.name = *name;
            tensors.push_back(ts);
        } else {
            for (int64_t l = 0; l < n_layers; ++l) {
                if (!only.empty() && std::find(only.begin(), only.end(), l) == only.end()) continue;
                ts.name = expand(*name, l);
                ts.layer = l;
                tensors.push_back(ts);
            }
        }
    }

    // Type choice: a plain dtype for every tensor of rank >= 2, or a preset's rules (first match wins).
    std::vector<Rule> rules;
    DType default_type;
    if (auto t = dtype_from_name(opt.type)) {
        default_type = *t;
    } else {
        const toml::table* preset = spec["types"][opt.type].as_table();
        if (!preset)
            return Error::invalid("{}: --type '{}' is neither a dtype nor a preset in [types]", opt.spec_path,
                                  opt.type);
        auto def = dtype_from_name((*preset)["default"].value_or<std::string>(""));
        if (!def)
            return Error::invalid("{}: preset '{}' needs a valid default type", where(opt.spec_path, *preset),
                                  opt.type);
        default_type = *def;
        if (const toml::array* rs = (*preset)["rules"].as_array()) {
            for (const toml::node& rn : *rs) {
                const toml::table* r = rn.as_table();
                auto match = r ? (*r)["match"].value<std::string>() : std::nullopt;
                auto type = r ? dtype_from_name((*r)["type"].value_or<std::string>("")) : std::nullopt;
                if (!match || !type)
                    return Error::invalid("{}: a rule needs match and a valid type", where(opt.spec_path, rn));
                Rule rule{*match, {}, *type};
                if (const toml::array* ls = (*r)["layers"].as_array())
                    for (auto& l : *ls) rule.layers.push_back(l.value_or<int64_t>(-1));
                rules.push_back(std::move(rule));
            }
        }
    }
    for (DType t : {default_type}) {
        if (!kernels::ref::can_quantize(t))
            return Error::unsupported("{}: loom cannot write type {} (no quantizer)", opt.spec_path, name(t));
    }
    for (const Rule& r : rules)
        if (!kernels::ref::can_quantize(r.type))
            return Error::unsupported("{}: rule '{}': loom cannot write type {}", opt.spec_path, r.match, name(r.type));

    ThreadPool pool(opt.n_threads > 0 ? opt.n_threads : usable_cpus());
    SynthReport report;
    for (const TensorSpec& ts : tensors) {
        DType type = DType::f32;
        if (ts.shape.size() >= 2) {
            type = default_type;
            for (const Rule& r : rules) {
                if (!glob_match(r.match, ts.name)) continue;
                if (!r.layers.empty() && std::find(r.layers.begin(), r.layers.end(), ts.layer) == r.layers.end())
                    continue;
                type = r.type;
                break;
            }
        }
        if (ts.type) type = *ts.type;
        const int64_t row = ts.shape.back();
        type = fallback_for_row(type, row);
        int64_t rows = 1;
        for (size_t k = 0; k + 1 < ts.shape.size(); ++k) rows *= ts.shape[k];
        const int64_t rb = row_bytes(type, row);
        std::vector<uint8_t> data(size_t(rows * rb));
        const uint64_t stream = mix(opt.seed ^ hash_name(ts.name));
        std::vector<std::vector<float>> scratch(size_t(pool.size()), std::vector<float>(size_t(row)));
        std::atomic<bool> failed{false};
        pool.parallel_for(rows, 1, [&](int64_t b, int64_t e, int thread) {
            float* x = scratch[size_t(thread)].data();
            for (int64_t r = b; r < e; ++r) {
                if (ts.init == "ones") {
                    std::fill(x, x + row, 1.0f);
                } else if (ts.init == "values") {
                    std::copy(ts.values.begin(), ts.values.end(), x);
                } else {
                    fill_normal(x, row, mix(stream + uint64_t(r)), ts.std_dev);
                    if (ts.mean != 0.0f)
                        for (int64_t i = 0; i < row; ++i) x[i] += ts.mean;
                }
                if (!kernels::ref::quantize_row(type, x, data.data() + r * rb, row).ok()) failed = true;
            }
        });
        if (failed) return Error::make(ErrorCode::internal, "quantizing '{}' as {} failed", ts.name, name(type));
        report.n_params += rows * row;
        ++report.n_tensors;
        w.add_tensor(ts.name, type, ts.shape, std::move(data));
    }
    LOOM_RETURN_IF_ERROR(w.write(opt.out_path));
    report.bytes = 0;
    if (FILE* f = std::fopen(opt.out_path.c_str(), "rb")) {
        std::fseek(f, 0, SEEK_END);
        report.bytes = std::ftell(f);
        std::fclose(f);
    }
    return report;
}

}  // namespace loom::synth
