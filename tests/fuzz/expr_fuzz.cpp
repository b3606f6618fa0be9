// libFuzzer target for the expression language of architecture files (src/arch/expr.h): arbitrary text is
// parsed and, when it parses, evaluated in a scope with a number, a string and an array, as a number and as
// an integer. Invariants: no crash and no stack exhaustion (nesting is bounded), errors carry a message, and
// an integer result is a whole number.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "arch/expr.h"

namespace {

using loom::Result;
using loom::arch::Expr;
using loom::arch::Value;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "expr_fuzz: invariant broken: %s\n", what);
    std::abort();
}

class FuzzScope : public loom::arch::Scope {
public:
    Result<Value> lookup(std::string_view name) const override {
        if (name == "n") return Value::number(4096);
        if (name == "s") return Value::string("yarn");
        if (name == "a") return Value::array({1, 0.5, -3, 1e300});
        return loom::Error::not_found("unknown name '{}'", name);
    }
};

template <typename T>
void check_error(const Result<T>& r) {
    if (!r.ok() && r.error().message().empty()) fail("an error without a message");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    auto e = Expr::parse(text);
    check_error(e);
    if (!e.ok()) return 0;
    (void)e->names();
    const FuzzScope scope;
    const auto v = e->eval(scope);
    check_error(v);
    if (v.ok()) (void)v->to_string();
    check_error(e->eval_number(scope));
    const auto i = e->eval_int(scope);
    check_error(i);
    if (i.ok() && (!v.ok() || !v->is_number())) fail("eval_int accepted a value that is not a number");
    return 0;
}
