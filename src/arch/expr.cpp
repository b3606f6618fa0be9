// Recursive-descent parser and tree evaluator for architecture-file expressions (grammar in expr.h).
#include "arch/expr.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace loom::arch {

struct Expr::Node {
    enum class Kind : uint8_t { number, string, name, call, unary, binary, ternary };
    Kind kind;
    std::string op;  // operator, or the name of a variable/function
    Value literal;
    std::vector<std::shared_ptr<const Node>> kids;
    int depth = 1;  // of the tree below and including this node
};

using NodePtr = std::shared_ptr<const Expr::Node>;
using Kind = Expr::Node::Kind;

bool Value::truthy() const {
    if (kind == Kind::string) return !str.empty();
    if (kind == Kind::array) return !arr.empty();
    return num != 0;
}

std::string Value::to_string() const {
    switch (kind) {
        case Kind::number: return fmt::format("{}", num);
        case Kind::string: return fmt::format("'{}'", str);
        case Kind::array: {
            std::string s = "[";
            for (size_t i = 0; i < arr.size() && i < 8; ++i) s += fmt::format("{}{}", i ? ", " : "", arr[i]);
            if (arr.size() > 8) s += fmt::format(", ... ({} items)", arr.size());
            return s + "]";
        }
    }
    return "?";
}

Result<Value> Scope::call(std::string_view fn, std::span<const Value>) const {
    return Error::not_found("unknown function '{}'", fn);
}

namespace {

class Parser {
public:
    explicit Parser(std::string_view s) : s_(s) {}

    Result<NodePtr> parse_all() {
        LOOM_TRY(NodePtr n, expr());
        skip_space();
        if (i_ != s_.size()) return fail("unexpected '{}'", s_.substr(i_, 1));
        return n;
    }

private:
    std::string_view s_;
    size_t i_ = 0;

    template <typename... Args>
    Error fail(fmt::format_string<Args...> f, Args&&... args) const {
        return Error::invalid("{} at column {} in '{}'", fmt::format(f, std::forward<Args>(args)...), i_ + 1, s_);
    }

    void skip_space() {
        while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
    }
    // Consumes `tok` if it comes next. Single-character operators do not match the start of a longer
    // one ('<' is not taken from '<=', '/' not from '//').
    bool eat(std::string_view tok) {
        skip_space();
        if (s_.substr(i_, tok.size()) != tok) return false;
        if (tok.size() == 1 && i_ + 1 < s_.size()) {
            const char next = s_[i_ + 1];
            if ((tok == "<" || tok == ">" || tok == "!" || tok == "=") && next == '=') return false;
            if (tok == "/" && next == '/') return false;
        }
        i_ += tok.size();
        return true;
    }

    // Parsing, evaluation and freeing all recurse over the tree, so its depth is bounded: text such as
    // "((((..." or "1+1+1+..." would otherwise exhaust the stack. Real expressions nest a few levels.
    static constexpr int kMaxDepth = 100;

    Result<NodePtr> make(Kind k, std::string op, std::vector<NodePtr> kids, Value lit = {}) const {
        int depth = 1;
        for (const NodePtr& kid : kids) depth = std::max(depth, kid->depth + 1);
        if (depth > kMaxDepth) return fail("expression nested deeper than {} levels", kMaxDepth);
        return std::make_shared<const Expr::Node>(Expr::Node{k, std::move(op), std::move(lit), std::move(kids), depth});
    }
    // Counts the parser's own recursion (each '(' or '?:' level, each prefix operator), which can go deep
    // before any node exists ("((((...", "----...").
    struct Nest {
        explicit Nest(int& d) : d_(++d) {}
        ~Nest() { --d_; }
        int& d_;
    };
    int nest_ = 0;

    Result<NodePtr> expr() {
        const Nest nest(nest_);
        if (nest_ > kMaxDepth) return fail("expression nested deeper than {} levels", kMaxDepth);
        LOOM_TRY(NodePtr c, logic_or());
        if (!eat("?")) return c;
        LOOM_TRY(NodePtr a, expr());
        if (!eat(":")) return fail("expected ':' of '?:'");
        LOOM_TRY(NodePtr b, expr());
        return make(Kind::ternary, "?:", {c, a, b});
    }
    Result<NodePtr> logic_or() {
        LOOM_TRY(NodePtr l, logic_and());
        while (eat("||")) {
            LOOM_TRY(NodePtr r, logic_and());
            LOOM_TRY(l, make(Kind::binary, "||", {l, r}));
        }
        return l;
    }
    Result<NodePtr> logic_and() {
        LOOM_TRY(NodePtr l, compare());
        while (eat("&&")) {
            LOOM_TRY(NodePtr r, compare());
            LOOM_TRY(l, make(Kind::binary, "&&", {l, r}));
        }
        return l;
    }
    Result<NodePtr> compare() {
        LOOM_TRY(NodePtr l, sum());
        for (std::string_view op : {"==", "!=", "<=", ">=", "<", ">"}) {
            if (eat(op)) {
                LOOM_TRY(NodePtr r, sum());
                return make(Kind::binary, std::string(op), {l, r});
            }
        }
        return l;
    }
    Result<NodePtr> sum() {
        LOOM_TRY(NodePtr l, product());
        for (;;) {
            std::string op = eat("+") ? "+" : eat("-") ? "-" : "";
            if (op.empty()) return l;
            LOOM_TRY(NodePtr r, product());
            LOOM_TRY(l, make(Kind::binary, op, {l, r}));
        }
    }
    Result<NodePtr> product() {
        LOOM_TRY(NodePtr l, unary());
        for (;;) {
            std::string op = eat("*") ? "*" : eat("//") ? "//" : eat("/") ? "/" : eat("%") ? "%" : "";
            if (op.empty()) return l;
            LOOM_TRY(NodePtr r, unary());
            LOOM_TRY(l, make(Kind::binary, op, {l, r}));
        }
    }
    Result<NodePtr> unary() {
        for (const char* op : {"-", "!"}) {
            if (!eat(op)) continue;
            const Nest nest(nest_);
            if (nest_ > kMaxDepth) return fail("expression nested deeper than {} levels", kMaxDepth);
            LOOM_TRY(NodePtr x, unary());
            return make(Kind::unary, op, {x});
        }
        return primary();
    }
    Result<NodePtr> primary() {
        skip_space();
        if (i_ >= s_.size()) return fail("unexpected end of expression");
        const char c = s_[i_];
        if (c == '(') {
            ++i_;
            LOOM_TRY(NodePtr x, expr());
            if (!eat(")")) return fail("expected ')'");
            return x;
        }
        if (c == '\'') {
            const size_t end = s_.find('\'', i_ + 1);
            if (end == std::string_view::npos) return fail("unterminated string");
            std::string str(s_.substr(i_ + 1, end - i_ - 1));
            i_ = end + 1;
            return make(Kind::string, "", {}, Value::string(std::move(str)));
        }
        if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') {
            const std::string rest(s_.substr(i_));
            char* end = nullptr;
            const double v = std::strtod(rest.c_str(), &end);
            if (end == rest.c_str()) return fail("bad number");
            i_ += size_t(end - rest.c_str());
            return make(Kind::number, "", {}, Value::number(v));
        }
        if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
            const size_t start = i_;
            while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) || s_[i_] == '_')) ++i_;
            std::string name(s_.substr(start, i_ - start));
            if (name == "true" || name == "false") return make(Kind::number, "", {}, Value::number(name == "true"));
            if (!eat("(")) return make(Kind::name, std::move(name), {});
            std::vector<NodePtr> args;
            if (!eat(")")) {
                for (;;) {
                    LOOM_TRY(NodePtr a, expr());
                    args.push_back(std::move(a));
                    if (eat(")")) break;
                    if (!eat(",")) return fail("expected ',' or ')' in the arguments of {}()", name);
                }
            }
            return make(Kind::call, std::move(name), std::move(args));
        }
        return fail("unexpected '{}'", s_.substr(i_, 1));
    }
};

Result<double> as_number(const Value& v, std::string_view what) {
    if (!v.is_number()) return Error::invalid("{} needs a number, got {}", what, v.to_string());
    return v.num;
}

bool truthy(const Value& v) { return v.truthy(); }

Result<Value> call_builtin(const std::string& fn, std::span<const Value> a, const Scope& scope, bool& handled) {
    handled = true;
    auto want = [&](size_t n) -> Status {
        if (a.size() != n)
            return Error::invalid("{}() takes {} argument{}, got {}", fn, n, n == 1 ? "" : "s", a.size());
        return Ok();
    };
    using F = double (*)(double);
    static constexpr std::pair<std::string_view, F> kMath[] = {
        {"sqrt", [](double x) { return std::sqrt(x); }}, {"log", [](double x) { return std::log(x); }},
        {"exp", [](double x) { return std::exp(x); }},   {"floor", [](double x) { return std::floor(x); }},
        {"ceil", [](double x) { return std::ceil(x); }}, {"abs", [](double x) { return std::fabs(x); }},
    };
    for (const auto& [name, f] : kMath) {
        if (fn == name) {
            LOOM_RETURN_IF_ERROR(want(1));
            LOOM_TRY(double x, as_number(a[0], fn + "()"));
            return Value::number(f(x));
        }
    }
    if (fn == "f32") {
        LOOM_RETURN_IF_ERROR(want(1));
        LOOM_TRY(double x, as_number(a[0], "f32()"));
        return Value::number(double(float(x)));
    }
    if (fn == "pow") {  // pow(x, y) = x^y in double (f32(pow(f32(b), f32(e))) is a correctly rounded powf)
        LOOM_RETURN_IF_ERROR(want(2));
        LOOM_TRY(double x, as_number(a[0], "pow()"));
        LOOM_TRY(double y, as_number(a[1], "pow()"));
        return Value::number(std::pow(x, y));
    }
    if (fn == "min" || fn == "max") {
        LOOM_RETURN_IF_ERROR(want(2));
        LOOM_TRY(double x, as_number(a[0], fn + "()"));
        LOOM_TRY(double y, as_number(a[1], fn + "()"));
        return Value::number(fn == "min" ? std::min(x, y) : std::max(x, y));
    }
    if (fn == "at") {  // at(array, i); a scalar is the same for every i (per-layer keys may be either)
        LOOM_RETURN_IF_ERROR(want(2));
        LOOM_TRY(double i, as_number(a[1], "at() index"));
        if (a[0].is_number()) return a[0];
        if (a[0].kind != Value::Kind::array) return Error::invalid("at() needs an array, got {}", a[0].to_string());
        if (i < 0 || i >= double(a[0].arr.size()) || i != std::floor(i))
            return Error::invalid("at(): index {} outside the array of {} items", i, a[0].arr.size());
        return Value::number(a[0].arr[size_t(i)]);
    }
    if (fn == "sum") {  // sum(array): how many layers a 0/1 per-layer pattern marks, for example
        LOOM_RETURN_IF_ERROR(want(1));
        if (a[0].is_number()) return a[0];
        if (a[0].kind != Value::Kind::array) return Error::invalid("sum() needs an array, got {}", a[0].to_string());
        double total = 0;
        for (double x : a[0].arr) total += x;
        return Value::number(total);
    }
    if (fn == "len") {
        LOOM_RETURN_IF_ERROR(want(1));
        if (a[0].kind == Value::Kind::array) return Value::number(double(a[0].arr.size()));
        if (a[0].kind == Value::Kind::string) return Value::number(double(a[0].str.size()));
        return Error::invalid("len() needs an array or string, got {}", a[0].to_string());
    }
    handled = false;
    return scope.call(fn, a);
}

Result<Value> eval_node(const Expr::Node& n, const Scope& scope) {
    switch (n.kind) {
        case Kind::number:
        case Kind::string: return n.literal;
        case Kind::name: return scope.lookup(n.op);
        case Kind::call: {
            std::vector<Value> args;
            for (const auto& k : n.kids) {
                LOOM_TRY(Value v, eval_node(*k, scope));
                args.push_back(std::move(v));
            }
            bool handled = false;
            return call_builtin(n.op, args, scope, handled);
        }
        case Kind::unary: {
            LOOM_TRY(Value x, eval_node(*n.kids[0], scope));
            if (n.op == "!") return Value::number(!truthy(x));
            LOOM_TRY(double v, as_number(x, "unary '-'"));
            return Value::number(-v);
        }
        case Kind::ternary: {
            LOOM_TRY(Value c, eval_node(*n.kids[0], scope));
            return eval_node(*n.kids[truthy(c) ? 1 : 2], scope);
        }
        case Kind::binary: {
            LOOM_TRY(Value l, eval_node(*n.kids[0], scope));
            if (n.op == "&&" && !truthy(l)) return Value::number(0);  // short-circuit: the right side may not apply
            if (n.op == "||" && truthy(l)) return Value::number(1);
            LOOM_TRY(Value r, eval_node(*n.kids[1], scope));
            if (n.op == "&&" || n.op == "||") return Value::number(truthy(r));
            if (n.op == "==" || n.op == "!=") {
                bool eq = false;
                if (l.kind != r.kind) eq = false;
                else if (l.is_number()) eq = l.num == r.num;
                else if (l.kind == Value::Kind::string) eq = l.str == r.str;
                else eq = l.arr == r.arr;
                return Value::number(n.op == "==" ? eq : !eq);
            }
            LOOM_TRY(double x, as_number(l, fmt::format("'{}'", n.op)));
            LOOM_TRY(double y, as_number(r, fmt::format("'{}'", n.op)));
            if (n.op == "<") return Value::number(x < y);
            if (n.op == "<=") return Value::number(x <= y);
            if (n.op == ">") return Value::number(x > y);
            if (n.op == ">=") return Value::number(x >= y);
            if (n.op == "+") return Value::number(x + y);
            if (n.op == "-") return Value::number(x - y);
            if (n.op == "*") return Value::number(x * y);
            if (n.op == "/") {
                if (y == 0) return Error::invalid("division by zero ({} / 0)", x);
                return Value::number(x / y);
            }
            if (n.op == "//" || n.op == "%") {
                if (y == 0) return Error::invalid("division by zero ({} {} 0)", x, n.op);
                const double q = std::floor(x / y);
                return Value::number(n.op == "//" ? q : x - q * y);
            }
            return Error::make(ErrorCode::internal, "unknown operator '{}'", n.op);
        }
    }
    return Error::make(ErrorCode::internal, "bad expression node");
}

void collect_names(const Expr::Node& n, std::vector<std::string>& out) {
    if (n.kind == Kind::name) out.push_back(n.op);
    for (const auto& k : n.kids) collect_names(*k, out);
}

}  // namespace

Result<Expr> Expr::parse(std::string_view text) {
    Parser p(text);
    LOOM_TRY(NodePtr root, p.parse_all());
    Expr e;
    e.text_ = std::string(text);
    e.root_ = std::move(root);
    return e;
}

Expr Expr::constant(double v) {
    Expr e;
    e.text_ = fmt::format("{}", v);
    e.root_ = std::make_shared<const Node>(Node{Kind::number, "", Value::number(v), {}, 1});
    return e;
}

Result<Value> Expr::eval(const Scope& scope) const {
    LOOM_ASSERT(root_ != nullptr, "evaluating an empty expression");
    auto v = eval_node(*root_, scope);
    if (!v.ok()) return std::move(v).error().with_context(fmt::format("'{}'", text_));
    return v;
}

Result<double> Expr::eval_number(const Scope& scope) const {
    LOOM_TRY(Value v, eval(scope));
    if (!v.is_number()) return Error::invalid("'{}': expected a number, got {}", text_, v.to_string());
    if (!std::isfinite(v.num)) return Error::invalid("'{}': not a finite number ({})", text_, v.num);
    return v.num;
}

Result<int64_t> Expr::eval_int(const Scope& scope) const {
    LOOM_TRY(double v, eval_number(scope));
    if (v != std::floor(v) || std::fabs(v) > 9.0e15)
        return Error::invalid("'{}': expected a whole number, got {}", text_, v);
    return int64_t(v);
}

std::vector<std::string> Expr::names() const {
    std::vector<std::string> out;
    if (root_) collect_names(*root_, out);
    return out;
}

}  // namespace loom::arch
