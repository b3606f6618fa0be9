// The syntax tree of loom's Jinja subset, as the parser builds it and the interpreter walks it.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tokenizer/jinja/value.h"

namespace loom::tokenizer::jinja {

struct Expr;
struct Stmt;
using ExprPtr = std::unique_ptr<Expr>;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

struct Expr {
    enum class Kind {
        literal,      // value
        name,         // name
        list,         // items
        tuple,        // items
        dict,         // pairs (items[2i] key, items[2i+1] value)
        attr,         // a.name
        item,         // a[b]
        slice,        // a[b:c:d] (items: start, stop, step; null when absent)
        call,         // a(args)
        filter,       // a | name(args)
        test,         // a is [not] name(args)
        unary,        // op a        (op: "not", "-", "+")
        binary,       // a op b
        conditional,  // items[0] if a else items[1]
    };
    Kind kind;
    int line = 0;
    Value value;                 // literal
    std::string name;            // name, attr, filter, test, operator
    ExprPtr a, b;                // operands
    std::vector<ExprPtr> items;  // list/tuple/dict items, positional args, slice parts
    std::vector<std::pair<std::string, ExprPtr>> kwargs;
    bool negated = false;  // is not
};

struct Stmt {
    enum class Kind { text, output, if_, for_, set, set_block, macro, break_, continue_, filter_block };
    Kind kind;
    int line = 0;
    std::string text;                                // text
    ExprPtr expr;                                    // output, set value, for iterable
    std::vector<std::pair<ExprPtr, Body>> branches;  // if / elif
    Body body, else_body;                            // for, macro, set_block, if's else
    std::vector<std::string> targets;                // for / set: names (several: tuple unpacking)
    std::string ns_attr;                             // set ns.attr = ...: targets[0] is the namespace
    ExprPtr cond;                                    // for ... if cond
    std::string name;                                // macro name, filter_block filter
    std::vector<std::string> params;                 // macro parameters
    std::vector<ExprPtr> defaults;                   // macro defaults (null when none)
    std::vector<ExprPtr> filter_args;                // filter_block arguments
};

}  // namespace loom::tokenizer::jinja
