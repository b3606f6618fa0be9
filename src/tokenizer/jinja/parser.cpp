// Jinja recursive-descent parser over the lexer's pieces and tokens (lexer.h): jinja2's grammar and operator
// precedence, reduced to the statements chat templates use: if/elif/else, for/else with a filter condition, set
// (names, tuples, namespace attributes, blocks), macro, break/continue, filter blocks, raw, and HF's generation tag.
#include "tokenizer/jinja/parser.h"

#include <cctype>
#include <cstring>

#include "tokenizer/jinja/lexer.h"

namespace loom::tokenizer::jinja {
namespace {

// ---------------------------------------------------------------- expressions

class ExprParser {
public:
    ExprParser(std::vector<Tok> toks, int line, size_t max_depth)
        : t_(std::move(toks)), line_(line), max_depth_(max_depth) {}

    bool at_end() const { return t_[i_].kind == Tok::end; }
    const Tok& peek(size_t k = 0) const { return t_[std::min(i_ + k, t_.size() - 1)]; }
    bool is_op(const char* op, size_t k = 0) const { return peek(k).kind == Tok::op && peek(k).text == op; }
    bool is_name(const char* n, size_t k = 0) const { return peek(k).kind == Tok::name && peek(k).text == n; }
    Tok next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }

    Error error(std::string_view what) const {
        const Tok& t = peek();
        const std::string got = t.kind == Tok::end      ? "end of tag"
                                : t.kind == Tok::string ? "a string"
                                                        : "'" + t.text + "'";
        return Error::invalid("chat template:{}: {} (got {})", line_, what, got);
    }
    Status expect_op(const char* op) {
        if (!is_op(op)) return error(fmt::format("expected '{}'", op));
        next();
        return Ok{};
    }
    Result<std::string> expect_name() {
        if (peek().kind != Tok::name) return error("expected a name");
        return next().text;
    }

    ExprPtr node(Expr::Kind k) {
        auto e = std::make_unique<Expr>();
        e->kind = k;
        e->line = line_;
        return e;
    }

    // A full expression, or an implicit tuple "a, b" when `tuple` is set.
    Result<ExprPtr> expression(bool tuple = false) {
        LOOM_TRY(ExprPtr first, conditional());
        if (!tuple || !is_op(",")) return first;
        auto t = node(Expr::Kind::tuple);
        t->items.push_back(std::move(first));
        while (is_op(",")) {
            next();
            if (at_end() || is_op(")") || is_op("]")) break;
            LOOM_TRY(ExprPtr e, conditional());
            t->items.push_back(std::move(e));
        }
        return t;
    }

    Result<ExprPtr> conditional() {
        if (++depth_ > max_depth_) return error("expression nested too deeply");
        LOOM_TRY(ExprPtr a, or_expr());
        while (is_name("if")) {
            next();
            auto c = node(Expr::Kind::conditional);
            LOOM_TRY(c->a, or_expr());
            c->items.push_back(std::move(a));
            if (is_name("else")) {
                next();
                LOOM_TRY(ExprPtr e, conditional());
                c->items.push_back(std::move(e));
            } else {
                c->items.push_back(nullptr);  // no else: undefined
            }
            a = std::move(c);
        }
        --depth_;
        return a;
    }

    Result<ExprPtr> binary_chain(Result<ExprPtr> (ExprParser::*sub)(), std::initializer_list<const char*> ops,
                                 bool names) {
        LOOM_TRY(ExprPtr a, (this->*sub)());
        while (true) {
            const char* hit = nullptr;
            for (const char* op : ops)
                if (names ? is_name(op) : is_op(op)) hit = op;
            if (!hit) return a;
            next();
            auto b = node(Expr::Kind::binary);
            b->name = hit;
            b->a = std::move(a);
            LOOM_TRY(b->b, (this->*sub)());
            a = std::move(b);
        }
    }

    Result<ExprPtr> or_expr() { return binary_chain(&ExprParser::and_expr, {"or"}, true); }
    Result<ExprPtr> and_expr() { return binary_chain(&ExprParser::not_expr, {"and"}, true); }
    Result<ExprPtr> not_expr() {
        if (is_name("not")) {
            next();
            auto u = node(Expr::Kind::unary);
            u->name = "not";
            LOOM_TRY(u->a, not_expr());
            return u;
        }
        return compare();
    }
    Result<ExprPtr> compare() {
        LOOM_TRY(ExprPtr a, math1());
        while (true) {
            std::string op;
            if (is_op("==") || is_op("!=") || is_op("<") || is_op(">") || is_op("<=") || is_op(">=")) {
                op = next().text;
            } else if (is_name("in")) {
                next();
                op = "in";
            } else if (is_name("not") && is_name("in", 1)) {
                next(), next();
                op = "not in";
            } else {
                return a;
            }
            auto b = node(Expr::Kind::binary);
            b->name = op;
            b->a = std::move(a);
            LOOM_TRY(b->b, math1());
            a = std::move(b);
        }
    }
    Result<ExprPtr> math1() { return binary_chain(&ExprParser::concat, {"+", "-"}, false); }
    Result<ExprPtr> concat() { return binary_chain(&ExprParser::math2, {"~"}, false); }
    Result<ExprPtr> math2() { return binary_chain(&ExprParser::power, {"*", "/", "//", "%"}, false); }
    Result<ExprPtr> power() { return binary_chain(&ExprParser::unary_filtered, {"**"}, false); }

    Result<ExprPtr> unary_filtered() {
        LOOM_TRY(ExprPtr e, unary());
        return filters(std::move(e));
    }
    Result<ExprPtr> unary() {
        if (is_op("-") || is_op("+")) {
            if (++depth_ > max_depth_) return error("expression nested too deeply");
            auto u = node(Expr::Kind::unary);
            u->name = next().text;
            LOOM_TRY(u->a, unary());
            --depth_;
            return u;
        }
        LOOM_TRY(ExprPtr p, primary());
        return postfix(std::move(p));
    }

    Status call_args(Expr& e) {
        LOOM_RETURN_IF_ERROR(expect_op("("));
        while (!is_op(")")) {
            if (peek().kind == Tok::name && is_op("=", 1)) {
                std::string k = next().text;
                next();
                LOOM_TRY(ExprPtr v, conditional());
                e.kwargs.emplace_back(std::move(k), std::move(v));
            } else {
                LOOM_TRY(ExprPtr v, conditional());
                e.items.push_back(std::move(v));
            }
            if (!is_op(",")) break;
            next();
        }
        return expect_op(")");
    }

    Result<ExprPtr> postfix(ExprPtr e) {
        while (true) {
            if (is_op(".")) {
                next();
                auto a = node(Expr::Kind::attr);
                if (peek().kind == Tok::integer) {  // a.0 is a[0]
                    a->kind = Expr::Kind::item;
                    auto idx = node(Expr::Kind::literal);
                    idx->value = next().value;
                    a->b = std::move(idx);
                } else {
                    LOOM_TRY(a->name, expect_name());
                }
                a->a = std::move(e);
                e = std::move(a);
            } else if (is_op("[")) {
                next();
                ExprPtr parts[3];
                bool slice = false;
                for (int k = 0; k < 3; ++k) {
                    if (!is_op(":") && !is_op("]")) {
                        LOOM_TRY(parts[k], expression());
                    }
                    if (is_op(":") && k < 2) {
                        next();
                        slice = true;
                        continue;
                    }
                    break;
                }
                LOOM_RETURN_IF_ERROR(expect_op("]"));
                if (slice) {
                    auto s = node(Expr::Kind::slice);
                    s->a = std::move(e);
                    for (auto& p : parts) s->items.push_back(std::move(p));
                    e = std::move(s);
                } else {
                    if (!parts[0]) return error("empty subscript");
                    auto it = node(Expr::Kind::item);
                    it->a = std::move(e);
                    it->b = std::move(parts[0]);
                    e = std::move(it);
                }
            } else if (is_op("(")) {
                auto c = node(Expr::Kind::call);
                c->a = std::move(e);
                LOOM_RETURN_IF_ERROR(call_args(*c));
                e = std::move(c);
            } else {
                return e;
            }
        }
    }

    Result<ExprPtr> filters(ExprPtr e) {
        while (true) {
            if (is_op("|")) {
                next();
                auto f = node(Expr::Kind::filter);
                LOOM_TRY(f->name, expect_name());
                if (is_op(".")) return error("unexpected '.' in a filter name");
                if (is_op("(")) LOOM_RETURN_IF_ERROR(call_args(*f));
                f->a = std::move(e);
                e = std::move(f);
            } else if (is_name("is")) {
                next();
                auto t = node(Expr::Kind::test);
                if (is_name("not")) {
                    next();
                    t->negated = true;
                }
                LOOM_TRY(t->name, expect_name());
                if (is_op("(")) {
                    LOOM_RETURN_IF_ERROR(call_args(*t));
                } else if (starts_test_argument()) {
                    LOOM_TRY(ExprPtr arg, unary());
                    t->items.push_back(std::move(arg));
                }
                t->a = std::move(e);
                e = std::move(t);
            } else {
                return e;
            }
        }
    }

    // jinja2 takes one argument without parentheses after a test name when one follows.
    bool starts_test_argument() const {
        const Tok& t = peek();
        if (t.kind == Tok::string || t.kind == Tok::integer || t.kind == Tok::floating) return true;
        if (t.kind == Tok::name) {
            static const char* stop[] = {"and", "or", "else", "if", "is", "in", "not", "for", "recursive"};
            for (const char* s : stop)
                if (t.text == s) return false;
            return true;
        }
        return is_op("[") || is_op("{") || is_op("-");
    }

    Result<ExprPtr> primary() {
        const Tok t = peek();
        if (t.kind == Tok::string) {
            std::string s;
            while (peek().kind == Tok::string) s += next().value.str();  // adjacent strings concatenate
            auto l = node(Expr::Kind::literal);
            l->value = Value(std::move(s));
            return l;
        }
        if (t.kind == Tok::integer || t.kind == Tok::floating) {
            next();
            auto l = node(Expr::Kind::literal);
            l->value = t.value;
            return l;
        }
        if (t.kind == Tok::name) {
            next();
            auto l = node(Expr::Kind::literal);
            if (t.text == "true" || t.text == "True") l->value = Value(true);
            else if (t.text == "false" || t.text == "False") l->value = Value(false);
            else if (t.text == "none" || t.text == "None") l->value = Value::none();
            else {
                l->kind = Expr::Kind::name;
                l->name = t.text;
            }
            return l;
        }
        if (is_op("(")) {
            next();
            if (is_op(")")) {
                next();
                return node(Expr::Kind::tuple);
            }
            LOOM_TRY(ExprPtr e, expression(true));
            LOOM_RETURN_IF_ERROR(expect_op(")"));
            return e;
        }
        if (is_op("[")) {
            next();
            auto l = node(Expr::Kind::list);
            while (!is_op("]")) {
                LOOM_TRY(ExprPtr e, conditional());
                l->items.push_back(std::move(e));
                if (!is_op(",")) break;
                next();
            }
            LOOM_RETURN_IF_ERROR(expect_op("]"));
            return l;
        }
        if (is_op("{")) {
            next();
            auto d = node(Expr::Kind::dict);
            while (!is_op("}")) {
                LOOM_TRY(ExprPtr k, conditional());
                LOOM_RETURN_IF_ERROR(expect_op(":"));
                LOOM_TRY(ExprPtr v, conditional());
                d->items.push_back(std::move(k));
                d->items.push_back(std::move(v));
                if (!is_op(",")) break;
                next();
            }
            LOOM_RETURN_IF_ERROR(expect_op("}"));
            return d;
        }
        return error("expected an expression");
    }

private:
    std::vector<Tok> t_;
    size_t i_ = 0;
    int line_;
    size_t max_depth_;
    size_t depth_ = 0;
};

// ---------------------------------------------------------------- statements

class Parser {
public:
    Parser(std::vector<Piece> pieces, const ParseOptions& opt) : p_(std::move(pieces)), opt_(opt) {}

    // Parses statements until a block tag whose first word is in `ends` (returned in `end_tag`, the tag's
    // parser positioned after that word), or the end of the template when `ends` is empty.
    Status body(Body& out, std::initializer_list<const char*> ends, std::string* end_word,
                std::unique_ptr<ExprParser>* end_parser) {
        if (++depth_ > opt_.max_depth)
            return Error::invalid("chat template:{}: blocks nested deeper than {}", line(), opt_.max_depth);
        while (i_ < p_.size()) {
            const Piece& pc = p_[i_];
            if (pc.kind == Piece::text) {
                auto s = stmt(Stmt::Kind::text, pc.line);
                s->text = pc.content;
                out.push_back(std::move(s));
                ++i_;
                continue;
            }
            LOOM_TRY(std::vector<Tok> toks, lex(pc.content, pc.line));
            auto ep = std::make_unique<ExprParser>(std::move(toks), pc.line, opt_.max_depth);
            ++i_;
            if (pc.kind == Piece::var) {
                auto s = stmt(Stmt::Kind::output, pc.line);
                LOOM_TRY(s->expr, ep->expression(true));
                if (!ep->at_end()) return ep->error("expected the end of the expression");
                out.push_back(std::move(s));
                continue;
            }
            LOOM_TRY(std::string word, ep->expect_name());
            for (const char* e : ends) {
                if (word == e) {
                    *end_word = word;
                    *end_parser = std::move(ep);
                    --depth_;
                    return Ok{};
                }
            }
            LOOM_TRY(StmtPtr s, block(word, *ep, pc.line));
            if (s) out.push_back(std::move(s));
        }
        if (ends.size() > 0) {
            std::string list;
            for (const char* e : ends) list += (list.empty() ? "'" : ", '") + std::string(e) + "'";
            return Error::invalid("chat template: unexpected end of template (expected {})", list);
        }
        --depth_;
        return Ok{};
    }

private:
    int line() const { return i_ < p_.size() ? p_[i_].line : (p_.empty() ? 1 : p_.back().line); }
    static StmtPtr stmt(Stmt::Kind k, int line) {
        auto s = std::make_unique<Stmt>();
        s->kind = k;
        s->line = line;
        return s;
    }
    static Status end_of_tag(ExprParser& ep) {
        if (!ep.at_end()) return ep.error("expected the end of the tag");
        return Ok{};
    }

    Result<std::vector<std::string>> targets(ExprParser& ep) {
        std::vector<std::string> names;
        const bool paren = ep.is_op("(");
        if (paren) ep.next();
        while (true) {
            LOOM_TRY(std::string n, ep.expect_name());
            names.push_back(std::move(n));
            if (!ep.is_op(",")) break;
            ep.next();
        }
        if (paren) LOOM_RETURN_IF_ERROR(ep.expect_op(")"));
        return names;
    }

    Result<StmtPtr> block(const std::string& word, ExprParser& ep, int line) {
        std::string end;
        std::unique_ptr<ExprParser> end_ep;
        if (word == "if") {
            auto s = stmt(Stmt::Kind::if_, line);
            LOOM_TRY(ExprPtr cond, ep.expression());
            LOOM_RETURN_IF_ERROR(end_of_tag(ep));
            while (true) {
                Body b;
                LOOM_RETURN_IF_ERROR(body(b, {"elif", "else", "endif"}, &end, &end_ep));
                s->branches.emplace_back(std::move(cond), std::move(b));
                if (end == "elif") {
                    LOOM_TRY(cond, end_ep->expression());
                    LOOM_RETURN_IF_ERROR(end_of_tag(*end_ep));
                    continue;
                }
                LOOM_RETURN_IF_ERROR(end_of_tag(*end_ep));
                if (end == "else") {
                    LOOM_RETURN_IF_ERROR(body(s->else_body, {"endif"}, &end, &end_ep));
                    LOOM_RETURN_IF_ERROR(end_of_tag(*end_ep));
                }
                return s;
            }
        }
        if (word == "for") {
            auto s = stmt(Stmt::Kind::for_, line);
            LOOM_TRY(s->targets, targets(ep));
            if (!ep.is_name("in")) return ep.error("expected 'in'");
            ep.next();
            LOOM_TRY(s->expr, ep.or_expr());  // not a conditional: "if" here filters the loop
            if (ep.is_op(",")) {              // an implicit tuple
                auto t = ep.node(Expr::Kind::tuple);
                t->items.push_back(std::move(s->expr));
                while (ep.is_op(",")) {
                    ep.next();
                    LOOM_TRY(ExprPtr e, ep.or_expr());
                    t->items.push_back(std::move(e));
                }
                s->expr = std::move(t);
            }
            if (ep.is_name("if")) {
                ep.next();
                LOOM_TRY(s->cond, ep.expression());
            }
            if (ep.is_name("recursive")) return ep.error("recursive loops are not supported");
            LOOM_RETURN_IF_ERROR(end_of_tag(ep));
            LOOM_RETURN_IF_ERROR(body(s->body, {"else", "endfor"}, &end, &end_ep));
            LOOM_RETURN_IF_ERROR(end_of_tag(*end_ep));
            if (end == "else") {
                LOOM_RETURN_IF_ERROR(body(s->else_body, {"endfor"}, &end, &end_ep));
                LOOM_RETURN_IF_ERROR(end_of_tag(*end_ep));
            }
            return s;
        }
        if (word == "set") {
            LOOM_TRY(std::vector<std::string> names, targets(ep));
            auto s = stmt(Stmt::Kind::set, line);
            if (names.size() == 1 && ep.is_op(".")) {  // set ns.attr = value
                ep.next();
                LOOM_TRY(s->ns_attr, ep.expect_name());
            }
            s->targets = std::move(names);
            if (ep.is_op("=")) {
                ep.next();
                LOOM_TRY(s->expr, ep.expression(true));
                LOOM_RETURN_IF_ERROR(end_of_tag(ep));
                return s;
            }
            if (s->targets.size() != 1 || !s->ns_attr.empty()) return ep.error("expected '='");
            s->kind = Stmt::Kind::set_block;
            LOOM_RETURN_IF_ERROR(end_of_tag(ep));
            LOOM_RETURN_IF_ERROR(body(s->body, {"endset"}, &end, &end_ep));
            LOOM_RETURN_IF_ERROR(end_of_tag(*end_ep));
            return s;
        }
        if (word == "macro") {
            auto s = stmt(Stmt::Kind::macro, line);
            LOOM_TRY(s->name, ep.expect_name());
            LOOM_RETURN_IF_ERROR(ep.expect_op("("));
            while (!ep.is_op(")")) {
                LOOM_TRY(std::string p, ep.expect_name());
                s->params.push_back(std::move(p));
                ExprPtr def;
                if (ep.is_op("=")) {
                    ep.next();
                    LOOM_TRY(def, ep.conditional());
                }
                s->defaults.push_back(std::move(def));
                if (!ep.is_op(",")) break;
                ep.next();
            }
            LOOM_RETURN_IF_ERROR(ep.expect_op(")"));
            LOOM_RETURN_IF_ERROR(end_of_tag(ep));
            LOOM_RETURN_IF_ERROR(body(s->body, {"endmacro"}, &end, &end_ep));
            LOOM_RETURN_IF_ERROR(end_of_tag(*end_ep));
            return s;
        }
        if (word == "break" || word == "continue") {
            LOOM_RETURN_IF_ERROR(end_of_tag(ep));
            return stmt(word == "break" ? Stmt::Kind::break_ : Stmt::Kind::continue_, line);
        }
        if (word == "filter") {
            auto s = stmt(Stmt::Kind::filter_block, line);
            LOOM_TRY(s->name, ep.expect_name());
            if (ep.is_op("(")) {
                Expr args;
                LOOM_RETURN_IF_ERROR(ep.call_args(args));
                s->filter_args = std::move(args.items);
            }
            LOOM_RETURN_IF_ERROR(end_of_tag(ep));
            LOOM_RETURN_IF_ERROR(body(s->body, {"endfilter"}, &end, &end_ep));
            LOOM_RETURN_IF_ERROR(end_of_tag(*end_ep));
            return s;
        }
        if (word == "generation") {  // HF's marker for assistant tokens: renders its body unchanged
            LOOM_RETURN_IF_ERROR(end_of_tag(ep));
            auto s = stmt(Stmt::Kind::if_, line);
            auto yes = ep.node(Expr::Kind::literal);
            yes->value = Value(true);
            Body b;
            LOOM_RETURN_IF_ERROR(body(b, {"endgeneration"}, &end, &end_ep));
            LOOM_RETURN_IF_ERROR(end_of_tag(*end_ep));
            s->branches.emplace_back(std::move(yes), std::move(b));
            return s;
        }
        return Error::invalid("chat template:{}: unknown or misplaced tag '{}'", line, word);
    }

    std::vector<Piece> p_;
    ParseOptions opt_;
    size_t i_ = 0;
    size_t depth_ = 0;
};

}  // namespace

Result<Body> parse(std::string_view source, const ParseOptions& opt) {
    LOOM_TRY(std::vector<Piece> pieces, split_pieces(source, opt));
    Parser p(std::move(pieces), opt);
    Body body;
    std::string end;
    std::unique_ptr<ExprParser> ep;
    LOOM_RETURN_IF_ERROR(p.body(body, {}, &end, &ep));
    return body;
}

}  // namespace loom::tokenizer::jinja
