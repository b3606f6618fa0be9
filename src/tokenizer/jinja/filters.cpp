// The Jinja filters and tests chat templates use, with jinja2's (Python's) semantics (the rest of the
// interpreter: interpreter.cpp).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/py_ops.h"

namespace loom::tokenizer::jinja {

using namespace py;

// ---------------------------------------------------------------- filters

Result<Value> Interpreter::filter(const Expr& e, Value v) {
    LOOM_TRY(Args a, eval_args(e));
    const std::string& f = e.name;
    const int line = e.line;
    auto need_string = [&]() -> std::string { return to_str(v); };

    if (f == "trim") return Value(strip(need_string(), true, true, a.get(0, "chars")));
    if (f == "lower") return Value(map_case(need_string(), 0));
    if (f == "upper") return Value(map_case(need_string(), 1));
    if (f == "title") return Value(map_case(need_string(), 2));
    if (f == "capitalize") return Value(map_case(need_string(), 3));
    if (f == "string") return Value(to_str(v));
    if (f == "safe") return Value::markup(to_str(v));
    if (f == "e" || f == "escape" || f == "forceescape") {
        if (v.is_markup() && f != "forceescape") return v;
        return Value::markup(html_escape(to_str(v)));
    }
    if (f == "tojson") {
        const Value& ind = arg(a, 0, "indent");
        const Value& sk = arg(a, 99, "sort_keys");
        LOOM_TRY(std::string s,
                 to_json(v, ind.is_int() ? int(ind.as_int()) : -1, sk.truthy(), arg(a, 99, "ensure_ascii").truthy()));
        LOOM_RETURN_IF_ERROR(check_size(s.size(), "tojson"));
        return Value(std::move(s));
    }
    if (f == "length" || f == "count") {
        if (v.is_string()) return Value(int64_t(cps_of(v.str()).size()));
        if (v.is_array()) return Value(int64_t(v.array().size()));
        if (v.is_object()) return Value(int64_t(v.object().items.size()));
        if (v.is_undefined()) return Value(int64_t(0));
        return fail(line, fmt::format("object of type '{}' has no len()", v.type_name()));
    }
    if (f == "default" || f == "d") {
        const bool boolean = arg(a, 1, "boolean").truthy();
        if (v.is_undefined() || (boolean && !v.truthy())) {
            const Value* d = a.get(0, "default_value");
            return d ? *d : Value(std::string());
        }
        return v;
    }
    if (f == "replace") {
        const Value& c = arg(a, 2, "count");
        std::string r = replace_all(need_string(), to_str(arg(a, 0, "old")), to_str(arg(a, 1, "new")),
                                    c.is_int() ? c.as_int() : -1);
        LOOM_RETURN_IF_ERROR(check_size(r.size(), "string"));
        return Value(std::move(r));
    }
    if (f == "join") {
        LOOM_TRY(Array items, iterate(v, line));
        const std::string sep = a.get(0, "d") ? to_str(*a.get(0, "d")) : std::string();
        const Value* attr = a.get(1, "attribute");
        std::string out;
        for (size_t i = 0; i < items.size(); ++i) {
            if (i) out += sep;
            if (attr) {
                LOOM_TRY(Value x, item(items[i], *attr, line));
                out += to_str(x);
            } else {
                out += to_str(items[i]);
            }
            LOOM_RETURN_IF_ERROR(check_size(out.size(), "string"));
        }
        return Value(std::move(out));
    }
    if (f == "list") {
        LOOM_TRY(Array items, iterate(v, line));
        return Value(std::move(items));
    }
    if (f == "first" || f == "last") {
        LOOM_TRY(Array items, iterate(v, line));
        if (items.empty()) return Value();
        return f == "first" ? items.front() : items.back();
    }
    if (f == "reverse") {
        if (v.is_string()) {
            auto cps = cps_of(v.str());
            std::reverse(cps.begin(), cps.end());
            return Value(utf8_of(cps));
        }
        LOOM_TRY(Array items, iterate(v, line));
        std::reverse(items.begin(), items.end());
        return Value(std::move(items));
    }
    if (f == "items" || f == "dictsort") {
        if (v.is_undefined()) return Value(Array{});
        if (!v.is_object()) return fail(line, fmt::format("{} needs a mapping, got '{}'", f, v.type_name()));
        Array out;
        for (const auto& [k, x] : v.object().items) out.push_back(Value::tuple(Array{decode_key(k), x}));
        if (f == "dictsort")
            std::stable_sort(out.begin(), out.end(), [&](const Value& p, const Value& q) {
                const Value &x = p.array()[0], &y = q.array()[0];
                if (x.is_string() && y.is_string()) return map_case(x.str(), 0) < map_case(y.str(), 0);
                auto c = compare(x, y, line);
                return c.ok() && *c < 0;
            });
        return Value(std::move(out));
    }
    if (f == "int") {
        if (v.is_int()) return v;
        if (v.is_bool()) return Value(v.as_int());
        if (v.is_float()) return Value(int64_t(v.as_double()));
        if (v.is_string()) {
            const std::string s = strip(v.str(), true, true, nullptr);
            char* end = nullptr;
            const long long i = std::strtoll(s.c_str(), &end, 10);
            if (!s.empty() && end && *end == 0) return Value(int64_t(i));
            const double d = std::strtod(s.c_str(), &end);
            if (!s.empty() && end && *end == 0) return Value(int64_t(d));
        }
        const Value* d = a.get(0, "default");
        return d ? *d : Value(int64_t(0));
    }
    if (f == "float") {
        if (v.is_number()) return Value(v.as_double());
        if (v.is_string()) {
            const std::string s = strip(v.str(), true, true, nullptr);
            char* end = nullptr;
            const double d = std::strtod(s.c_str(), &end);
            if (!s.empty() && end && *end == 0) return Value(d);
        }
        const Value* d = a.get(0, "default");
        return d ? *d : Value(0.0);
    }
    if (f == "abs") {
        if (!v.is_number()) return fail(line, "abs needs a number");
        return v.is_float() ? Value(std::fabs(v.as_double())) : Value(v.as_int() < 0 ? -v.as_int() : v.as_int());
    }
    if (f == "round") {
        if (!v.is_number()) return fail(line, "round needs a number");
        const Value& p = arg(a, 0, "precision");
        const std::string method = a.get(1, "method") ? to_str(*a.get(1, "method")) : "common";
        const double scale = std::pow(10.0, p.is_int() ? double(p.as_int()) : 0.0);
        const double x = v.as_double() * scale;
        // "common" is Python's round(): halves go to the even neighbour.
        const double r = method == "floor" ? std::floor(x) : method == "ceil" ? std::ceil(x) : std::nearbyint(x);
        return Value(r / scale);
    }
    if (f == "map" || f == "select" || f == "reject" || f == "selectattr" || f == "rejectattr") {
        if (!v.truthy()) return Value(Array{});  // jinja2 skips a falsy sequence (None included)
        LOOM_TRY(Array items, iterate(v, line));
        Array out;
        for (const Value& x : items) {
            LOOM_RETURN_IF_ERROR(charge());
            if (f == "map") {
                if (const Value* attr = a.get(99, "attribute")) {
                    LOOM_TRY(Value y, item(x, *attr, line));
                    if (y.is_undefined() && a.get(99, "default")) y = *a.get(99, "default");
                    out.push_back(std::move(y));
                } else {
                    if (a.pos.empty()) return fail(line, "map needs a filter name or attribute=");
                    Expr inner;
                    inner.kind = Expr::Kind::filter;
                    inner.line = line;
                    inner.name = to_str(a.pos[0]);
                    for (size_t k = 1; k < a.pos.size(); ++k) {
                        auto lit = std::make_unique<Expr>();
                        lit->kind = Expr::Kind::literal;
                        lit->value = a.pos[k];
                        inner.items.push_back(std::move(lit));
                    }
                    LOOM_TRY(Value y, filter(inner, x));
                    out.push_back(std::move(y));
                }
                continue;
            }
            const bool by_attr = f == "selectattr" || f == "rejectattr";
            Value subject = x;
            size_t first_test_arg = 0;
            if (by_attr) {
                if (a.pos.empty()) return fail(line, f + " needs an attribute name");
                LOOM_TRY(subject, item(x, a.pos[0], line));
                first_test_arg = 1;
            }
            bool keep;
            if (a.pos.size() <= first_test_arg) {
                keep = subject.truthy();
            } else {
                Expr t;
                t.kind = Expr::Kind::test;
                t.line = line;
                t.name = to_str(a.pos[first_test_arg]);
                for (size_t k = first_test_arg + 1; k < a.pos.size(); ++k) {
                    auto lit = std::make_unique<Expr>();
                    lit->kind = Expr::Kind::literal;
                    lit->value = a.pos[k];
                    t.items.push_back(std::move(lit));
                }
                LOOM_TRY(keep, test(t, subject));
            }
            if (keep == (f == "select" || f == "selectattr")) out.push_back(x);
        }
        return Value(std::move(out));
    }
    if (f == "unique") {
        LOOM_TRY(Array items, iterate(v, line));
        Array out;
        for (const Value& x : items) {
            LOOM_RETURN_IF_ERROR(charge(out.size() + 1));
            if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(x);
        }
        return Value(std::move(out));
    }
    if (f == "sort") {
        LOOM_TRY(Array items, iterate(v, line));
        const bool rev = arg(a, 0, "reverse").truthy();
        const Value* attr = a.get(2, "attribute");
        Status st = Ok{};
        LOOM_RETURN_IF_ERROR(charge(items.size() * 8));
        std::stable_sort(items.begin(), items.end(), [&](const Value& p, const Value& q) {
            Value x = p, y = q;
            if (attr) {
                auto xr = item(p, *attr, line);
                auto yr = item(q, *attr, line);
                if (!xr.ok() || !yr.ok()) return false;
                x = *xr, y = *yr;
            }
            auto c = compare(x, y, line);
            if (!c.ok()) {
                st = c.error();
                return false;
            }
            return rev ? *c > 0 : *c < 0;
        });
        LOOM_RETURN_IF_ERROR(st);
        return Value(std::move(items));
    }
    if (f == "sum") {
        LOOM_TRY(Array items, iterate(v, line));
        const Value* attr = a.get(0, "attribute");
        Value total = a.get(1, "start") ? *a.get(1, "start") : Value(int64_t(0));
        for (const Value& x : items) {
            Value y = x;
            if (attr) {
                LOOM_TRY(y, item(x, *attr, line));
            }
            if (!y.is_number() || !total.is_number()) return fail(line, "sum needs numbers");
            total = total.is_float() || y.is_float() ? Value(total.as_double() + y.as_double())
                                                     : Value(total.as_int() + y.as_int());
        }
        return total;
    }
    if (f == "min" || f == "max") {
        LOOM_TRY(Array items, iterate(v, line));
        if (items.empty()) return Value();
        Value best = items[0];
        for (const Value& x : items) {
            LOOM_TRY(int c, compare(x, best, line));
            if ((f == "min" && c < 0) || (f == "max" && c > 0)) best = x;
        }
        return best;
    }
    if (f == "indent") {
        const Value& w = arg(a, 0, "width");
        const std::string pad =
            w.is_string() ? w.str() : std::string(size_t(w.is_int() ? std::max<int64_t>(0, w.as_int()) : 4), ' ');
        const bool first = arg(a, 1, "first").truthy(), blank = arg(a, 2, "blank").truthy();
        const std::string s = to_str(v);
        std::string out;
        size_t pos = 0;
        bool is_first = true;
        while (pos <= s.size()) {
            size_t e = s.find('\n', pos);
            const std::string ln = s.substr(pos, e == std::string::npos ? std::string::npos : e - pos);
            if ((!is_first || first) && (blank || !ln.empty())) out += pad;
            out += ln;
            if (e == std::string::npos) break;
            out += '\n';
            pos = e + 1;
            is_first = false;
        }
        LOOM_RETURN_IF_ERROR(check_size(out.size(), "string"));
        return Value(std::move(out));
    }
    if (f == "wordcount") return Value(int64_t(split(to_str(v), nullptr, -1).array().size()));
    if (f == "attr") {
        return attribute(v, to_str(arg(a, 0, "name")), line);
    }
    if (f == "batch") {
        LOOM_TRY(Array items, iterate(v, line));
        const Value& n = arg(a, 0, "linecount");
        if (!n.is_int() || n.as_int() <= 0) return fail(line, "batch needs a positive size");
        Array out, cur;
        for (const Value& x : items) {
            cur.push_back(x);
            if (int64_t(cur.size()) == n.as_int()) out.push_back(std::move(cur)), cur.clear();
        }
        if (!cur.empty()) {
            if (const Value* fill = a.get(1, "fill_with"))
                while (int64_t(cur.size()) < n.as_int()) cur.push_back(*fill);
            out.push_back(std::move(cur));
        }
        return Value(std::move(out));
    }
    return fail(line, fmt::format("unknown filter '{}'", f));
}

// ---------------------------------------------------------------- tests

Result<bool> Interpreter::test(const Expr& e, const Value& v) {
    LOOM_TRY(Args a, eval_args(e));
    const std::string& t = e.name;
    const Value& x = arg(a, 0, "other");
    if (t == "defined") return !v.is_undefined();
    if (t == "undefined") return v.is_undefined();
    if (t == "none") return v.is_none();
    if (t == "boolean") return v.is_bool();
    if (t == "true") return v.is_bool() && v.as_bool();
    if (t == "false") return v.is_bool() && !v.as_bool();
    if (t == "integer") return v.is_int();
    if (t == "float") return v.is_float();
    if (t == "number") return v.is_number();
    if (t == "string") return v.is_string();
    if (t == "mapping") return v.kind() == Value::Kind::object;
    if (t == "iterable") return v.is_string() || v.is_array() || v.is_object() || v.is_undefined();
    if (t == "sequence") return v.is_string() || v.is_array() || v.kind() == Value::Kind::object;
    if (t == "callable") return v.is_callable();
    if (t == "odd" || t == "even" || t == "divisibleby") {
        if (!v.is_int()) return fail(e.line, fmt::format("test '{}' needs an integer", t));
        if (t == "divisibleby") {
            if (!x.is_int() || x.as_int() == 0) return fail(e.line, "divisibleby needs a non-zero integer");
            return v.as_int() % x.as_int() == 0;
        }
        return (v.as_int() % 2 != 0) == (t == "odd");
    }
    if (t == "eq" || t == "equalto" || t == "==") return v == x;
    if (t == "ne" || t == "!=") return !(v == x);
    if (t == "lt" || t == "lessthan" || t == "<" || t == "le" || t == "<=" || t == "gt" || t == "greaterthan" ||
        t == ">" || t == "ge" || t == ">=") {
        LOOM_TRY(int c, compare(v, x, e.line));
        if (t == "lt" || t == "lessthan" || t == "<") return c < 0;
        if (t == "le" || t == "<=") return c <= 0;
        if (t == "gt" || t == "greaterthan" || t == ">") return c > 0;
        return c >= 0;
    }
    if (t == "in") return contains(x, v);
    if (t == "sameas") return v.kind() == x.kind() && v == x;
    if (t == "lower" || t == "upper") {
        if (!v.is_string()) return false;
        return map_case(v.str(), t == "lower" ? 0 : 1) == v.str();
    }
    if (t == "escaped") return false;
    return fail(e.line, fmt::format("unknown test '{}'", t));
}

}  // namespace loom::tokenizer::jinja
