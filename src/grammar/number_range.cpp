// Ranges of decimals as GBNF. A number is a sign, a whole part and a fraction; the range splits at zero
// into a negative side (the mirror image of a non-negative range) and a non-negative side. On each side the
// whole part either equals a bound's whole part, and then the fraction is limited digit by digit, or lies
// strictly between them and takes any fraction. Whole parts of each length are a range of equally long
// digit strings, built by comparing the first digits of its ends.
#include "grammar/number_range.h"

#include <fmt/format.h>

#include <algorithm>
#include <vector>

namespace loom::grammar {

namespace {

// A GBNF expression; std::nullopt matches nothing and kEmpty only the empty text.
using Expr = std::optional<std::string>;
const std::string kEmpty = R"("")";

Expr seq(const Expr& a, const Expr& b) {
    if (!a || !b) return std::nullopt;
    if (*a == kEmpty) return b;
    if (*b == kEmpty) return a;
    return *a + " " + *b;
}

Expr alt(const std::vector<Expr>& parts) {
    std::vector<std::string> some;
    for (const Expr& p : parts) {
        if (p && std::find(some.begin(), some.end(), *p) == some.end()) some.push_back(*p);
    }
    if (some.empty()) return std::nullopt;
    if (some.size() == 1) return some[0];
    std::string out = "( " + some[0];
    for (size_t i = 1; i < some.size(); ++i) out += " | " + some[i];
    return out + " )";
}

Expr optional_of(const Expr& e) {
    if (!e || *e == kEmpty) return kEmpty;
    return "( " + *e + " )?";
}

Expr literal(std::string_view digits) { return digits.empty() ? kEmpty : fmt::format("\"{}\"", digits); }

// One digit from `from` to `to`.
Expr digit_class(char from, char to) {
    if (from > to) return std::nullopt;
    if (from == to) return literal(std::string_view(&from, 1));
    return fmt::format("[{}-{}]", from, to);
}

// From `lo` to `hi` digits of any value.
Expr any_digits(int lo, int hi) {
    if (hi < lo) return std::nullopt;
    if (hi == 0) return kEmpty;
    if (lo == hi) return fmt::format("[0-9]{{{}}}", lo);
    return fmt::format("[0-9]{{{},{}}}", lo, hi);
}

bool all_of(std::string_view s, char c) {
    return std::all_of(s.begin(), s.end(), [c](char x) { return x == c; });
}

// Digit strings as long as `x` and `y` that lie between them (x <= y).
Expr same_length(std::string_view x, std::string_view y) {
    if (x.empty()) return kEmpty;
    const std::string_view xr = x.substr(1), yr = y.substr(1);
    const int rest = int(xr.size());
    if (x[0] == y[0]) return seq(literal(x.substr(0, 1)), same_length(xr, yr));
    if (all_of(xr, '0') && all_of(yr, '9')) return seq(digit_class(x[0], y[0]), any_digits(rest, rest));
    return alt({seq(literal(x.substr(0, 1)), same_length(xr, std::string(size_t(rest), '9'))),
                seq(digit_class(char(x[0] + 1), char(y[0] - 1)), any_digits(rest, rest)),
                seq(literal(y.substr(0, 1)), same_length(std::string(size_t(rest), '0'), yr))});
}

// Fraction digit strings f of at most `budget` digits with lo < 0.f (or <=) and, when hi is given,
// 0.f < hi (or <=). lo and hi are digit strings without trailing zeros ("" is zero). `empty` says whether
// no fraction at all (the value 0) is in the range.
struct Fractions {
    Expr some;
    bool empty = false;
};

Fractions fractions(std::string_view lo, bool lo_ex, std::optional<std::string_view> hi, bool hi_ex, int budget) {
    Fractions out;
    out.empty = lo.empty() && !lo_ex && (!hi || !hi->empty() || !hi_ex);
    if (budget <= 0) return out;
    if (lo.empty() && !lo_ex && !hi) {
        out.some = any_digits(1, budget);
        return out;
    }
    const char l0 = lo.empty() ? '0' : lo[0];
    const std::string_view lr = lo.empty() ? lo : lo.substr(1);
    const auto after = [&](const Fractions& f) { return f.empty ? optional_of(f.some) : f.some; };
    std::vector<Expr> parts;
    if (hi) {
        const char h0 = hi->empty() ? '0' : (*hi)[0];
        const std::string_view hr = hi->empty() ? *hi : hi->substr(1);
        if (h0 < l0) return out;
        if (h0 == l0) {
            out.some = seq(literal(std::string_view(&l0, 1)), after(fractions(lr, lo_ex, hr, hi_ex, budget - 1)));
            return out;
        }
        parts.push_back(seq(literal(std::string_view(&h0, 1)), after(fractions("", false, hr, hi_ex, budget - 1))));
        parts.insert(parts.begin(), seq(digit_class(char(l0 + 1), char(h0 - 1)), any_digits(0, budget - 1)));
    } else {
        parts.push_back(seq(digit_class(char(l0 + 1), '9'), any_digits(0, budget - 1)));
    }
    parts.insert(parts.begin(),
                 seq(literal(std::string_view(&l0, 1)), after(fractions(lr, lo_ex, std::nullopt, false, budget - 1))));
    out.some = alt(parts);
    return out;
}

Expr with_fraction(const Expr& whole, const Fractions& f) {
    const Expr dotted = seq(R"(".")", f.some);
    if (f.empty) return seq(whole, optional_of(dotted));
    return seq(whole, dotted);
}

// Digit strings as numbers: n + 1 and n - 1 (n > 0), keeping "0" for zero.
std::string increment(std::string n) {
    for (size_t i = n.size(); i-- > 0;) {
        if (n[i] != '9') {
            ++n[i];
            return n;
        }
        n[i] = '0';
    }
    return "1" + n;
}

std::string decrement(std::string n) {
    for (size_t i = n.size(); i-- > 0;) {
        if (n[i] != '0') {
            --n[i];
            break;
        }
        n[i] = '9';
    }
    const size_t first = n.find_first_not_of('0');
    return first == std::string::npos ? "0" : n.substr(first);
}

bool less_whole(std::string_view a, std::string_view b) { return a.size() != b.size() ? a.size() < b.size() : a < b; }

struct Bound {
    std::string whole;  // "0" for zero
    std::string fraction;
    bool exclusive = false;
};

Bound bound_of(const Decimal& d, bool exclusive) { return {d.whole.empty() ? "0" : d.whole, d.fraction, exclusive}; }

// Non-negative numbers from lo to hi (hi absent: no upper bound but the digit count).
Expr non_negative(const Bound& lo, std::optional<Bound> hi, bool integer, int max_digits) {
    const auto budget = [&](std::string_view whole) {
        return integer ? 0 : max_digits - (whole == "0" ? 0 : int(whole.size()));
    };
    if (int(lo.whole.size()) > max_digits) return std::nullopt;
    if (hi && int(hi->whole.size()) > max_digits) hi.reset();  // every number we write lies below it
    if (hi && hi->whole == lo.whole)
        return with_fraction(literal(lo.whole),
                             fractions(lo.fraction, lo.exclusive, hi->fraction, hi->exclusive, budget(lo.whole)));
    std::vector<Expr> parts;
    parts.push_back(
        with_fraction(literal(lo.whole), fractions(lo.fraction, lo.exclusive, std::nullopt, false, budget(lo.whole))));
    const std::string from = increment(lo.whole);
    const std::string to = hi ? decrement(hi->whole) : std::string(size_t(max_digits), '9');
    for (size_t len = from.size(); len <= to.size(); ++len) {
        const std::string x = len == from.size() ? from : "1" + std::string(len - 1, '0');
        const std::string y = len == to.size() ? to : std::string(len, '9');
        if (less_whole(y, x)) continue;
        const int left = integer ? 0 : max_digits - int(len);
        parts.push_back(with_fraction(same_length(x, y), Fractions{any_digits(1, left), true}));
    }
    if (hi)
        parts.push_back(
            with_fraction(literal(hi->whole), fractions("", false, hi->fraction, hi->exclusive, budget(hi->whole))));
    return alt(parts);
}

}  // namespace

int compare_decimals(const Decimal& a, const Decimal& b) {
    if (a.negative != b.negative) return a.negative ? -1 : 1;
    int m = 0;  // magnitudes
    if (a.whole.size() != b.whole.size()) m = a.whole.size() < b.whole.size() ? -1 : 1;
    else if (a.whole != b.whole) m = a.whole < b.whole ? -1 : 1;
    else if (a.fraction != b.fraction) m = a.fraction < b.fraction ? -1 : 1;
    return a.negative ? -m : m;
}

std::string to_string(const Decimal& d) {
    return fmt::format("{}{}{}{}", d.negative ? "-" : "", d.whole.empty() ? "0" : d.whole,
                       d.fraction.empty() ? "" : ".", d.fraction);
}

std::string describe(const NumberBounds& b) {
    return fmt::format("{}{}, {}{}", b.lo && !b.lo_exclusive ? "[" : "(", b.lo ? to_string(*b.lo) : "-inf",
                       b.hi ? to_string(*b.hi) : "inf", b.hi && !b.hi_exclusive ? "]" : ")");
}

Result<Decimal> parse_decimal(std::string_view text, int max_whole, int max_fraction) {
    const auto bad = [&] { return Error::invalid("'{}' is not a JSON number", text); };
    size_t i = 0;
    const auto digits = [&] {
        const size_t start = i;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
        return std::string(text.substr(start, i - start));
    };
    Decimal d;
    const bool minus = i < text.size() && text[i] == '-';
    i += minus;
    const std::string whole = digits();
    if (whole.empty() || (whole.size() > 1 && whole[0] == '0')) return bad();
    std::string fraction;
    if (i < text.size() && text[i] == '.') {
        ++i;
        fraction = digits();
        if (fraction.empty()) return bad();
    }
    long exponent = 0;
    if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
        ++i;
        const bool negative_exponent = i < text.size() && text[i] == '-';
        i += i < text.size() && (text[i] == '-' || text[i] == '+');
        const std::string e = digits();
        if (e.empty()) return bad();
        if (e.size() > 4) return Error::invalid("'{}' is out of range", text);
        exponent = std::stol(e) * (negative_exponent ? -1 : 1);
    }
    if (i != text.size()) return bad();
    // The digits with the decimal point moved by the exponent.
    const std::string all = whole + fraction;
    const long point = long(whole.size()) + exponent;
    if (point <= 0) {
        d.fraction = std::string(size_t(-point), '0') + all;
    } else if (point >= long(all.size())) {
        d.whole = all + std::string(size_t(point - long(all.size())), '0');
    } else {
        d.whole = all.substr(0, size_t(point));
        d.fraction = all.substr(size_t(point));
    }
    d.whole.erase(0, std::min(d.whole.find_first_not_of('0'), d.whole.size()));
    d.fraction.erase(d.fraction.find_last_not_of('0') + 1);
    if (int(d.whole.size()) > max_whole) return Error::invalid("'{}' has more than {} integer digits", text, max_whole);
    if (int(d.fraction.size()) > max_fraction)
        return Error::invalid("'{}' has more than {} fraction digits", text, max_fraction);
    d.negative = minus && !(d.whole.empty() && d.fraction.empty());
    return d;
}

std::optional<std::string> number_range_gbnf(const NumberBounds& b, bool integer, int max_digits) {
    if (b.lo && b.hi) {
        const int c = compare_decimals(*b.lo, *b.hi);
        if (c > 0 || (c == 0 && (b.lo_exclusive || b.hi_exclusive))) return std::nullopt;
    }
    std::vector<Expr> sides;
    // Negative numbers -y: y from |hi| (or from just above 0) up to |lo|.
    if (!b.lo || b.lo->negative) {
        const Bound zero{"0", "", true};
        const Bound from = b.hi && b.hi->negative ? bound_of(*b.hi, b.hi_exclusive) : zero;
        std::optional<Bound> to;
        if (b.lo) to = bound_of(*b.lo, b.lo_exclusive);
        sides.push_back(seq(R"("-")", non_negative(from, to, integer, max_digits)));
    }
    if (!b.hi || !b.hi->negative) {
        const Bound from = b.lo && !b.lo->negative ? bound_of(*b.lo, b.lo_exclusive) : Bound{"0", "", false};
        std::optional<Bound> to;
        if (b.hi) to = bound_of(*b.hi, b.hi_exclusive);
        sides.push_back(non_negative(from, to, integer, max_digits));
    }
    return alt(sides);
}

}  // namespace loom::grammar
