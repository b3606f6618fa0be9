// GBNF for JSON numbers inside a range (JSON Schema's minimum, maximum, exclusiveMinimum, exclusiveMaximum).
//
// The grammar is built digit by digit from the bounds' decimal digits, so any range is exact and small (a
// few rules per bound digit) however many values it spans. Numbers come out in plain decimal notation
// without an exponent, without leading zeros and without "-0", and with at most `max_digits` digits in all
// (integer and fraction digits; the "0" of "0.25" not counted). With 15 digits, two different decimals
// never read as the same double, so a validator comparing doubles agrees with the grammar's decimal
// comparison; integers may use 16.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace loom::grammar {

// An exact decimal: sign, integer digits without leading zeros ("" for 0), fraction digits without
// trailing zeros. Zero is never negative.
struct Decimal {
    bool negative = false;
    std::string whole;
    std::string fraction;
};

// `text` in JSON number syntax ("-12.5e-3"). Fails on anything else, and when the value has more than
// `max_whole` integer digits or more than `max_fraction` fraction digits.
Result<Decimal> parse_decimal(std::string_view text, int max_whole = 16, int max_fraction = 32);

// -1, 0 or 1 as a is below, equal to or above b.
int compare_decimals(const Decimal& a, const Decimal& b);
// "-12.5", "0", "0.001".
std::string to_string(const Decimal& d);

struct NumberBounds {
    std::optional<Decimal> lo, hi;
    bool lo_exclusive = false, hi_exclusive = false;
};

// "[0.5, 2)", "(-inf, 10]".
std::string describe(const NumberBounds& b);

// A GBNF expression (using only character classes and literals: no rule names) matching the numbers in
// `bounds`; integers only when `integer`. std::nullopt when no number of at most `max_digits` digits lies
// in the range.
std::optional<std::string> number_range_gbnf(const NumberBounds& bounds, bool integer, int max_digits);

}  // namespace loom::grammar
