// The diagram's data: a block's keys split into weights and options by what their values are (a tensor name has
// a dot, which no expression has), then, with a model, every layer's bound tensors, option values and memory.
#include "diagram/diagram.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <set>

#include "arch/params.h"
#include "exec/memory.h"
#include "formats/gguf_reader.h"
#include "runtime/model.h"

namespace loom::diagram {
namespace {

using arch::Node;

// A GGUF tensor name as arch files write them: a letter first, then letters, digits, '_', '.', `{layer}` and an
// optional trailing '?', with at least one dot. Expressions cannot contain a dot outside a number, and numbers do
// not start with a letter, so an option is never taken for a weight.
bool tensor_name(const std::string& s) {
    if (s.empty() || !std::isalpha(static_cast<unsigned char>(s[0]))) return false;
    bool dot = false;
    for (char c : s) {
        const bool ok =
            std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '{' || c == '}' || c == '?';
        if (!ok) return false;
        dot = dot || c == '.';
    }
    return dot;
}

bool weight_node(const Node& n) {
    switch (n.kind) {
        case Node::Kind::string: return tensor_name(n.str);
        case Node::Kind::array:
            return !n.items.empty() && std::all_of(n.items.begin(), n.items.end(), [](const Node& i) {
                return i.kind == Node::Kind::string && tensor_name(i.str);
            });
        case Node::Kind::table: {
            auto it = n.fields.find("name");
            return it != n.fields.end() && weight_node(it->second);
        }
        default: return false;
    }
}

std::string number_text(double v) { return fmt::format("{}", v); }

// A non-weight value as the file writes it.
std::string value_text(const Node& n) {
    switch (n.kind) {
        case Node::Kind::string: return n.str;
        case Node::Kind::number: return number_text(n.num);
        case Node::Kind::boolean: return n.num != 0 ? "true" : "false";
        case Node::Kind::array: {
            std::string s = "[";
            for (size_t i = 0; i < n.items.size(); ++i) s += (i ? ", " : "") + value_text(n.items[i]);
            return s + "]";
        }
        case Node::Kind::table: {
            std::string s = "{ ";
            for (const auto& [k, v] : n.fields) s += k + " = " + value_text(v) + " ";
            return s + "}";
        }
    }
    return "";
}

// Splits one block's table into weights and options; nested tables (rope = { ... }) give "rope.base" and so on.
void collect(const arch::BlockSpec& spec, const Node& table, const std::string& prefix, BlockInfo& b) {
    for (const auto& [key, value] : table.fields) {
        if (prefix.empty() && key == "kind") continue;
        const std::string full = prefix + key;
        if (weight_node(value)) {
            WeightInfo w;
            w.key = full;
            auto ref = spec.weight(key);
            if (ref.ok()) {
                for (const std::string& n : ref->names) w.name += (w.name.empty() ? "" : " | ") + n;
                w.optional = ref->optional;
                if (ref->cond) w.cond = ref->cond->text();
            } else {
                w.name = value_text(value);
            }
            b.weights.push_back(std::move(w));
        } else if (value.kind == Node::Kind::table) {
            auto nested = spec.table(key);
            if (nested.ok()) collect(*nested, value, full + ".", b);
        } else {
            b.options.push_back({full, value_text(value), {}, value.kind != Node::Kind::string});
        }
    }
}

void add_unique(std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

std::string shape_text(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// The chains a diagram draws, in drawing order (to_dot walks them the same way), with whether each is a layer's.
void for_each_chain(const arch::ArchFile& a, const std::function<void(const arch::Chain&, bool layer)>& fn) {
    fn(a.input, false);
    for (const arch::SideInput& s : a.side) fn(s.chain, false);
    for (const arch::LayerStep& s : a.steps) fn(s.chain, true);
    fn(a.output, false);
}

// Every choice of a chain, depth first, in drawing order.
void for_each_choice(const arch::Chain& chain, const std::function<void(const arch::ChainItem&)>& fn) {
    for (const arch::ChainItem& item : chain) {
        if (item.cond) {
            fn(item);
            for_each_choice(item.then, fn);
            for_each_choice(item.otherwise, fn);
        }
        for (const arch::Chain& branch : item.sum) for_each_choice(branch, fn);
    }
}

// The block's keys that evaluate to values in a scope (options), and the tensors it binds there (weights).
struct Binder {
    const runtime::Model& model;
    std::map<std::string, std::set<std::string>> tensors;  // block → distinct tensors it bound
    std::map<int64_t, std::set<std::string>> layer_tensors;

    void bind(BlockInfo& b, const arch::Scope& scope, int64_t layer) {
        const arch::BlockSpec& spec = model.arch().blocks.at(b.name);
        for (OptionInfo& o : b.options) {
            if (o.constant) continue;
            auto e = arch::Expr::parse(o.text);
            if (!e.ok()) continue;
            auto v = e->eval(scope);  // words (activation = "gelu_tanh") are not values: they keep their text
            if (v.ok()) add_unique(o.values, v->to_string());
        }
        for (WeightInfo& w : b.weights) {
            auto ref = nested_weight(spec, w.key);
            if (!ref.ok()) continue;
            if (ref->cond) {
                auto c = ref->cond->eval(scope);
                if (!c.ok() || !c->truthy()) continue;
            }
            for (const std::string& name : ref->names) {
                const std::string n = arch::with_layer(name, std::max<int64_t>(layer, 0));
                const formats::TensorInfo* t = model.file().tensor(n);
                if (t == nullptr) continue;
                add_unique(w.variants, fmt::format("{} {}", shape_text(t->shape), t->type));
                if (tensors[b.name].insert(n).second) w.n_params += t->n_elements();
                if (layer >= 0) layer_tensors[layer].insert(n);
                break;
            }
        }
    }

    // The weight ref of a possibly nested key ("rope.freq_factors").
    static Result<arch::WeightRef> nested_weight(const arch::BlockSpec& spec, const std::string& key) {
        const size_t dot = key.find('.');
        if (dot == std::string::npos) return spec.weight(key);
        LOOM_TRY(arch::BlockSpec inner, spec.table(key.substr(0, dot)));
        return nested_weight(inner, key.substr(dot + 1));
    }
};

}  // namespace

const BlockInfo* Diagram::block(const std::string& name) const {
    for (const BlockInfo& b : blocks)
        if (b.name == name) return &b;
    return nullptr;
}

Diagram from_arch(const arch::ArchFile& a) {
    Diagram d;
    d.title = a.name;
    d.source = a.path;
    d.arch = a;
    for (const auto& [name, spec] : a.blocks) {
        BlockInfo b;
        b.name = name;
        b.kind = spec.kind();
        b.line = spec.line();
        collect(spec, spec.table(), "", b);
        for (const OptionInfo& o : b.options)
            for (const arch::SideInput& s : a.side)
                if (o.text == s.name) add_unique(b.reads, s.name);
        d.blocks.push_back(std::move(b));
    }
    std::sort(d.blocks.begin(), d.blocks.end(), [](const BlockInfo& x, const BlockInfo& y) { return x.line < y.line; });
    d.layer_count = a.layer_count.text();
    for (const arch::LetSpec& l : a.lets) d.lets.emplace_back(l.name, l.expr.text());
    return d;
}

Result<Diagram> from_model(const runtime::Model& model, const std::string& source) {
    Diagram d = from_arch(model.arch());
    d.source = source;
    d.with_model = true;
    const formats::GgufFile& f = model.file();
    if (auto name = f.get_string("general.name"); name.ok()) d.title += " · " + std::string(*name);
    const int64_t n_layer = model.n_layer();
    d.layer_count = std::to_string(n_layer);
    d.n_params = model.n_params();
    d.weight_bytes = model.weight_bytes();

    Binder binder{model, {}, {}};
    std::map<std::string, BlockInfo*> by_name;
    for (BlockInfo& b : d.blocks) by_name[b.name] = &b;
    auto bind_chain = [&](const runtime::BlockChain& chain, const arch::Scope& scope, int64_t layer) {
        runtime::for_each_block(chain, [&](const blocks::Block& blk) {
            BlockInfo* b = by_name.at(blk.name());
            b->n_layers += 1;
            binder.bind(*b, scope, layer);
        });
    };
    bind_chain(model.input(), model.params(), -1);
    for (const runtime::SideInput& s : model.side_inputs()) bind_chain(s.chain, model.params(), -1);
    bind_chain(model.output(), model.params(), -1);

    const std::vector<exec::MemorySpec> memory = model.memory_layout();
    std::vector<arch::LayerScope> scopes;
    for (int64_t l = 0; l < n_layer; ++l) {
        LOOM_TRY(arch::LayerScope scope, arch::LayerScope::make(model.arch(), model.params(), l));
        LayerInfo info;
        info.index = l;
        for (const runtime::LayerStep& step : model.layers()[size_t(l)].steps) {
            bind_chain(step.chain, scope, l);
            runtime::for_each_block(step.chain, [&](const blocks::Block& blk) {
                if (by_name.at(blk.name())->kind == "moe") info.moe = true;
            });
        }
        const exec::MemorySpec& m = memory[size_t(l)];
        switch (m.kind) {
            case exec::MemoryKind::kv:
            case exec::MemoryKind::kv_k_only: info.attention = true; break;
            case exec::MemoryKind::shared:
                info.attention = true;
                info.kv_source = m.source_layer;
                break;
            case exec::MemoryKind::recurrent: info.recurrent = true; break;
            case exec::MemoryKind::none: break;
        }
        info.window = m.window;
        for (const std::string& t : binder.layer_tensors[l])
            if (const formats::TensorInfo* ti = f.tensor(t)) info.n_params += ti->n_elements();
        d.layers.push_back(info);
        scopes.push_back(std::move(scope));
    }
    for (BlockInfo& b : d.blocks)
        for (const WeightInfo& w : b.weights) b.n_params += w.n_params;

    // How many layers (or, outside the layers, whether the model) take each choice's `then`.
    for_each_chain(model.arch(), [&](const arch::Chain& chain, bool layer) {
        for_each_choice(chain, [&](const arch::ChainItem& item) {
            int64_t n = 0;
            if (layer) {
                for (const arch::LayerScope& s : scopes)
                    if (auto v = item.cond->eval(s); v.ok() && v->truthy()) ++n;
            } else if (auto v = item.cond->eval(model.params()); v.ok() && v->truthy()) {
                n = 1;
            }
            d.choice_then.emplace_back(item.line, n);
        });
    });
    return d;
}

Result<Diagram> from_path(const std::string& path) {
    std::FILE* fp = std::fopen(path.c_str(), "rb");
    if (fp == nullptr) return Error::not_found("{}: cannot open the file (no such file, or not readable)", path);
    char magic[4] = {};
    const size_t got = std::fread(magic, 1, 4, fp);
    std::fclose(fp);
    if (got == 4 && std::string(magic, 4) == "GGUF") {
        runtime::LoadOptions opt;
        opt.pack = false;  // the diagram reads shapes and types, never runs the model
        LOOM_TRY(std::unique_ptr<runtime::Model> model, runtime::Model::load(path, opt));
        return from_model(*model, path);
    }
    auto a = arch::ArchFile::load(path);
    if (!a.ok())
        return Error::invalid("{}: neither a GGUF model (no 'GGUF' magic) nor an architecture file: {}", path,
                              a.error().message());
    return from_arch(*a);
}

}  // namespace loom::diagram
