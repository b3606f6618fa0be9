// A recursive-descent reader of the pattern that writes GBNF as it goes. Character sets are kept as sorted
// code point ranges until they are written, so that negation and the JSON escapes are exact.
#include "grammar/regex_gbnf.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "grammar/json_primitives.h"
#include "grammar/utf8_step.h"
#include "tokenizer/unicode.h"

namespace loom::grammar {

namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr int kMaxRepeat = 1000;

using Ranges = std::vector<std::pair<char32_t, char32_t>>;  // inclusive

Ranges normalized(Ranges r) {
    std::sort(r.begin(), r.end());
    Ranges out;
    for (const auto& [a, b] : r) {
        if (!out.empty() && a <= out.back().second + 1) out.back().second = std::max(out.back().second, b);
        else out.emplace_back(a, b);
    }
    return out;
}

Ranges complement(const Ranges& r) {
    Ranges out;
    char32_t next = 0;
    for (const auto& [a, b] : normalized(r)) {
        if (a > next) out.emplace_back(next, a - 1);
        next = b + 1;
    }
    if (next <= kMaxCodePoint) out.emplace_back(next, kMaxCodePoint);
    return out;
}

bool contains(const Ranges& r, char32_t c) {
    return std::any_of(r.begin(), r.end(), [c](const auto& ab) { return ab.first <= c && c <= ab.second; });
}

const Ranges kDigit = {{'0', '9'}};
const Ranges kWord = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
const Ranges kSpace = {{'\t', '\r'},     {' ', ' '},       {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
                       {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
const Ranges kLineTerminators = {{'\n', '\n'}, {'\r', '\r'}, {0x2028, 0x2029}};

// One code point in a GBNF character class.
std::string class_char(char32_t c) {
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) return std::string(1, char(c));
    if (c < 0x100) return fmt::format("\\x{:02X}", uint32_t(c));
    if (c < 0x10000) return fmt::format("\\u{:04X}", uint32_t(c));
    return fmt::format("\\U{:08X}", uint32_t(c));
}

// How JSON writes control character `c` inside a string.
std::string json_escape(char32_t c) {
    switch (c) {
        case '\n': return "\\n";
        case '\t': return "\\t";
        case '\r': return "\\r";
        case '\b': return "\\b";
        case '\f': return "\\f";
        default: return fmt::format("\\u{:04x}", uint32_t(c));
    }
}

// Alternatives as one GBNF expression (a group only when there are several).
std::string alternatives(const std::vector<std::string>& alts) {
    if (alts.size() == 1) return alts[0];
    std::string out = "( " + alts[0];
    for (size_t i = 1; i < alts.size(); ++i) out += " | " + alts[i];
    return out + " )";
}

// The set as JSON string text: the characters written as they are in one class, and each that JSON escapes
// as its escape. Control characters are left out when `with_controls` is false.
std::optional<std::string> json_chars(const Ranges& set, bool with_controls) {
    std::vector<std::string> alts;
    Ranges plain;
    for (auto [a, b] : normalized(set)) {
        a = std::max<char32_t>(a, 0x20);
        for (const char32_t special : {U'"', U'\\'}) {
            if (a <= special && special <= b) {
                if (a < special) plain.emplace_back(a, special - 1);
                a = special + 1;
            }
        }
        if (a <= b) plain.emplace_back(a, b);
    }
    if (!plain.empty()) {
        std::string cls = "[";
        for (const auto& [a, b] : plain) cls += a == b ? class_char(a) : class_char(a) + "-" + class_char(b);
        alts.push_back(cls + "]");
    }
    if (contains(set, '"')) alts.push_back(json_rules::literal("\\\""));
    if (contains(set, '\\')) alts.push_back(json_rules::literal("\\\\"));
    if (with_controls) {
        for (char32_t c = 0; c < 0x20; ++c) {
            if (contains(set, c)) alts.push_back(json_rules::literal(json_escape(c)));
        }
    }
    if (alts.empty()) return std::nullopt;
    return alternatives(alts);
}

// One code point as JSON string text.
std::string json_char(char32_t c) {
    if (c < 0x20) return json_rules::literal(json_escape(c));
    if (c == '"' || c == '\\') return json_rules::literal(std::string{'\\', char(c)});
    std::string utf8;
    tokenizer::append_utf8(utf8, c);
    return json_rules::literal(utf8);
}

class Reader {
public:
    explicit Reader(std::u32string p, std::string_view text) : p_(std::move(p)), text_(text) {}

    Result<std::string> run() {
        std::vector<std::string> alts;
        while (true) {
            const bool start = eat('^');
            LOOM_TRY(std::string body, sequence(0));
            const bool end = eat('$');
            if (!done() && peek() != '|') return fail("a ')' without its '('");
            alts.push_back(fmt::format("{}{}{}", start ? "" : "char* ", body, end ? "" : " char*"));
            if (!eat('|')) break;
        }
        return alternatives(alts);
    }

private:
    template <typename... Args>
    Error fail(fmt::format_string<Args...> f, Args&&... args) const {
        return Error::invalid("pattern \"{}\": {} at character {} is not supported", text_,
                              fmt::format(f, std::forward<Args>(args)...), pos_ + 1);
    }

    bool done() const { return pos_ >= p_.size(); }
    char32_t peek(size_t ahead = 0) const { return pos_ + ahead < p_.size() ? p_[pos_ + ahead] : 0; }
    bool eat(char32_t c) {
        if (done() || p_[pos_] != c) return false;
        ++pos_;
        return true;
    }

    // Stops at the end, at '|', at ')' inside a group, and at a '$' that ends a top-level alternative.
    Result<std::string> sequence(int depth) {
        std::vector<std::string> items;
        while (!done() && peek() != '|' && !(depth > 0 && peek() == ')')) {
            if (depth == 0 && peek() == '$' && (pos_ + 1 == p_.size() || peek(1) == '|')) break;
            if (depth == 0 && peek() == ')') break;
            LOOM_TRY(std::string atom_text, atom(depth));
            LOOM_TRY(std::string quantified, quantifier(atom_text));
            items.push_back(std::move(quantified));
        }
        if (items.empty()) return std::string(R"("")");
        std::string out = items[0];
        for (size_t i = 1; i < items.size(); ++i) out += " " + items[i];
        return out;
    }

    Result<std::string> atom(int depth) {
        const char32_t c = peek();
        if (c == '(') {
            const size_t start = pos_;
            ++pos_;
            if (eat('?')) {
                if (eat(':')) {
                } else if (peek() == '<' && peek(1) != '=' && peek(1) != '!') {
                    while (!done() && peek() != '>') ++pos_;  // a named group: the name does not matter here
                    if (!eat('>')) return fail("an unterminated group name");
                } else {
                    const char32_t flag = peek();
                    pos_ = start;
                    return fail("a lookaround or group flag '(?{}'", char(flag < 0x80 ? flag : '?'));
                }
            }
            std::vector<std::string> alts;
            while (true) {
                LOOM_TRY(std::string body, sequence(depth + 1));
                alts.push_back(std::move(body));
                if (!eat('|')) break;
            }
            if (!eat(')')) return fail("a '(' without its ')'");
            return "( " + alternatives(alts) + " )";
        }
        const size_t start = pos_;
        if (c == '[') {
            const bool negated = peek(1) == '^';
            return set_text(klass(), !negated, start);
        }
        if (c == '.') {
            ++pos_;
            return set_text(complement(kLineTerminators), false, start);
        }
        if (c == '^' || c == '$') return fail("an anchor '{}' inside the pattern", char(c));
        if (c == '*' || c == '+' || c == '?') return fail("'{}' with nothing to repeat", char(c));
        if (c == '\\') {
            LOOM_TRY(Escape e, escape(false));
            if (e.set) return set_text(std::move(*e.set), !e.negated, start);
            return json_char(e.c);
        }
        ++pos_;
        return json_char(c);
    }

    // Negated sets (`.`, [^...], \D, \W, \S) leave control characters out.
    Result<std::string> set_text(Result<Ranges> set, bool with_controls, size_t start) {
        if (!set.ok()) return set.error();
        auto text = json_chars(set.value(), with_controls);
        if (!text) {
            pos_ = start;
            return fail("a character set that no character of a JSON string matches");
        }
        return *text;
    }

    // After an atom: ? * + {n} {n,} {n,m}, and a lazy '?' after any of them. A '{' that does not start a
    // valid count is a literal, as in ECMAScript's web-compatible grammar.
    Result<std::string> quantifier(const std::string& a) {
        std::string suffix;
        if (eat('?')) suffix = "?";
        else if (eat('*')) suffix = "*";
        else if (eat('+')) suffix = "+";
        else if (peek() == '{') {
            const size_t start = pos_;
            ++pos_;
            const auto number = [&]() -> std::optional<long> {
                if (done() || peek() < '0' || peek() > '9') return std::nullopt;
                long v = 0;
                for (; !done() && peek() >= '0' && peek() <= '9'; ++pos_)
                    v = std::min<long>(v * 10 + (peek() - '0'), 1L << 30);
                return v;
            };
            const std::optional<long> lo = number();
            std::optional<long> hi = lo;
            bool open = false;
            if (lo && eat(',')) {
                hi = number();
                open = !hi;
            }
            if (!lo || !eat('}')) {
                pos_ = start;
                return a;  // a literal '{', read as the next atom
            }
            if (*lo > kMaxRepeat || (hi && *hi > kMaxRepeat)) {
                pos_ = start;
                return fail("a repetition count above {}", kMaxRepeat);
            }
            if (hi && *hi < *lo) {
                pos_ = start;
                return fail("a repetition {{{},{}}} whose maximum is below its minimum", *lo, *hi);
            }
            suffix = open ? fmt::format("{{{},}}", *lo) : fmt::format("{{{},{}}}", *lo, *hi);
        } else {
            return a;
        }
        eat('?');  // lazy: the same strings match
        return "( " + a + " )" + suffix;
    }

    struct Escape {
        std::optional<Ranges> set;
        char32_t c = 0;
        bool negated = false;  // \D, \W, \S
    };

    Result<Escape> escape(bool in_class) {
        const size_t start = pos_;
        ++pos_;  // the backslash
        if (done()) {
            pos_ = start;
            return fail("a '\\' at the end");
        }
        const char32_t e = p_[pos_++];
        const auto set = [](Ranges r, bool negated) { return Escape{std::move(r), 0, negated}; };
        const auto one = [](char32_t c) { return Escape{std::nullopt, c, false}; };
        switch (e) {
            case 'd': return set(kDigit, false);
            case 'D': return set(complement(kDigit), true);
            case 'w': return set(kWord, false);
            case 'W': return set(complement(kWord), true);
            case 's': return set(kSpace, false);
            case 'S': return set(complement(kSpace), true);
            case 't': return one('\t');
            case 'n': return one('\n');
            case 'v': return one('\v');
            case 'f': return one('\f');
            case 'r': return one('\r');
            case 'x': return hex(2, start);
            case 'u': {
                LOOM_TRY(Escape high, hex(4, start));
                // A surrogate pair written as two escapes is one character.
                if (high.c >= 0xD800 && high.c < 0xDC00 && peek() == '\\' && peek(1) == 'u') {
                    const size_t at = pos_;
                    pos_ += 2;
                    LOOM_TRY(Escape low, hex(4, at));
                    if (low.c >= 0xDC00 && low.c < 0xE000)
                        return one(0x10000 + ((high.c - 0xD800) << 10) + (low.c - 0xDC00));
                    pos_ = at;
                }
                if (high.c >= 0xD800 && high.c < 0xE000) {
                    pos_ = start;
                    return fail("a lone surrogate \\u{:04X}", uint32_t(high.c));
                }
                return high;
            }
            case 'c':
                if ((peek() | 0x20) >= 'a' && (peek() | 0x20) <= 'z') return one(p_[pos_++] % 32);
                pos_ = start;
                return fail("'\\c' without a letter");
            case '0':
                if (peek() < '0' || peek() > '9') return one(0);
                break;
            case 'b':
                if (in_class) return one('\b');
                pos_ = start;
                return fail("a word boundary '\\b'");
            default: break;
        }
        pos_ = start;
        if (e >= '1' && e <= '9') return fail("a backreference '\\{}'", char(e));
        if (e == 'B') return fail("a word boundary '\\B'");
        if (e == 'k') return fail("a named backreference '\\k'");
        if (e == 'p' || e == 'P') return fail("a Unicode property escape '\\{}'", char(e));
        if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
            return fail("an unknown escape '\\{}'", char(e));
        pos_ += 2;
        return one(e);  // escaped punctuation stands for itself
    }

    Result<Escape> hex(int digits, size_t start) {
        char32_t v = 0;
        for (int i = 0; i < digits; ++i) {
            const char32_t h = peek();
            const int d = h >= '0' && h <= '9'                     ? int(h - '0')
                          : (h | 0x20) >= 'a' && (h | 0x20) <= 'f' ? int((h | 0x20) - 'a' + 10)
                                                                   : -1;
            if (d < 0) {
                pos_ = start;
                return fail("an escape without its {} hex digits", digits);
            }
            v = v * 16 + char32_t(d);
            ++pos_;
        }
        return Escape{std::nullopt, v, false};
    }

    // '[' ... ']': members, ranges a-b, escapes; '^' first negates.
    Result<Ranges> klass() {
        const size_t start = pos_;
        ++pos_;
        const bool negated = eat('^');
        Ranges members;
        while (!done() && peek() != ']') {
            LOOM_TRY(Escape a, member());
            if (!a.set && peek() == '-' && peek(1) != ']' && pos_ + 1 < p_.size()) {
                ++pos_;
                LOOM_TRY(Escape b, member());
                if (b.set) return fail("a class range that ends in a set");
                if (b.c < a.c) return fail("a class range out of order");
                members.emplace_back(a.c, b.c);
                continue;
            }
            if (a.set) members.insert(members.end(), a.set->begin(), a.set->end());
            else members.emplace_back(a.c, a.c);
        }
        if (!eat(']')) {
            pos_ = start;
            return fail("a '[' without its ']'");
        }
        return negated ? complement(members) : normalized(members);
    }

    Result<Escape> member() {
        if (peek() == '\\') return escape(true);
        return Escape{std::nullopt, p_[pos_++], false};
    }

    std::u32string p_;
    std::string_view text_;
    size_t pos_ = 0;
};

}  // namespace

Result<std::string> pattern_to_gbnf(std::string_view pattern) {
    std::u32string points;
    PartialChar partial;
    for (const char ch : pattern) {
        char32_t c = 0;
        const Utf8Step step = utf8_step(partial, uint8_t(ch), c);
        if (step == Utf8Step::invalid) return Error::invalid("pattern: not valid UTF-8");
        if (step == Utf8Step::complete) points.push_back(c);
    }
    if (!partial.empty()) return Error::invalid("pattern: not valid UTF-8");
    return Reader(std::move(points), pattern).run();
}

}  // namespace loom::grammar
