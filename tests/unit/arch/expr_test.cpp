// The architecture-file expression language: precedence, integer vs real division, functions, errors.
#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "arch/expr.h"

namespace loom::arch {
namespace {

class MapScope : public Scope {
public:
    std::map<std::string, Value> vars;
    Result<Value> lookup(std::string_view name) const override {
        auto it = vars.find(std::string(name));
        if (it == vars.end()) return Error::not_found("unknown name '{}'", name);
        return it->second;
    }
};

double eval(const std::string& text, const MapScope& s = {}) {
    auto e = Expr::parse(text);
    EXPECT_TRUE(e.ok()) << text << ": " << e.error().message();
    auto v = e->eval_number(s);
    EXPECT_TRUE(v.ok()) << text << ": " << v.error().message();
    return v.ok() ? *v : -12345;
}

std::string error_of(const std::string& text, const MapScope& s = {}) {
    auto e = Expr::parse(text);
    if (!e.ok()) return e.error().message();
    auto v = e->eval(s);
    return v.ok() ? "" : v.error().message();
}

TEST(Expr, PrecedenceAndAssociativity) {
    EXPECT_EQ(eval("1 + 2 * 3"), 7);
    EXPECT_EQ(eval("(1 + 2) * 3"), 9);
    EXPECT_EQ(eval("10 - 4 - 3"), 3);
    EXPECT_EQ(eval("-2 * -3"), 6);
    EXPECT_EQ(eval("1 + 2 == 3 && 4 > 3"), 1);
    EXPECT_EQ(eval("0 || 2 < 1"), 0);
    EXPECT_EQ(eval("1 ? 2 : 3"), 2);
    EXPECT_EQ(eval("0 ? 2 : 1 ? 4 : 5"), 4);  // right-associative ?:
}

TEST(Expr, DivisionKinds) {
    EXPECT_EQ(eval("1 / 8"), 0.125);  // real division: 1 / rope_factor must not be 0
    EXPECT_EQ(eval("2048 // 32"), 64);
    EXPECT_EQ(eval("7 // 2"), 3);
    EXPECT_EQ(eval("-7 // 2"), -4);  // floor
    EXPECT_EQ(eval("7 % 3"), 1);
    EXPECT_NE(error_of("1 / 0").find("division by zero"), std::string::npos);
    EXPECT_NE(error_of("5 // 0").find("division by zero"), std::string::npos);
}

TEST(Expr, NamesStringsArraysAndFunctions) {
    MapScope s;
    s.vars["n_embd"] = Value::number(2048);
    s.vars["n_head"] = Value::number(32);
    s.vars["rope_type"] = Value::string("yarn");
    s.vars["pattern"] = Value::array({1, 1, 0});
    EXPECT_EQ(eval("n_embd // n_head", s), 64);
    EXPECT_EQ(eval("rope_type == 'yarn' ? 1 : 0", s), 1);
    EXPECT_EQ(eval("rope_type != 'none'", s), 1);
    EXPECT_EQ(eval("at(pattern, 2)", s), 0);
    EXPECT_EQ(eval("at(n_head, 7)", s), 32);  // a scalar is the same for every layer
    EXPECT_EQ(eval("len(pattern)", s), 3);
    EXPECT_NEAR(eval("1 / sqrt(n_embd // n_head)", s), 0.125, 1e-15);
    EXPECT_EQ(eval("max(3, min(10, 4))"), 4);
    EXPECT_NEAR(eval("log(exp(2))"), 2, 1e-12);
    EXPECT_EQ(eval("floor(2.7) + ceil(2.1) + abs(-1)"), 6);
    EXPECT_EQ(eval("pow(2, 10) + pow(4, 0.5)"), 1026);
    EXPECT_NE(error_of("pow(2)").find("pow() takes 2 arguments"), std::string::npos) << error_of("pow(2)");
    EXPECT_EQ(eval("true && !false"), 1);
}

TEST(Expr, F32RoundsAsFloatArithmetic) {
    // 1.0f / sqrtf(1536.0f): the float llama.cpp scales by, which the double 1 / sqrt(1536) need not round to.
    const float want = 1.0f / std::sqrt(1536.0f);
    EXPECT_EQ(eval("f32(1 / f32(sqrt(1536)))"), double(want));
    for (int n : {2, 3, 640, 1152, 1536, 2304, 2560, 5376}) {
        MapScope s;
        s.vars["n"] = Value::number(n);
        EXPECT_EQ(eval("f32(1 / f32(sqrt(n)))", s), double(1.0f / std::sqrt(float(n)))) << n;
        EXPECT_EQ(eval("f32(sqrt(n))", s), double(std::sqrt(float(n)))) << n;
    }
    EXPECT_NE(error_of("f32('x')").find("f32() needs a number"), std::string::npos);
}

TEST(Expr, ShortCircuitSkipsTheOtherSide) {
    // The right side would fail (unknown name): && and || must not evaluate it when the left decides.
    EXPECT_EQ(eval("0 && missing > 1"), 0);
    EXPECT_EQ(eval("1 || missing > 1"), 1);
    EXPECT_EQ(eval("1 ? 2 : missing"), 2);
}

TEST(Expr, ErrorsSayWhere) {
    EXPECT_NE(error_of("min(1, 2").find("column 9"), std::string::npos) << error_of("min(1, 2");
    EXPECT_NE(error_of("1 +").find("unexpected end"), std::string::npos);
    EXPECT_NE(error_of("2 $ 3").find("unexpected '$'"), std::string::npos);
    EXPECT_NE(error_of("'abc").find("unterminated string"), std::string::npos);
    EXPECT_NE(error_of("n_hed + 1").find("unknown name 'n_hed'"), std::string::npos);
    EXPECT_NE(error_of("sqrt(1, 2)").find("takes 1 argument"), std::string::npos);
    EXPECT_NE(error_of("frobnicate(1)").find("unknown function 'frobnicate'"), std::string::npos);
    EXPECT_NE(error_of("at(3, 'x')").find("needs a number"), std::string::npos);
    MapScope s;
    s.vars["a"] = Value::array({1, 2});
    EXPECT_NE(error_of("at(a, 2)", s).find("outside the array"), std::string::npos);
    EXPECT_NE(error_of("a + 1", s).find("needs a number"), std::string::npos);
}

// Parsing, evaluating and freeing recurse over the tree: deep text is refused instead of using up the stack.
TEST(Expr, DeepNestingIsRefused) {
    EXPECT_EQ(eval(std::string(50, '(') + "1" + std::string(50, ')')), 1);
    EXPECT_EQ(eval(std::string(99, '-') + "1"), -1);
    for (const std::string& deep : {std::string(5000, '(') + "1" + std::string(5000, ')'), std::string(5000, '-') + "1",
                                    std::string(5000, '!') + "1"}) {
        EXPECT_NE(error_of(deep).find("nested deeper than 100 levels"), std::string::npos) << deep.size();
    }
    std::string chain = "1";
    for (int i = 0; i < 3000; ++i) chain += "+1";
    EXPECT_NE(error_of(chain).find("nested deeper than 100 levels"), std::string::npos);
}

TEST(Expr, WholeNumbersAndNames) {
    auto e = Expr::parse("n_embd / 3 + layer");
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->names(), (std::vector<std::string>{"n_embd", "layer"}));
    MapScope s;
    s.vars["n_embd"] = Value::number(10);
    s.vars["layer"] = Value::number(0);
    auto i = e->eval_int(s);
    ASSERT_FALSE(i.ok());
    EXPECT_NE(i.error().message().find("whole number"), std::string::npos);
}

}  // namespace
}  // namespace loom::arch
