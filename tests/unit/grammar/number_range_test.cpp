#include "grammar/number_range.h"

#include <gtest/gtest.h>

#include <random>

#include "unit/grammar/grammar_testing.h"

namespace loom::grammar {
namespace {

// Thousandths as exact integers, written as JSON writes them: "-1.25", "0", "0.003".
std::string thousandths_text(int64_t v) {
    const bool negative = v < 0;
    const int64_t a = negative ? -v : v;
    std::string frac = fmt::format("{:03d}", a % 1000);
    frac.erase(frac.find_last_not_of('0') + 1);
    return fmt::format("{}{}{}{}", negative ? "-" : "", a / 1000, frac.empty() ? "" : ".", frac);
}

Decimal decimal(int64_t thousandths) { return parse_decimal(thousandths_text(thousandths)).value(); }

std::unique_ptr<Automaton> automaton(const std::string& expr) {
    auto g = parse_gbnf("root ::= " + expr + "\n");
    EXPECT_TRUE(g.ok()) << g.error().message() << "\n" << expr;
    if (!g.ok()) return nullptr;
    return std::make_unique<Automaton>(std::move(g).value());
}

TEST(NumberRange, ParsesJsonNumbersExactly) {
    const auto text = [](std::string_view t) { return to_string(parse_decimal(t).value()); };
    EXPECT_EQ(text("0"), "0");
    EXPECT_EQ(text("-0.0"), "0");
    EXPECT_EQ(text("12.500"), "12.5");
    EXPECT_EQ(text("1e-07"), "0.0000001");
    EXPECT_EQ(text("-1.5e+3"), "-1500");
    EXPECT_EQ(text("25E-1"), "2.5");
    EXPECT_EQ(text("0.001e3"), "1");
    for (const char* bad : {"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1.5x", "0x10", "1e99999"})
        EXPECT_FALSE(parse_decimal(bad).ok()) << bad;
    EXPECT_EQ(parse_decimal("1e+20").error().message(), "'1e+20' has more than 16 integer digits");
    EXPECT_TRUE(parse_decimal("9999999999999999").ok());
}

// Every value on a grid of thousandths matches exactly when it lies in the range, for random bounds of each
// kind (inclusive, exclusive, open), integers and numbers, against an oracle that compares integers.
TEST(NumberRange, MatchesExactlyTheValuesInRange) {
    std::mt19937 rng(7);
    const auto random_bound = [&](bool coarse) -> int64_t {
        const int64_t whole = int64_t(rng() % 41) - 20;  // -20 .. 20
        int64_t frac = coarse ? 0 : int64_t(rng() % 1000);
        if (rng() % 2) frac -= frac % 100;  // fewer fraction digits
        return whole * 1000 + (whole < 0 ? -frac : frac);
    };
    std::vector<int64_t> grid;
    for (int64_t v = -25000; v <= 25000; v += 37) grid.push_back(v);
    for (int64_t v = -25000; v <= 25000; v += 250) grid.push_back(v);
    for (int trial = 0; trial < 120; ++trial) {
        const bool integer = trial % 3 == 0;
        NumberBounds b;
        int64_t lo = 0, hi = 0;
        const int kind = trial % 4;  // both bounds, only lo, only hi, a narrow range
        if (kind != 2) lo = random_bound(trial % 5 == 0), b.lo = decimal(lo), b.lo_exclusive = rng() % 2;
        if (kind != 1) {
            hi = kind == 3 ? lo + int64_t(rng() % 40) : random_bound(trial % 7 == 0);
            if (b.lo && hi < lo) std::swap(lo, hi), b.lo = decimal(lo);
            b.hi = decimal(hi), b.hi_exclusive = rng() % 2;
        }
        const std::optional<std::string> expr = number_range_gbnf(b, integer, 15);
        const auto inside = [&](int64_t v) {
            if (integer && v % 1000 != 0) return false;
            if (b.lo && (b.lo_exclusive ? v <= lo : v < lo)) return false;
            if (b.hi && (b.hi_exclusive ? v >= hi : v > hi)) return false;
            return true;
        };
        std::vector<int64_t> values = grid;
        for (int64_t d = -3; d <= 3; ++d) values.insert(values.end(), {lo + d, hi + d, lo + 1000 * d, hi + 1000 * d});
        bool any = false;
        for (const int64_t v : values) any = any || inside(v);
        if (!expr) {
            // Only integer ranges with no integer (the grid holds every integer) and ranges with no value at
            // all: a range of decimals wider than a point holds one of 15 digits here.
            EXPECT_FALSE(any) << describe(b);
            if (!integer) EXPECT_EQ(lo, hi) << describe(b);
            continue;
        }
        auto a = automaton(*expr);
        ASSERT_TRUE(a);
        for (const int64_t v : values) {
            const std::string t = thousandths_text(v);
            EXPECT_EQ(testing::full_match(*a, t), inside(v))
                << describe(b) << (integer ? " integer " : " number ") << t;
        }
    }
}

TEST(NumberRange, WritesOnlyPlainNumbersOfBoundedLength) {
    NumberBounds b;
    b.lo = parse_decimal("-1").value();
    auto a = automaton(*number_range_gbnf(b, false, 15));
    ASSERT_TRUE(a);
    for (const char* good : {"-1", "-0.5", "0", "0.25", "2.50", "123456789012345", "0.123456789012345", "12345.6789"})
        EXPECT_TRUE(testing::full_match(*a, good)) << good;
    for (const char* bad : {"-1.5", "-0", "-0.0", "01", "1.", "1e3", "+1", "1234567890123456", "0.1234567890123456",
                            "12345.6789012345678", ".5"})
        EXPECT_FALSE(testing::full_match(*a, bad)) << bad;
    auto ints = automaton(*number_range_gbnf(b, true, 16));
    ASSERT_TRUE(ints);
    EXPECT_TRUE(testing::full_match(*ints, "1234567890123456"));
    EXPECT_FALSE(testing::full_match(*ints, "12345678901234567"));
    EXPECT_FALSE(testing::full_match(*ints, "1.0"));
}

TEST(NumberRange, LongBoundsStaySmall) {
    NumberBounds b;
    b.lo = parse_decimal("-987654321098.765").value();
    b.hi = parse_decimal("123456789012.34").value();
    b.hi_exclusive = true;
    const std::string expr = *number_range_gbnf(b, false, 15);
    EXPECT_LT(expr.size(), 6000U);
    auto a = automaton(expr);
    ASSERT_TRUE(a);
    for (const char* good : {"-987654321098.765", "-987654321098.764", "0", "123456789012.33", "123456789012.339"})
        EXPECT_TRUE(testing::full_match(*a, good)) << good;
    for (const char* bad :
         {"-987654321098.766", "-987654321099", "123456789012.34", "123456789012.341", "123456789013"})
        EXPECT_FALSE(testing::full_match(*a, bad)) << bad;
}

TEST(NumberRange, EmptyRangesHaveNoGrammar) {
    NumberBounds b;
    b.lo = parse_decimal("2").value();
    b.hi = parse_decimal("2").value();
    EXPECT_TRUE(number_range_gbnf(b, true, 16));
    b.hi_exclusive = true;
    EXPECT_FALSE(number_range_gbnf(b, true, 16));
    b.hi = parse_decimal("2.5").value();
    b.lo_exclusive = true;
    EXPECT_FALSE(number_range_gbnf(b, true, 16));
    EXPECT_TRUE(number_range_gbnf(b, false, 15));
    b.lo = parse_decimal("0.1234567890123451").value();
    b.hi = parse_decimal("0.1234567890123459").value();
    EXPECT_FALSE(number_range_gbnf(b, false, 15));  // no number of 15 digits lies between them
    EXPECT_EQ(describe(b), "(0.1234567890123451, 0.1234567890123459)");
}

}  // namespace
}  // namespace loom::grammar
