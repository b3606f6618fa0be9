// Diagram → Graphviz DOT. Graphviz places everything; this file only says what is connected to what, which
// nodes share a cluster, and what each label reads. Labels are HTML-like (tables of text), escaped here.
#include <fmt/format.h>

#include <map>

#include "diagram/diagram.h"
#include "tokenizer/jinja/py_ops.h"

namespace loom::diagram {
namespace {

constexpr size_t kMaxText = 72;        // longer expressions are cut, with an ellipsis
constexpr int64_t kStripColumns = 16;  // layers per row of the strip

// Text inside HTML-like labels: the same escaping as HTML's (numeric forms for quotes are fine for Graphviz).
std::string esc(const std::string& s) { return tokenizer::jinja::py::html_escape(s); }

std::string cut(const std::string& s) {
    if (s.size() <= kMaxText) return s;
    size_t n = kMaxText;
    while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;  // not inside a UTF-8 sequence
    return s.substr(0, n) + "…";
}

std::string join(const std::vector<std::string>& v, const std::string& sep) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? sep : "") + v[i];
    return s;
}

// 1234567 → "1.23M".
std::string count(int64_t n) {
    if (n >= 1'000'000'000) return fmt::format("{:.2f}B", double(n) / 1e9);
    if (n >= 1'000'000) return fmt::format("{:.2f}M", double(n) / 1e6);
    if (n >= 1'000) return fmt::format("{:.1f}K", double(n) / 1e3);
    return std::to_string(n);
}

// A pale fill per block kind, from a hash of its name: stable across runs and builds, and no kind is listed here.
std::string kind_color(const std::string& kind) {
    static const char* const kPalette[] = {"#dbeafe", "#fde68a", "#d1fae5", "#fce7f3", "#ede9fe",
                                           "#fee2e2", "#e0f2fe", "#fef3c7", "#ecfccb", "#f3e8ff"};
    uint32_t h = 2166136261u;  // FNV-1a
    for (char c : kind) h = (h ^ static_cast<unsigned char>(c)) * 16777619u;
    return kPalette[h % (sizeof(kPalette) / sizeof(kPalette[0]))];
}

class Writer {
public:
    explicit Writer(const Diagram& d) : d_(d) {}

    std::string dot() {
        line("digraph loom {");
        ++depth_;
        line(
            fmt::format("graph [rankdir=TB, fontname=\"Helvetica\", fontsize=12, nodesep=0.3, ranksep=0.3, labelloc=t, "
                        "label=<{}>];",
                        title()));
        line(
            "node [shape=box, style=\"rounded,filled\", fillcolor=\"#ffffff\", fontname=\"Helvetica\", "
            "fontsize=10, margin=\"0.1,0.05\"];");
        line("edge [fontname=\"Helvetica\", fontsize=9, arrowsize=0.6, color=\"#555555\"];");
        const std::string tokens = node("shape=oval, style=filled, fillcolor=\"#f3f4f6\", label=\"token ids\"");

        open("cluster_input", "input");
        std::string h = chain(d_.arch.input, tokens, "");
        close();
        const std::string embedded = h;
        for (const arch::SideInput& s : d_.arch.side) {
            open("cluster_side_" + std::to_string(side_.size()), "side input " + s.name + " (once per pass)");
            const std::string end = chain(s.chain, embedded, "");
            const std::string out = node(fmt::format("shape=note, fillcolor=\"#fff7ed\", label=<{}>", esc(s.name)));
            edge(end, out, "");
            close();
            side_[s.name] = out;
        }

        std::string layers = "layer × " + d_.layer_count;
        if (!d_.with_model) layers += " (count = " + d_.layer_count + ")";
        open("cluster_layer", layers);
        h = step_input(h, "h");
        in_layer_ = true;
        for (size_t i = 0; i < d_.arch.steps.size(); ++i) h = step(d_.arch.steps[i], i, h);
        in_layer_ = false;
        close();

        open("cluster_output", "output");
        const std::string end = chain(d_.arch.output, h, "");
        close();
        const std::string logits = node("shape=oval, style=filled, fillcolor=\"#f3f4f6\", label=\"logits\"");
        edge(end, logits, "");
        const std::string strip_node = node("shape=plaintext, style=\"\", label=<" + strip() + ">");
        edge(logits, strip_node, "style=invis");
        --depth_;
        line("}");
        return out_;
    }

private:
    std::string title() const {
        std::string t = "<B>" + esc(d_.title) + "</B>";
        if (d_.with_model)
            t += fmt::format(" · {} layers · {} parameters · {:.1f} MiB of weights", d_.layers.size(),
                             count(d_.n_params), double(d_.weight_bytes) / (1 << 20));
        t += "<BR/><FONT POINT-SIZE=\"9\">" + esc(d_.source) + "</FONT>";
        return t;
    }

    void line(const std::string& s) { out_ += std::string(depth_ * 2, ' ') + s + "\n"; }
    std::string node(const std::string& attrs) {
        std::string id = "n" + std::to_string(next_++);
        line(id + " [" + attrs + "];");
        return id;
    }
    void edge(const std::string& a, const std::string& b, const std::string& attrs) {
        line(a + " -> " + b + (attrs.empty() ? "" : " [" + attrs + "]") + ";");
    }
    void open(const std::string& id, const std::string& label) {
        line("subgraph " + id + " {");
        ++depth_;
        line("label=<" + esc(label) + ">; style=\"rounded\"; color=\"#9ca3af\"; fontsize=10;");
    }
    void close() {
        --depth_;
        line("}");
    }
    std::string step_input(const std::string& from, const std::string& label) {
        std::string id = node(fmt::format("shape=oval, style=filled, fillcolor=\"#f3f4f6\", label=\"{}\"", label));
        edge(from, id, "");
        return id;
    }

    // One step: the chain, then h + chain(h) (residual) or chain(h) (replace).
    std::string step(const arch::LayerStep& s, size_t i, const std::string& h) {
        const bool replace = s.kind == arch::LayerStep::Kind::replace;
        open(fmt::format("cluster_step_{}", i),
             fmt::format("step {}: {}", i + 1, replace ? "replace, h = chain(h)" : "residual, h = h + chain(h)"));
        const std::string end = chain(s.chain, h, "");
        std::string out;
        if (replace) {
            out = node("shape=oval, style=filled, fillcolor=\"#f3f4f6\", label=\"h\"");
            edge(end, out, "label=\"replace\"");
        } else {
            out = node("shape=circle, width=0.3, fixedsize=true, fillcolor=\"#ffffff\", label=\"+\"");
            edge(end, out, "");
            edge(h, out, "style=dashed, label=\"residual\"");
        }
        close();
        return out;
    }

    // Draws a chain read from `in`; returns the node its output leaves from. `label` goes on its first edge.
    std::string chain(const arch::Chain& c, const std::string& in, const std::string& label) {
        std::string cur = in, pending = label;
        auto first_edge = [&](const std::string& to) {
            edge(cur, to, pending.empty() ? "" : "label=\"" + pending + "\"");
            pending.clear();
        };
        for (const arch::ChainItem& item : c) {
            if (item.cond) {
                std::string text = "if " + esc(cut(item.cond->text()));
                if (d_.with_model && choice_ < d_.choice_then.size()) {
                    const int64_t n = d_.choice_then[choice_].second;
                    text += "<BR/><FONT POINT-SIZE=\"8\">" +
                            (in_layer_ ? fmt::format("then in {} of {} layers", n, d_.layers.size())
                                       : std::string(n ? "holds: then" : "fails: else")) +
                            "</FONT>";
                }
                ++choice_;
                const std::string d =
                    node("shape=diamond, style=filled, fillcolor=\"#f9fafb\", fontsize=9, label=<" + text + ">");
                first_edge(d);
                const std::string join = node("shape=point, width=0.06");
                edge(chain(item.then, d, "then"), join, item.then.empty() ? "label=\"then: skip\"" : "");
                edge(chain(item.otherwise, d, "else"), join, item.otherwise.empty() ? "label=\"else: skip\"" : "");
                cur = join;
            } else if (!item.sum.empty()) {
                const std::string plus =
                    node("shape=circle, width=0.3, fixedsize=true, fillcolor=\"#ffffff\", label=\"+\"");
                for (const arch::Chain& branch : item.sum) {
                    if (branch.empty()) {
                        first_edge(plus);
                        continue;
                    }
                    edge(chain(branch, cur, pending), plus, "");
                }
                pending.clear();
                cur = plus;
            } else {
                const std::string b = block(item.block);
                first_edge(b);
                cur = b;
            }
        }
        return cur;
    }

    // One occurrence of a block: name and kind, options (with values on a model), weights (with shapes).
    std::string block(const std::string& name) {
        const BlockInfo* b = d_.block(name);
        if (b == nullptr)  // the parser checks chains name blocks; draw what is there all the same
            return node("label=<<B>" + esc(name) + "</B> (no such block)>");
        std::string t = "<TABLE BORDER=\"0\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"1\">";
        auto row = [&](const std::string& html) { t += "<TR><TD ALIGN=\"LEFT\">" + html + "</TD></TR>"; };
        row("<B>" + esc(b->name) + "</B>  <I>" + esc(b->kind) + "</I>");
        for (const OptionInfo& o : b->options) {
            std::string s = o.key + " = " + o.text;
            if (!o.values.empty() && !(o.values.size() == 1 && o.values[0] == o.text))
                s += " → " + join(o.values, " | ");
            row("<FONT POINT-SIZE=\"8\">" + esc(cut(s)) + "</FONT>");
        }
        for (const WeightInfo& w : b->weights) {
            std::string s = w.key + ": " + w.name;
            if (!w.cond.empty()) s += " if " + w.cond;
            std::string shapes;
            if (d_.with_model && b->n_layers > 0) shapes = w.variants.empty() ? "absent" : join(w.variants, " | ");
            row("<FONT POINT-SIZE=\"8\" FACE=\"monospace\">" + esc(cut(s)) + "</FONT>" +
                (shapes.empty() ? "" : "<FONT POINT-SIZE=\"8\" COLOR=\"#1d4ed8\"> " + esc(cut(shapes)) + "</FONT>"));
        }
        const bool unused = d_.with_model && b->n_layers == 0;
        if (unused) row("<FONT POINT-SIZE=\"8\" COLOR=\"#6b7280\">not run by this model</FONT>");
        if (d_.with_model && !unused && !b->weights.empty())
            row(fmt::format("<FONT POINT-SIZE=\"8\" COLOR=\"#6b7280\">{} parameters over {} layer{}</FONT>",
                            count(b->n_params), b->n_layers, b->n_layers == 1 ? "" : "s"));
        t += "</TABLE>";
        std::string id =
            node("fillcolor=\"" + (unused ? std::string("#f3f4f6") : kind_color(b->kind)) + "\", label=<" + t + ">");
        for (const std::string& s : b->reads)
            if (auto it = side_.find(s); it != side_.end())
                edge(it->second, id, "style=dashed, color=\"#c2410c\", constraint=false, label=\"" + esc(s) + "\"");
        return id;
    }

    // The strip of layers: with a model, a cell per layer coloured by kind; without, the rules that decide it.
    std::string strip() const {
        std::string t = "<TABLE BORDER=\"1\" CELLBORDER=\"1\" CELLSPACING=\"0\" CELLPADDING=\"3\" COLOR=\"#9ca3af\">";
        if (!d_.with_model) {
            t += "<TR><TD ALIGN=\"LEFT\"><B>layers</B>: count = " + esc(d_.layer_count) +
                 " (each layer's kind needs a model's parameters: the rules)</TD></TR>";
            for (const auto& [name, expr] : d_.lets)
                t += "<TR><TD ALIGN=\"LEFT\"><FONT FACE=\"monospace\" POINT-SIZE=\"9\">let " + esc(name) + " = " +
                     esc(expr) + "</FONT></TD></TR>";
            for (const BlockInfo& b : d_.blocks)
                for (const OptionInfo& o : b.options)
                    if (per_layer(o.text))
                        t += "<TR><TD ALIGN=\"LEFT\"><FONT FACE=\"monospace\" POINT-SIZE=\"9\">" + esc(b.name) + "." +
                             esc(o.key) + " = " + esc(o.text) + "</FONT></TD></TR>";
            return t + "</TABLE>";
        }
        const int64_t n = int64_t(d_.layers.size());
        const int64_t cols = std::min(n, kStripColumns);
        t += fmt::format("<TR><TD COLSPAN=\"{}\" ALIGN=\"LEFT\"><B>layers</B>: {}</TD></TR>",
                         std::max<int64_t>(cols, 1), esc(summary()));
        for (int64_t r = 0; r < n; r += cols) {
            t += "<TR>";
            for (int64_t l = r; l < r + cols; ++l) {
                if (l >= n) {
                    t += "<TD BORDER=\"0\"></TD>";
                    continue;
                }
                const LayerInfo& li = d_.layers[size_t(l)];
                t += fmt::format("<TD BGCOLOR=\"{}\"><FONT POINT-SIZE=\"8\">{}<BR/>{}</FONT></TD>", layer_color(li), l,
                                 esc(layer_tag(li)));
            }
            t += "</TR>";
        }
        return t + "</TABLE>";
    }

    // Whether an option's expression reads `layer` or a let value: it varies by layer.
    bool per_layer(const std::string& text) const {
        auto e = arch::Expr::parse(text);
        if (!e.ok()) return false;
        for (const std::string& name : e->names()) {
            if (name == "layer") return true;
            for (const auto& let : d_.lets)
                if (let.first == name) return true;
        }
        return false;
    }

    static std::string layer_color(const LayerInfo& l) {
        if (l.recurrent) return "#bbf7d0";
        if (l.attention) return l.window > 0 ? "#bfdbfe" : "#fed7aa";
        return "#e5e7eb";
    }
    static std::string layer_tag(const LayerInfo& l) {
        std::vector<std::string> tags;
        if (l.recurrent) tags.emplace_back("recurrent");
        if (l.attention) tags.push_back(l.window > 0 ? "sliding " + std::to_string(l.window) : "full");
        if (l.kv_source >= 0) tags.push_back("kv←" + std::to_string(l.kv_source));
        tags.emplace_back(l.moe ? "MoE" : "dense");
        return join(tags, " ");
    }
    std::string summary() const {
        int64_t sliding = 0, full = 0, recurrent = 0, shared = 0, moe = 0;
        for (const LayerInfo& l : d_.layers) {
            if (l.attention) (l.window > 0 ? sliding : full) += 1;
            recurrent += l.recurrent;
            shared += l.kv_source >= 0;
            moe += l.moe;
        }
        return fmt::format("{} sliding attention, {} full attention, {} recurrent, {} sharing K/V, {} MoE, {} dense",
                           sliding, full, recurrent, shared, moe, int64_t(d_.layers.size()) - moe);
    }

    const Diagram& d_;
    std::string out_;
    int depth_ = 0;
    bool in_layer_ = false;  // drawing the layer's steps (choices count layers)
    int next_ = 0;
    size_t choice_ = 0;                        // index into d_.choice_then, in drawing order
    std::map<std::string, std::string> side_;  // side input → its node
};

}  // namespace

std::string to_dot(const Diagram& d) { return Writer(d).dot(); }

}  // namespace loom::diagram
