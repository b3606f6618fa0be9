// The small expression language of architecture files: hyperparameters derived from metadata
// (`n_embd // n_head`), per-layer rules (`layer % 6 < 5`) and block options (`1 / sqrt(head_dim)`).
//
// Grammar (lowest precedence first):
//   expr    := or ( '?' expr ':' expr )?
//   or      := and ( '||' and )*          and := cmp ( '&&' cmp )*
//   cmp     := sum ( ('=='|'!='|'<'|'<='|'>'|'>=') sum )?
//   sum     := prod ( ('+'|'-') prod )*   prod := unary ( ('*'|'/'|'//'|'%') unary )*
//   unary   := ('-'|'!') unary | primary
//   primary := number | 'string' | name | name '(' args ')' | '(' expr ')'
// `/` is real division and `//` floor division, so `n_embd // n_head` is an integer and `1 / 8` is 0.125.
// Booleans are numbers (0 false, anything else true). Values are numbers, strings or number arrays
// (metadata arrays, indexed with at(array, i)).
// Built-in functions: sqrt log exp floor ceil abs min max pow(x, y) at(a, i) len(a) sum(a), and f32(x): x rounded
// to the nearest float, so an option can be the exact float llama.cpp computes (`f32(1 / f32(sqrt(n_embd)))` is
// 1.0f / sqrtf(n_embd): a double result of one IEEE operation on floats rounds to the float one). Other names (has,
// shape) are the caller's: the Scope answers them, so the language knows nothing about models.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace loom::arch {

struct Value {
    enum class Kind : uint8_t { number, string, array };
    Kind kind = Kind::number;
    double num = 0;
    std::string str;
    std::vector<double> arr;

    static Value number(double v) { return Value{Kind::number, v, {}, {}}; }
    static Value string(std::string s) { return Value{Kind::string, 0, std::move(s), {}}; }
    static Value array(std::vector<double> a) { return Value{Kind::array, 0, {}, std::move(a)}; }
    bool is_number() const { return kind == Kind::number; }
    bool truthy() const;            // a nonzero number, a non-empty string or array
    std::string to_string() const;  // for messages: 4096, 'yarn', [1, 2, 3]
};

// What an expression can see besides its own literals.
class Scope {
public:
    virtual ~Scope() = default;
    // A name: a parameter, a per-layer value, `layer`. Unknown names are Error::not_found.
    virtual Result<Value> lookup(std::string_view name) const = 0;
    // A function the language does not define itself (e.g. has('tensor'), shape('tensor', 0)).
    virtual Result<Value> call(std::string_view fn, std::span<const Value> args) const;
};

class Expr {
public:
    // Parses `text`. Errors say where in the text: `expected ')' at column 12 in 'min(a, b'`.
    static Result<Expr> parse(std::string_view text);
    // A constant expression (a TOML number or bool in an architecture file).
    static Expr constant(double v);

    Result<Value> eval(const Scope& scope) const;
    // eval() that must give a number / an integer (a whole number within int64 range).
    Result<double> eval_number(const Scope& scope) const;
    Result<int64_t> eval_int(const Scope& scope) const;

    const std::string& text() const { return text_; }
    // The names the expression reads (parameters and per-layer values), for dependency checks.
    std::vector<std::string> names() const;

    struct Node;

private:
    std::string text_;
    std::shared_ptr<const Node> root_;  // immutable, shared by copies
};

}  // namespace loom::arch
