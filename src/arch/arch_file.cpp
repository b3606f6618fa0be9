// Parsing of architecture files: TOML → Node tree (with lines) → ArchFile, rejecting unknown sections
// and keys with the file and line.
#include "arch/arch_file.h"

#include "arch/hf_map.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <toml++/toml.h>

namespace loom::arch {
namespace {

int line_of(const toml::node& n) { return int(n.source().begin.line); }

Result<Node> convert(const toml::node& n, const std::string& file) {
    Node out;
    out.line = line_of(n);
    if (auto s = n.as_string()) {
        out.kind = Node::Kind::string;
        out.str = s->get();
    } else if (auto i = n.as_integer()) {
        out.kind = Node::Kind::number;
        out.num = double(i->get());
    } else if (auto f = n.as_floating_point()) {
        out.kind = Node::Kind::number;
        out.num = f->get();
    } else if (auto b = n.as_boolean()) {
        out.kind = Node::Kind::boolean;
        out.num = b->get() ? 1 : 0;
    } else if (auto a = n.as_array()) {
        out.kind = Node::Kind::array;
        for (const auto& item : *a) {
            LOOM_TRY(Node c, convert(item, file));
            out.items.push_back(std::move(c));
        }
    } else if (auto t = n.as_table()) {
        out.kind = Node::Kind::table;
        for (const auto& [k, v] : *t) {
            LOOM_TRY(Node c, convert(v, file));
            out.fields.emplace(std::string(k.str()), std::move(c));
        }
    } else {
        return Error::invalid("{}:{}: unsupported TOML value (dates are not used in architecture files)", file,
                              out.line);
    }
    return out;
}

const char* kind_name(Node::Kind k) {
    switch (k) {
        case Node::Kind::string: return "a string";
        case Node::Kind::number: return "a number";
        case Node::Kind::boolean: return "a boolean";
        case Node::Kind::array: return "an array";
        case Node::Kind::table: return "a table";
    }
    return "?";
}

// Edit distance, for "did you mean".
size_t distance(const std::string& a, const std::string& b) {
    std::vector<size_t> row(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        size_t prev = row[0];
        row[0] = i;
        for (size_t j = 1; j <= b.size(); ++j) {
            const size_t cur = row[j];
            row[j] = std::min({row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] != b[j - 1])});
            prev = cur;
        }
    }
    return row[b.size()];
}

std::string suggestion(const std::string& key, const std::vector<std::string>& known) {
    std::string best;
    size_t best_d = 3;  // suggest only close matches
    for (const auto& k : known) {
        const size_t d = distance(key, k);
        if (d < best_d) best_d = d, best = k;
    }
    return best.empty() ? "" : fmt::format(" (did you mean '{}'?)", best);
}

Status unknown_keys(const std::string& file, const std::string& where, const Node& table,
                    const std::vector<std::string>& known) {
    std::string msg;
    for (const auto& [k, v] : table.fields) {
        if (std::find(known.begin(), known.end(), k) != known.end()) continue;
        std::string all;
        for (const auto& x : known) all += (all.empty() ? "" : ", ") + x;
        msg += fmt::format("{}{}:{}: {}unknown key '{}'{} (known: {})", msg.empty() ? "" : "\n", file, v.line, where, k,
                           suggestion(k, known), all);
    }
    if (msg.empty()) return Ok();
    return Error::invalid("{}", msg);
}

Result<Expr> expr_of(const Node& n, const std::string& file, const std::string& what) {
    if (n.kind == Node::Kind::number || n.kind == Node::Kind::boolean) return Expr::constant(n.num);
    if (n.kind != Node::Kind::string)
        return Error::invalid("{}:{}: {}: expected an expression (string) or a number, got {}", file, n.line, what,
                              kind_name(n.kind));
    auto e = Expr::parse(n.str);
    if (!e.ok()) return Error::invalid("{}:{}: {}: {}", file, n.line, what, e.error().message());
    return e;
}

Result<Chain> chain_of(const Node& n, const std::string& file, const std::string& what);

// The `then` / `else` of a choice: a block name (a chain of one) or a chain.
Result<Chain> branch_of(const Node& n, const std::string& file, const std::string& what) {
    if (n.kind == Node::Kind::string) {
        ChainItem item;
        item.block = n.str;
        item.line = n.line;
        return Chain{std::move(item)};
    }
    if (n.kind == Node::Kind::array) return chain_of(n, file, what);
    return Error::invalid("{}:{}: {}: expected a block name or a chain [...], got {}", file, n.line, what,
                          kind_name(n.kind));
}

Result<ChainItem> item_of(const Node& item, const std::string& file, const std::string& what) {
    ChainItem c;
    c.line = item.line;
    if (item.kind == Node::Kind::string) {
        c.block = item.str;
        return c;
    }
    if (item.kind != Node::Kind::table)
        return Error::invalid("{}:{}: {}: expected a block name, {{ if, then, else }} or {{ sum }}, got {}", file,
                              item.line, what, kind_name(item.kind));
    if (const auto sum = item.fields.find("sum"); sum != item.fields.end()) {
        LOOM_RETURN_IF_ERROR(unknown_keys(file, what + ": ", item, {"sum"}));
        if (sum->second.kind != Node::Kind::array || sum->second.items.size() < 2)
            return Error::invalid("{}:{}: {}: sum = [[chain], [chain], ...] needs two or more branches", file,
                                  item.line, what);
        for (const Node& b : sum->second.items) {
            LOOM_TRY(Chain branch, chain_of(b, file, what + ": sum"));
            if (branch.empty()) return Error::invalid("{}:{}: {}: a sum branch is empty", file, b.line, what);
            c.sum.push_back(std::move(branch));
        }
        return c;
    }
    LOOM_RETURN_IF_ERROR(unknown_keys(file, what + ": ", item, {"if", "then", "else", "sum"}));
    const auto cond = item.fields.find("if");
    const auto then = item.fields.find("then");
    if (cond == item.fields.end() || then == item.fields.end())
        return Error::invalid("{}:{}: {}: a conditional item needs if = <expr> and then = \"block\" or [chain]", file,
                              item.line, what);
    LOOM_TRY(Expr e, expr_of(cond->second, file, what + ": if"));
    c.cond = std::move(e);
    LOOM_TRY(c.then, branch_of(then->second, file, what + ": then"));
    if (const auto other = item.fields.find("else"); other != item.fields.end()) {
        LOOM_TRY(c.otherwise, branch_of(other->second, file, what + ": else"));
    }
    return c;
}

Result<Chain> chain_of(const Node& n, const std::string& file, const std::string& what) {
    if (n.kind != Node::Kind::array)
        return Error::invalid("{}:{}: {}: expected an array of block names, got {}", file, n.line, what,
                              kind_name(n.kind));
    Chain chain;
    for (const Node& item : n.items) {
        LOOM_TRY(ChainItem c, item_of(item, file, what));
        chain.push_back(std::move(c));
    }
    return chain;
}

std::string substitute_arch(std::string s, const std::string& arch) {
    for (size_t p; (p = s.find("{arch}")) != std::string::npos;) s.replace(p, 6, arch);
    return s;
}

Result<ParamSpec> param_of(const std::string& name, const Node& n, const std::string& file, const std::string& arch) {
    ParamSpec p;
    p.name = name;
    p.line = n.line;
    const std::string what = fmt::format("param '{}'", name);
    if (n.kind == Node::Kind::string) {
        p.keys.push_back(substitute_arch(n.str, arch));
        return p;
    }
    if (n.kind != Node::Kind::table)
        return Error::invalid("{}:{}: {}: expected a metadata key or {{ key, default, value }}, got {}", file, n.line,
                              what, kind_name(n.kind));
    LOOM_RETURN_IF_ERROR(unknown_keys(file, what + ": ", n, {"key", "default", "value"}));
    if (auto k = n.fields.find("key"); k != n.fields.end()) {
        if (k->second.kind == Node::Kind::string) {
            p.keys.push_back(substitute_arch(k->second.str, arch));
        } else if (k->second.kind == Node::Kind::array) {
            for (const Node& item : k->second.items) {
                if (item.kind != Node::Kind::string)
                    return Error::invalid("{}:{}: {}: key alternatives must be strings", file, item.line, what);
                p.keys.push_back(substitute_arch(item.str, arch));
            }
        } else {
            return Error::invalid("{}:{}: {}: key must be a string or an array of strings", file, k->second.line, what);
        }
    }
    if (auto d = n.fields.find("default"); d != n.fields.end()) {
        LOOM_TRY(Expr e, expr_of(d->second, file, what + ": default"));
        p.fallback = std::move(e);
    }
    if (auto v = n.fields.find("value"); v != n.fields.end()) {
        LOOM_TRY(Expr e, expr_of(v->second, file, what + ": value"));
        p.value = std::move(e);
    }
    if (p.value && (!p.keys.empty() || p.fallback))
        return Error::invalid("{}:{}: {}: 'value' (derived) excludes 'key' and 'default'", file, n.line, what);
    if (!p.value && p.keys.empty())
        return Error::invalid("{}:{}: {}: needs a metadata 'key' or a derived 'value'", file, n.line, what);
    return p;
}

const Node* field(const Node& t, const std::string& key) {
    auto it = t.fields.find(key);
    return it == t.fields.end() ? nullptr : &it->second;
}

}  // namespace

// ---- BlockSpec ---------------------------------------------------------------------------------

BlockSpec::BlockSpec(std::string file, std::string name, const Node& table)
    : file_(std::move(file)), name_(std::move(name)), line_(table.line), table_(std::make_shared<Node>(table)) {
    if (const Node* k = field(table, "kind"); k && k->kind == Node::Kind::string) kind_ = k->str;
    read_->push_back("kind");
}

std::string BlockSpec::where(int line) const {
    return fmt::format("{}:{}: block '{}'", file_, line ? line : line_, name_);
}

const Node* BlockSpec::find(const std::string& key) const {
    read_->push_back(key);
    return field(*table_, key);
}

Result<WeightRef> BlockSpec::weight(const std::string& key) const {
    const Node* n = find(key);
    if (!n) return Error::not_found("{}: missing weight '{}'", where(), key);
    WeightRef w;
    w.line = n->line;
    const Node* names = n;
    if (n->kind == Node::Kind::table) {  // { name = ..., if = <expr> }
        LOOM_RETURN_IF_ERROR(
            unknown_keys(file_, fmt::format("block '{}': weight '{}': ", name_, key), *n, {"name", "if"}));
        names = field(*n, "name");
        const Node* cond = field(*n, "if");
        if (!names || !cond)
            return Error::invalid("{}: weight '{}': the table form needs name = \"tensor\" and if = <expr>",
                                  where(n->line), key);
        LOOM_TRY(Expr e, expr_of(*cond, file_, fmt::format("block '{}': {}: if", name_, key)));
        w.cond = std::move(e);
    }
    if (names->kind == Node::Kind::string) {
        w.names.push_back(names->str);
    } else if (names->kind == Node::Kind::array && !names->items.empty()) {
        for (const Node& item : names->items) {
            if (item.kind != Node::Kind::string)
                return Error::invalid("{}: weight '{}': alternatives must be tensor names", where(n->line), key);
            w.names.push_back(item.str);
        }
    } else {
        return Error::invalid(
            "{}: weight '{}': expected a tensor name, an array of alternatives or {{ name, if }}, got {}",
            where(n->line), key, kind_name(names->kind));
    }
    if (!w.names.back().empty() && w.names.back().back() == '?') {
        w.optional = true;
        w.names.back().pop_back();
    }
    return w;
}

Result<Expr> BlockSpec::expr(const std::string& key) const {
    const Node* n = find(key);
    if (!n) return Error::not_found("{}: missing option '{}'", where(), key);
    auto e = expr_of(*n, file_, fmt::format("block '{}': {}", name_, key));
    return e;
}

Result<Expr> BlockSpec::expr(const std::string& key, double fallback) const {
    if (!find(key)) return Expr::constant(fallback);
    return expr(key);
}

Result<std::string> BlockSpec::word(const std::string& key, const std::vector<std::string>& allowed,
                                    const std::string& fallback) const {
    const Node* n = find(key);
    if (!n) return fallback;
    if (n->kind != Node::Kind::string)
        return Error::invalid("{}: '{}': expected a string, got {}", where(n->line), key, kind_name(n->kind));
    if (std::find(allowed.begin(), allowed.end(), n->str) == allowed.end()) {
        std::string all;
        for (const auto& a : allowed) all += (all.empty() ? "" : ", ") + a;
        return Error::invalid("{}: '{}': unknown value '{}'{} (one of: {})", where(n->line), key, n->str,
                              suggestion(n->str, allowed), all);
    }
    return n->str;
}

Result<bool> BlockSpec::flag(const std::string& key, bool fallback) const {
    const Node* n = find(key);
    if (!n) return fallback;
    if (n->kind != Node::Kind::boolean)
        return Error::invalid("{}: '{}': expected true or false, got {}", where(n->line), key, kind_name(n->kind));
    return n->num != 0;
}

Result<BlockSpec> BlockSpec::table(const std::string& key) const {
    const Node* n = find(key);
    if (!n) return Error::not_found("{}: missing table '{}'", where(), key);
    if (n->kind != Node::Kind::table)
        return Error::invalid("{}: '{}': expected a table, got {}", where(n->line), key, kind_name(n->kind));
    BlockSpec sub(file_, fmt::format("{}.{}", name_, key), *n);
    sub.kind_ = kind_;
    sub.read_->clear();
    return sub;
}

Status BlockSpec::check_unknown_keys() const {
    std::vector<std::string> known = *read_;
    std::sort(known.begin(), known.end());
    known.erase(std::unique(known.begin(), known.end()), known.end());
    std::vector<std::string> listed;
    for (const auto& k : known)
        if (k != "kind") listed.push_back(k);
    std::string msg;
    for (const auto& [k, v] : table_->fields) {
        if (std::binary_search(known.begin(), known.end(), k)) continue;
        std::string all;
        for (const auto& x : listed) all += (all.empty() ? "" : ", ") + x;
        msg += fmt::format("{}{}: unknown key '{}'{} (kind '{}' reads: {})", msg.empty() ? "" : "\n", where(v.line), k,
                           suggestion(k, listed), kind_, all);
    }
    if (msg.empty()) return Ok();
    return Error::invalid("{}", msg);
}

void for_each_block_name(const Chain& chain, const std::function<void(const std::string&, int line)>& fn) {
    for (const ChainItem& item : chain) {
        if (!item.block.empty()) fn(item.block, item.line);
        for_each_block_name(item.then, fn);
        for_each_block_name(item.otherwise, fn);
        for (const Chain& branch : item.sum) for_each_block_name(branch, fn);
    }
}

// ---- ArchFile ----------------------------------------------------------------------------------

Result<ArchFile> ArchFile::parse(const std::string& text, const std::string& path) {
    toml::table root;
    try {
        root = toml::parse(text, path);
    } catch (const toml::parse_error& e) {
        return Error::invalid("{}:{}: {}", path, e.source().begin.line, e.description());
    }
    LOOM_TRY(Node doc, convert(root, path));
    LOOM_RETURN_IF_ERROR(unknown_keys(path, "", doc, {"arch", "params", "check", "model", "layer", "blocks", "hf"}));

    ArchFile f;
    f.path = path;
    auto section = [&](const char* name) -> Result<const Node*> {
        const Node* n = field(doc, name);
        if (!n) return Error::not_found("{}: missing section [{}]", path, name);
        if (n->kind != Node::Kind::table) return Error::invalid("{}:{}: [{}] must be a table", path, n->line, name);
        return n;
    };

    LOOM_TRY(const Node* arch, section("arch"));
    LOOM_RETURN_IF_ERROR(unknown_keys(path, "[arch]: ", *arch, {"name", "about"}));
    const Node* name = field(*arch, "name");
    if (!name || name->kind != Node::Kind::string || name->str.empty())
        return Error::invalid("{}:{}: [arch] needs name = \"<general.architecture>\"", path, arch->line);
    f.name = name->str;

    LOOM_TRY(const Node* params, section("params"));
    // toml++ tables are ordered by key; keep the file's order (by line) so messages follow the file.
    std::vector<std::pair<std::string, const Node*>> ordered;
    for (const auto& [k, v] : params->fields) ordered.emplace_back(k, &v);
    std::sort(ordered.begin(), ordered.end(), [](auto& a, auto& b) { return a.second->line < b.second->line; });
    for (const auto& [k, v] : ordered) {
        LOOM_TRY(ParamSpec p, param_of(k, *v, path, f.name));
        f.params.push_back(std::move(p));
    }

    if (const Node* checks = field(doc, "check")) {
        if (checks->kind != Node::Kind::array)
            return Error::invalid("{}:{}: [[check]] must be an array of tables", path, checks->line);
        for (const Node& c : checks->items) {
            if (c.kind != Node::Kind::table) return Error::invalid("{}:{}: [[check]] entries are tables", path, c.line);
            LOOM_RETURN_IF_ERROR(unknown_keys(path, "[[check]]: ", c, {"expr", "message"}));
            const Node* e = field(c, "expr");
            const Node* m = field(c, "message");
            if (!e || !m || m->kind != Node::Kind::string)
                return Error::invalid("{}:{}: [[check]] needs expr and message", path, c.line);
            LOOM_TRY(Expr ex, expr_of(*e, path, "check"));
            f.checks.push_back({std::move(ex), m->str, c.line});
        }
    }

    LOOM_TRY(const Node* model, section("model"));
    LOOM_RETURN_IF_ERROR(unknown_keys(path, "[model]: ", *model,
                                      {"input", "output", "side", "generation", "mask_token", "shift_logits"}));
    f.generation.line = model->line;
    if (const Node* g = field(*model, "generation")) {
        if (g->kind != Node::Kind::string || (g->str != "autoregressive" && g->str != "diffusion"))
            return Error::invalid("{}:{}: [model] generation must be \"autoregressive\" or \"diffusion\"", path,
                                  g->line);
        if (g->str == "diffusion") f.generation.mode = Generation::Mode::diffusion;
    }
    for (const char* key : {"mask_token", "shift_logits"}) {
        const Node* n = field(*model, key);
        if (!n) continue;
        if (f.generation.mode != Generation::Mode::diffusion)
            return Error::invalid("{}:{}: [model] {} applies to generation = \"diffusion\" only", path, n->line, key);
        LOOM_TRY(Expr e, expr_of(*n, path, fmt::format("[model] {}", key)));
        (std::string(key) == "mask_token" ? f.generation.mask_token : f.generation.shift_logits) = std::move(e);
    }
    for (const char* key : {"input", "output"}) {
        const Node* n = field(*model, key);
        if (!n) return Error::not_found("{}:{}: [model] needs {} = [blocks...]", path, model->line, key);
        LOOM_TRY(Chain c, chain_of(*n, path, fmt::format("[model] {}", key)));
        (std::string(key) == "input" ? f.input : f.output) = std::move(c);
    }
    if (const Node* side = field(*model, "side")) {
        if (side->kind != Node::Kind::table)
            return Error::invalid("{}:{}: [model] side must be a table of name = [chain]", path, side->line);
        for (const auto& [k, v] : side->fields) {
            LOOM_TRY(Chain c, chain_of(v, path, fmt::format("[model] side {}", k)));
            f.side.push_back({k, std::move(c), v.line});
        }
        std::sort(f.side.begin(), f.side.end(), [](auto& a, auto& b) { return a.line < b.line; });
    }

    LOOM_TRY(const Node* layer, section("layer"));
    LOOM_RETURN_IF_ERROR(unknown_keys(path, "[layer]: ", *layer, {"count", "let", "residual", "steps"}));
    const Node* count = field(*layer, "count");
    if (!count) return Error::not_found("{}:{}: [layer] needs count = <expr>", path, layer->line);
    LOOM_TRY(f.layer_count, expr_of(*count, path, "[layer] count"));
    f.layer_count_line = count->line;
    if (const Node* let = field(*layer, "let")) {
        if (let->kind != Node::Kind::table)
            return Error::invalid("{}:{}: [layer] let must be a table", path, let->line);
        for (const auto& [k, v] : let->fields) {
            LOOM_TRY(Expr e, expr_of(v, path, fmt::format("[layer] let {}", k)));
            f.lets.push_back({k, std::move(e), v.line});
        }
        std::sort(f.lets.begin(), f.lets.end(), [](auto& a, auto& b) { return a.line < b.line; });
    }
    const Node* residual = field(*layer, "residual");
    const Node* steps = field(*layer, "steps");
    if (!residual == !steps)
        return Error::invalid(
            "{}:{}: [layer] needs either steps = [{{ residual = [...] }} | {{ replace = [...] }}, ...] or the short "
            "form residual = [[blocks...], ...]",
            path, layer->line);
    const Node* list = residual ? residual : steps;
    if (list->kind != Node::Kind::array)
        return Error::invalid("{}:{}: [layer] {} must be an array", path, list->line, residual ? "residual" : "steps");
    for (const Node& item : list->items) {
        LayerStep step;
        step.line = item.line;
        const Node* chain = &item;
        if (steps) {
            if (item.kind != Node::Kind::table || item.fields.size() != 1)
                return Error::invalid(
                    "{}:{}: [layer] steps: each step is {{ residual = [...] }} or {{ replace = [...] }}", path,
                    item.line);
            LOOM_RETURN_IF_ERROR(unknown_keys(path, "[layer] steps: ", item, {"residual", "replace"}));
            const auto& [kind, c] = *item.fields.begin();
            step.kind = kind == "replace" ? LayerStep::Kind::replace : LayerStep::Kind::residual;
            chain = &c;
        }
        LOOM_TRY(step.chain, chain_of(*chain, path, residual ? "[layer] residual" : "[layer] steps"));
        f.steps.push_back(std::move(step));
    }

    LOOM_TRY(const Node* blocks, section("blocks"));
    for (const auto& [k, v] : blocks->fields) {
        if (v.kind != Node::Kind::table) return Error::invalid("{}:{}: [blocks.{}] must be a table", path, v.line, k);
        const Node* kind = field(v, "kind");
        if (!kind || kind->kind != Node::Kind::string)
            return Error::invalid("{}:{}: block '{}': needs kind = \"<block kind>\"", path, v.line, k);
        f.blocks.emplace(k, BlockSpec(path, k, v));
    }

    // Every block a chain names must exist.
    std::string missing;
    auto check_chain = [&](const Chain& c) {
        for_each_block_name(c, [&](const std::string& b, int line) {
            if (!f.blocks.count(b))
                missing += fmt::format("{}{}:{}: no block named '{}' (define [blocks.{}])", missing.empty() ? "" : "\n",
                                       path, line, b, b);
        });
    };
    check_chain(f.input);
    check_chain(f.output);
    for (const SideInput& s : f.side) check_chain(s.chain);
    for (const LayerStep& s : f.steps) check_chain(s.chain);
    if (!missing.empty()) return Error::invalid("{}", missing);
    if (const Node* hf = field(doc, "hf")) {
        LOOM_TRY(HfMap m, HfMap::parse(*hf, path, f.name));
        f.hf = std::make_shared<const HfMap>(std::move(m));
    }
    return f;
}

Result<ArchFile> ArchFile::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::io("{}: cannot open architecture file", path);
    std::stringstream ss;
    ss << in.rdbuf();
    return parse(ss.str(), path);
}

}  // namespace loom::arch
