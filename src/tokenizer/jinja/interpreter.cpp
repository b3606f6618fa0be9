// The Jinja interpreter: statements and expressions with jinja2's (Python's) semantics; every loop and call is
// charged against the budgets. Attributes, items and the methods chat templates call: interpreter_methods.cpp;
// filters and tests: filters.cpp; Python's string and comparison rules: py_ops.h.
#include "tokenizer/jinja/interpreter.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>

#include "tokenizer/jinja/py_ops.h"
#include "tokenizer/unicode.h"

namespace loom::tokenizer::jinja {

Error fail(int line, std::string what) { return Error::invalid("chat template:{}: {}", line, what); }

using namespace py;

// ---------------------------------------------------------------- budgets

Status Interpreter::charge(uint64_t n) {
    steps_ += n;
    if (steps_ > limits_.max_steps)
        return Error::make(ErrorCode::out_of_range, "chat template: step budget of {} exceeded", limits_.max_steps);
    if ((steps_ & 1023) < n || n > 1023) {
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
        if (s > limits_.max_seconds)
            return Error::make(ErrorCode::out_of_range, "chat template: time budget of {} s exceeded",
                               limits_.max_seconds);
    }
    return Ok{};
}

Status Interpreter::check_size(size_t bytes, const char* what) const {
    if (bytes > limits_.max_output)
        return Error::make(ErrorCode::out_of_range, "chat template: {} of {} bytes exceeds the limit of {}", what,
                           bytes, limits_.max_output);
    return Ok{};
}

// ---------------------------------------------------------------- rendering

Result<std::string> Interpreter::render(const Body& body, const Object& context) {
    start_ = std::chrono::steady_clock::now();
    steps_ = 0;
    depth_ = 0;
    auto globals = std::make_shared<Object>();
    globals->set("range", Value(fn("range", [](Interpreter& in, const Args& a) -> Result<Value> {
                     int64_t start = 0, stop = 0, step = 1;
                     for (const Value& v : a.pos)
                         if (!v.is_int() && !v.is_bool()) return fail(0, "range() arguments must be integers");
                     if (a.pos.size() == 1) stop = a.pos[0].as_int();
                     else if (a.pos.size() >= 2) start = a.pos[0].as_int(), stop = a.pos[1].as_int();
                     if (a.pos.size() >= 3) step = a.pos[2].as_int();
                     if (step == 0) return fail(0, "range() step must not be zero");
                     const int64_t n = step > 0 ? (stop > start ? (stop - start + step - 1) / step : 0)
                                                : (start > stop ? (start - stop - step - 1) / -step : 0);
                     if (uint64_t(n) >
                         in.limits().max_output / sizeof(Value))  // before multiplying: n may be near 2^63
                         return Error::make(ErrorCode::out_of_range,
                                            "chat template: range() of {} items exceeds the limit", n);
                     LOOM_RETURN_IF_ERROR(in.charge(uint64_t(n)));
                     Array out;
                     for (int64_t i = 0; i < n; ++i) out.push_back(start + i * step);
                     return Value(std::move(out));
                 })));
    globals->set("namespace", Value(fn("namespace", [](Interpreter&, const Args& a) -> Result<Value> {
                     auto ns = std::make_shared<Namespace>();
                     for (const Value& v : a.pos)
                         if (v.is_object())
                             for (const auto& [k, x] : v.object().items) ns->attrs.set(k, x);
                     for (const auto& [k, v] : a.kw) ns->attrs.set(k, v);
                     return Value(ns);
                 })));
    globals->set("dict", Value(fn("dict", [](Interpreter&, const Args& a) -> Result<Value> {
                     Object o;
                     for (const Value& v : a.pos)
                         if (v.is_object())
                             for (const auto& [k, x] : v.object().items) o.set(k, x);
                     for (const auto& [k, v] : a.kw) o.set(k, v);
                     return Value(make_object(std::move(o)));
                 })));
    globals->set("raise_exception", Value(fn("raise_exception", [](Interpreter&, const Args& a) -> Result<Value> {
                     return Error::invalid("chat template: raise_exception: {}", to_str(arg(a, 0, "message")));
                 })));
    globals->set("strftime_now", Value(fn("strftime_now", [](Interpreter& in, const Args& a) -> Result<Value> {
                     const std::time_t t =
                         in.limits().now_unix ? std::time_t(*in.limits().now_unix) : std::time(nullptr);
                     std::tm tm{};
                     if (in.limits().now_unix) gmtime_r(&t, &tm);
                     else localtime_r(&t, &tm);
                     char buf[256];
                     const size_t n = std::strftime(buf, sizeof(buf), to_str(arg(a, 0, "format")).c_str(), &tm);
                     return Value(std::string(buf, n));
                 })));
    for (const auto& [k, v] : context.items) globals->set(k, v);
    frames_ = {globals, std::make_shared<Object>()};
    std::string out;
    LOOM_TRY(Flow f, exec(body, out));
    (void)f;
    return out;
}

Result<Interpreter::Flow> Interpreter::exec(const Body& body, std::string& out) {
    for (const StmtPtr& s : body) {
        LOOM_TRY(Flow f, exec(*s, out));
        if (f != Flow::normal) return f;
    }
    return Flow::normal;
}

Value Interpreter::lookup(const std::string& name) const {
    for (size_t i = frames_.size(); i-- > 0;)
        if (const Value* v = frames_[i]->find(name)) return *v;
    return Value();
}

void Interpreter::assign(const std::string& name, Value v) { frames_.back()->set(name, std::move(v)); }

Result<Interpreter::Flow> Interpreter::exec(const Stmt& s, std::string& out) {
    LOOM_RETURN_IF_ERROR(charge());
    switch (s.kind) {
        case Stmt::Kind::text:
            out += s.text;
            LOOM_RETURN_IF_ERROR(check_size(out.size(), "output"));
            return Flow::normal;
        case Stmt::Kind::output: {
            LOOM_TRY(Value v, eval(*s.expr));
            out += to_str(v);
            LOOM_RETURN_IF_ERROR(check_size(out.size(), "output"));
            return Flow::normal;
        }
        case Stmt::Kind::if_: {
            for (const auto& [cond, body] : s.branches) {
                LOOM_TRY(Value c, eval(*cond));
                if (c.truthy()) return exec(body, out);
            }
            return exec(s.else_body, out);
        }
        case Stmt::Kind::for_: {
            LOOM_TRY(Value seq, eval(*s.expr));
            if (seq.is_none()) return fail(s.line, "'NoneType' object is not iterable");
            LOOM_TRY(Array all, iterate(seq, s.line));
            frames_.push_back(std::make_shared<Object>());
            auto bind = [&](const Value& item) -> Status {
                if (s.targets.size() == 1) {
                    assign(s.targets[0], item);
                    return Ok{};
                }
                if (!item.is_array() || item.array().size() != s.targets.size())
                    return fail(s.line,
                                fmt::format("cannot unpack '{}' into {} names", item.type_name(), s.targets.size()));
                for (size_t k = 0; k < s.targets.size(); ++k) assign(s.targets[k], item.array()[k]);
                return Ok{};
            };
            Array items;
            if (s.cond) {  // the filter sees the loop variables, not `loop`
                for (const Value& it : all) {
                    LOOM_RETURN_IF_ERROR(bind(it));
                    LOOM_TRY(Value keep, eval(*s.cond));
                    if (keep.truthy()) items.push_back(it);
                }
            } else {
                items = std::move(all);
            }
            const int64_t n = int64_t(items.size());
            for (int64_t i = 0; i < n; ++i) {
                LOOM_RETURN_IF_ERROR(charge());
                LOOM_RETURN_IF_ERROR(bind(items[size_t(i)]));
                Object loop;
                loop.set("index", i + 1);
                loop.set("index0", i);
                loop.set("revindex", n - i);
                loop.set("revindex0", n - i - 1);
                loop.set("first", i == 0);
                loop.set("last", i == n - 1);
                loop.set("length", n);
                loop.set("previtem", i > 0 ? items[size_t(i - 1)] : Value());
                loop.set("nextitem", i + 1 < n ? items[size_t(i + 1)] : Value());
                loop.set("cycle", Value(fn("cycle", [i](Interpreter&, const Args& a) -> Result<Value> {
                             if (a.pos.empty()) return fail(0, "loop.cycle() needs arguments");
                             return a.pos[size_t(i) % a.pos.size()];
                         })));
                assign("loop", Value(make_object(std::move(loop))));
                LOOM_TRY(Flow f, exec(s.body, out));
                if (f == Flow::break_) break;
            }
            frames_.pop_back();
            if (n == 0) {
                LOOM_TRY(Flow f, exec(s.else_body, out));
                (void)f;
            }
            return Flow::normal;
        }
        case Stmt::Kind::set: {
            LOOM_TRY(Value v, eval(*s.expr));
            if (!s.ns_attr.empty()) {
                const Value ns = lookup(s.targets[0]);
                if (ns.kind() != Value::Kind::ns)
                    return fail(s.line, fmt::format("cannot assign attribute on '{}' ({}): not a namespace",
                                                    s.targets[0], ns.type_name()));
                ns.ns()->attrs.set(s.ns_attr, std::move(v));
                return Flow::normal;
            }
            if (s.targets.size() == 1) {
                assign(s.targets[0], std::move(v));
                return Flow::normal;
            }
            if (!v.is_array() || v.array().size() != s.targets.size())
                return fail(s.line, fmt::format("cannot unpack '{}' into {} names", v.type_name(), s.targets.size()));
            for (size_t k = 0; k < s.targets.size(); ++k) assign(s.targets[k], v.array()[k]);
            return Flow::normal;
        }
        case Stmt::Kind::set_block: {
            std::string inner;
            LOOM_TRY(Flow f, exec(s.body, inner));
            (void)f;
            assign(s.targets[0], Value(std::move(inner)));
            return Flow::normal;
        }
        case Stmt::Kind::macro: {
            const Stmt* m = &s;
            assign(s.name,
                   Value(fn(s.name, [m](Interpreter& in, const Args& a) { return in.call_macro(*m, a, m->line); })));
            return Flow::normal;
        }
        case Stmt::Kind::break_: return Flow::break_;
        case Stmt::Kind::continue_: return Flow::continue_;
        case Stmt::Kind::filter_block: {
            std::string inner;
            LOOM_TRY(Flow f, exec(s.body, inner));
            (void)f;
            Expr call;
            call.kind = Expr::Kind::filter;
            call.line = s.line;
            call.name = s.name;
            for (const auto& a : s.filter_args) {
                auto copy = std::make_unique<Expr>();
                copy->kind = Expr::Kind::literal;
                LOOM_TRY(copy->value, eval(*a));
                call.items.push_back(std::move(copy));
            }
            LOOM_TRY(Value v, filter(call, Value(std::move(inner))));
            out += to_str(v);
            LOOM_RETURN_IF_ERROR(check_size(out.size(), "output"));
            return Flow::normal;
        }
    }
    return Flow::normal;
}

Result<Value> Interpreter::call_macro(const Stmt& m, const Args& args, int line) {
    if (args.pos.size() > m.params.size())
        return fail(line,
                    fmt::format("macro '{}' takes {} arguments, {} given", m.name, m.params.size(), args.pos.size()));
    // A macro sees the globals and the template's variables, not its caller's loop variables.
    std::vector<Frame> saved = {frames_[0], frames_[1], std::make_shared<Object>()};
    std::swap(saved, frames_);
    struct Restore {
        std::vector<Frame>& f;
        std::vector<Frame>& s;
        ~Restore() { std::swap(f, s); }
    } restore{frames_, saved};
    for (const auto& [k, v] : args.kw)
        if (std::find(m.params.begin(), m.params.end(), k) == m.params.end())
            return fail(line, fmt::format("macro '{}' has no parameter '{}'", m.name, k));
    for (size_t i = 0; i < m.params.size(); ++i) {
        const Value* v = args.get(i, m.params[i]);
        if (v) {
            assign(m.params[i], *v);
        } else if (m.defaults[i]) {
            LOOM_TRY(Value d, eval(*m.defaults[i]));
            assign(m.params[i], d);
        } else {
            assign(m.params[i], Value());
        }
    }
    std::string out;
    LOOM_TRY(Flow f, exec(m.body, out));
    (void)f;
    return Value(std::move(out));
}

Result<Value> Interpreter::call(const Value& f, const Args& args, int line) {
    if (!f.is_callable()) return fail(line, fmt::format("'{}' object is not callable", f.type_name()));
    if (++depth_ > limits_.max_depth) {
        --depth_;
        return Error::make(ErrorCode::out_of_range, "chat template:{}: calls nested deeper than {}", line,
                           limits_.max_depth);
    }
    auto r = f.callable()->fn(*this, args);
    --depth_;
    return r;
}

Result<Args> Interpreter::eval_args(const Expr& e) {
    Args a;
    for (const auto& x : e.items) {
        LOOM_TRY(Value v, eval(*x));
        a.pos.push_back(std::move(v));
    }
    for (const auto& [k, x] : e.kwargs) {
        LOOM_TRY(Value v, eval(*x));
        a.kw.emplace_back(k, std::move(v));
    }
    return a;
}

// ---------------------------------------------------------------- expressions

Result<Value> Interpreter::eval(const Expr& e) {
    LOOM_RETURN_IF_ERROR(charge());
    switch (e.kind) {
        case Expr::Kind::literal: return e.value;
        case Expr::Kind::name: return lookup(e.name);
        case Expr::Kind::list:
        case Expr::Kind::tuple: {
            Array a;
            for (const auto& x : e.items) {
                LOOM_TRY(Value v, eval(*x));
                a.push_back(std::move(v));
            }
            return e.kind == Expr::Kind::tuple ? Value::tuple(std::move(a)) : Value(std::move(a));
        }
        case Expr::Kind::dict: {
            Object o;
            for (size_t i = 0; i + 1 < e.items.size(); i += 2) {
                LOOM_TRY(Value k, eval(*e.items[i]));
                LOOM_TRY(Value v, eval(*e.items[i + 1]));
                if (!can_be_key(k)) return fail(e.line, fmt::format("unhashable dict key of type '{}'", k.type_name()));
                o.set(encode_key(k), std::move(v));
            }
            return Value(make_object(std::move(o)));
        }
        case Expr::Kind::attr: {
            LOOM_TRY(Value v, eval(*e.a));
            return attribute(v, e.name, e.line);
        }
        case Expr::Kind::item: {
            LOOM_TRY(Value v, eval(*e.a));
            LOOM_TRY(Value k, eval(*e.b));
            return item(v, k, e.line);
        }
        case Expr::Kind::slice: {
            LOOM_TRY(Value v, eval(*e.a));
            std::optional<int64_t> part[3];
            for (int k = 0; k < 3; ++k) {
                if (!e.items[size_t(k)]) continue;
                LOOM_TRY(Value p, eval(*e.items[size_t(k)]));
                if (p.is_none()) continue;
                if (!p.is_int()) return fail(e.line, "slice indices must be integers");
                part[k] = p.as_int();
            }
            const int64_t step = part[2].value_or(1);
            if (step == 0) return fail(e.line, "slice step cannot be zero");
            Array src;
            std::vector<uint32_t> cps;
            int64_t n;
            if (v.is_array()) {
                n = int64_t(v.array().size());
            } else if (v.is_string()) {
                cps = cps_of(v.str());
                n = int64_t(cps.size());
            } else {
                return fail(e.line, fmt::format("'{}' object is not sliceable", v.type_name()));
            }
            auto clamp = [&](std::optional<int64_t> x, int64_t def, int64_t lo, int64_t hi) {
                if (!x) return def;
                int64_t i = *x < 0 ? *x + n : *x;
                return std::clamp(i, lo, hi);
            };
            const int64_t start = step > 0 ? clamp(part[0], 0, 0, n) : clamp(part[0], n - 1, -1, n - 1);
            const int64_t stop = step > 0 ? clamp(part[1], n, 0, n) : clamp(part[1], -1, -1, n - 1);
            Array outa;
            std::string outs;
            for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
                if (v.is_array()) outa.push_back(v.array()[size_t(i)]);
                else append_utf8(outs, std::min(cps[size_t(i)], kMaxCodePoint));
            }
            return v.is_array() ? Value(std::move(outa)) : Value(std::move(outs));
        }
        case Expr::Kind::call: {
            LOOM_TRY(Value f, eval(*e.a));
            LOOM_TRY(Args a, eval_args(e));
            if (f.is_undefined())
                return fail(e.line, e.a->kind == Expr::Kind::name ? fmt::format("'{}' is undefined", e.a->name)
                                                                  : std::string("calling an undefined value"));
            return call(f, a, e.line);
        }
        case Expr::Kind::filter: {
            LOOM_TRY(Value v, eval(*e.a));
            return filter(e, std::move(v));
        }
        case Expr::Kind::test: {
            LOOM_TRY(Value v, eval(*e.a));
            LOOM_TRY(bool t, test(e, v));
            return Value(t != e.negated);
        }
        case Expr::Kind::unary: {
            LOOM_TRY(Value v, eval(*e.a));
            if (e.name == "not") return Value(!v.truthy());
            if (!v.is_number())
                return fail(e.line, fmt::format("bad operand type for unary {}: '{}'", e.name, v.type_name()));
            if (e.name == "+") return v.is_float() ? v : Value(v.as_int());
            return v.is_float() ? Value(-v.as_double()) : Value(-v.as_int());
        }
        case Expr::Kind::binary: return eval_binary(e);
        case Expr::Kind::conditional: {
            LOOM_TRY(Value c, eval(*e.a));
            if (c.truthy()) return eval(*e.items[0]);
            if (e.items[1]) return eval(*e.items[1]);
            return Value();
        }
    }
    return Value();
}

Result<Value> Interpreter::eval_binary(const Expr& e) {
    const std::string& op = e.name;
    LOOM_TRY(Value a, eval(*e.a));
    if (op == "and") {
        if (!a.truthy()) return a;
        return eval(*e.b);
    }
    if (op == "or") {
        if (a.truthy()) return a;
        return eval(*e.b);
    }
    LOOM_TRY(Value b, eval(*e.b));
    const int line = e.line;
    auto type_error = [&]() {
        return fail(line,
                    fmt::format("unsupported operand types for {}: '{}' and '{}'", op, a.type_name(), b.type_name()));
    };
    if (op == "==") return Value(a == b);
    if (op == "!=") return Value(!(a == b));
    if (op == "<" || op == ">" || op == "<=" || op == ">=") {
        LOOM_TRY(int c, compare(a, b, line));
        return Value(op == "<" ? c < 0 : op == ">" ? c > 0 : op == "<=" ? c <= 0 : c >= 0);
    }
    if (op == "in" || op == "not in") {
        if (!b.is_string() && !b.is_array() && !b.is_object() && !b.is_undefined())
            return fail(line, fmt::format("argument of type '{}' is not iterable", b.type_name()));
        if (b.is_string() && !a.is_string())
            return fail(line, fmt::format("'in <string>' requires a string, not '{}'", a.type_name()));
        return Value(contains(b, a) != (op == "not in"));
    }
    if (op == "~") {
        std::string s = to_str(a) + to_str(b);
        LOOM_RETURN_IF_ERROR(check_size(s.size(), "string"));
        return Value(std::move(s));
    }
    if (op == "+") {
        if (a.is_string() && b.is_string()) {
            LOOM_RETURN_IF_ERROR(check_size(a.str().size() + b.str().size(), "string"));
            if (a.is_markup() || b.is_markup())  // Markup + str escapes the str
                return Value::markup((a.is_markup() ? a.str() : html_escape(a.str())) +
                                     (b.is_markup() ? b.str() : html_escape(b.str())));
            return Value(a.str() + b.str());
        }
        if (a.is_array() && b.is_array()) {
            LOOM_RETURN_IF_ERROR(check_size((a.array().size() + b.array().size()) * sizeof(Value), "list"));
            Array r = a.array();
            r.insert(r.end(), b.array().begin(), b.array().end());
            return Value(std::move(r));
        }
        if (!a.is_number() || !b.is_number()) return type_error();
        if (a.is_float() || b.is_float()) return Value(a.as_double() + b.as_double());
        return Value(a.as_int() + b.as_int());
    }
    if (op == "*") {
        const Value* seq = a.is_string() || a.is_array() ? &a : b.is_string() || b.is_array() ? &b : nullptr;
        const Value* cnt = seq == &a ? &b : &a;
        if (seq && (cnt->is_int() || cnt->is_bool())) {
            const int64_t n = std::max<int64_t>(0, cnt->as_int());
            if (seq->is_string()) {
                LOOM_RETURN_IF_ERROR(check_size(seq->str().size() * size_t(std::min<int64_t>(n, INT32_MAX)), "string"));
                std::string r;
                for (int64_t i = 0; i < n; ++i) r += seq->str();
                return Value(std::move(r));
            }
            LOOM_RETURN_IF_ERROR(
                check_size(seq->array().size() * sizeof(Value) * size_t(std::min<int64_t>(n, INT32_MAX)), "list"));
            Array r;
            for (int64_t i = 0; i < n; ++i) r.insert(r.end(), seq->array().begin(), seq->array().end());
            return Value(std::move(r));
        }
    }
    if (!a.is_number() || !b.is_number()) return type_error();
    const bool fl = a.is_float() || b.is_float();
    if (op == "-") return fl ? Value(a.as_double() - b.as_double()) : Value(a.as_int() - b.as_int());
    if (op == "*") return fl ? Value(a.as_double() * b.as_double()) : Value(a.as_int() * b.as_int());
    if (op == "/") {
        if (b.as_double() == 0) return fail(line, "division by zero");
        return Value(a.as_double() / b.as_double());
    }
    if (op == "//" || op == "%") {
        if (b.as_double() == 0) return fail(line, "integer division or modulo by zero");
        if (!fl) {
            const int64_t q = py_floordiv(a.as_int(), b.as_int());
            return op == "//" ? Value(q) : Value(a.as_int() - q * b.as_int());
        }
        const double q = std::floor(a.as_double() / b.as_double());
        return op == "//" ? Value(q) : Value(a.as_double() - q * b.as_double());
    }
    if (op == "**") {
        if (!fl && b.as_int() >= 0) {
            int64_t r = 1;
            for (int64_t i = 0; i < b.as_int() && i < 64; ++i) r *= a.as_int();
            return Value(r);
        }
        return Value(std::pow(a.as_double(), b.as_double()));
    }
    return type_error();
}

}  // namespace loom::tokenizer::jinja
