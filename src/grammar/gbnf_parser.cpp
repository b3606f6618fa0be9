// A recursive-descent GBNF parser. Rules are drafted as alternatives of element lists, then flattened into the
// Grammar the matcher reads; repetitions become generated right-recursive rules (x* → r ::= x r | ε), so the
// matcher only ever sees characters, rule references and alternative ends.
#include "grammar/gbnf_parser.h"

#include <algorithm>
#include <optional>
#include <unordered_map>

#include "grammar/grammar_check.h"

namespace loom::grammar {

namespace {

constexpr int kMaxGroupDepth = 200;  // nested parentheses; deeper input is refused, not a stack overflow

using Sequence = std::vector<Element>;

struct RuleDraft {
    std::vector<Sequence> alternatives;
    bool defined = false;
    size_t first_use = 0;  // where an undefined rule was first referenced (for the error)
};

bool is_word_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

class Parser {
public:
    explicit Parser(std::string_view src) : src_(src) {}

    Result<Grammar> run() {
        skip_space(true);
        while (!failed() && pos_ < src_.size()) {
            parse_rule();
            skip_space(true);
        }
        if (failed()) return *error_;
        for (size_t r = 0; r < drafts_.size(); ++r) {
            if (!drafts_[r].defined) {
                pos_ = drafts_[r].first_use;
                fail("undefined rule '{}'", names_[r]);
                return *error_;
            }
        }
        auto root = ids_.find("root");
        if (root == ids_.end()) return Error::invalid("grammar: no rule named 'root' (matching starts there)");
        Grammar g = flatten();
        g.root = root->second;
        if (g.elements.size() > kMaxElements)
            return Error::invalid("grammar: too large ({} elements after expanding repetitions, at most {})",
                                  g.elements.size(), kMaxElements);
        LOOM_RETURN_IF_ERROR(check_left_recursion(g));
        return g;
    }

private:
    bool failed() const { return error_.has_value(); }

    // Records the first error at the current position; later ones are consequences of it.
    template <typename... Args>
    void fail(fmt::format_string<Args...> f, Args&&... args) {
        if (failed()) return;
        int line = 1, col = 1;
        for (size_t i = 0; i < pos_ && i < src_.size(); ++i) {
            if (src_[i] == '\n') {
                ++line;
                col = 1;
            } else if ((uint8_t(src_[i]) & 0xC0) != 0x80) {
                ++col;
            }
        }
        error_ = Error::invalid("grammar: {}:{}: {}", line, col, fmt::format(f, std::forward<Args>(args)...));
    }

    char peek(size_t ahead = 0) const { return pos_ + ahead < src_.size() ? src_[pos_ + ahead] : '\0'; }
    bool at_end() const { return pos_ >= src_.size(); }

    // Spaces and comments; newlines only where a rule may continue (inside groups, after `|`, between rules).
    void skip_space(bool newlines) {
        while (!at_end()) {
            const char c = peek();
            if (c == ' ' || c == '\t' || ((c == '\n' || c == '\r') && newlines)) {
                ++pos_;
            } else if (c == '#') {
                while (!at_end() && peek() != '\n') ++pos_;
            } else {
                break;
            }
        }
    }

    std::string_view parse_name() {
        const size_t start = pos_;
        while (!at_end() && is_word_char(peek())) ++pos_;
        return src_.substr(start, pos_ - start);
    }

    uint32_t rule_id(std::string_view name, size_t used_at) {
        auto [it, inserted] = ids_.try_emplace(std::string(name), uint32_t(drafts_.size()));
        if (inserted) {
            names_.emplace_back(name);
            drafts_.push_back({});
            drafts_.back().first_use = used_at;
        }
        return it->second;
    }

    uint32_t new_rule(uint32_t parent) {
        std::string name = fmt::format("{}_{}", names_[parent], ++generated_[parent]);
        while (ids_.count(name)) name = fmt::format("{}_{}", names_[parent], ++generated_[parent]);
        const uint32_t id = rule_id(name, pos_);
        drafts_[id].defined = true;
        return id;
    }

    void parse_rule() {
        const size_t start = pos_;
        const std::string_view name = parse_name();
        if (name.empty()) return fail("expected a rule name");
        const uint32_t id = rule_id(name, start);
        if (drafts_[id].defined) {
            pos_ = start;
            return fail("rule '{}' is defined twice", name);
        }
        drafts_[id].defined = true;
        skip_space(false);
        if (src_.substr(pos_, 3) != "::=") return fail("expected '::=' after the rule name '{}'", name);
        pos_ += 3;
        skip_space(true);
        std::vector<Sequence> alts = parse_alternatives(id, 0);
        if (failed()) return;
        drafts_[id].alternatives = std::move(alts);
        skip_space(false);
        if (!at_end() && peek() != '\n' && peek() != '\r')
            return fail("expected the end of the line after rule '{}', got '{}'", name, peek());
    }

    std::vector<Sequence> parse_alternatives(uint32_t rule, int depth) {
        std::vector<Sequence> alts;
        alts.push_back(parse_sequence(rule, depth));
        while (!failed() && peek() == '|') {
            ++pos_;
            skip_space(true);
            alts.push_back(parse_sequence(rule, depth));
        }
        return alts;
    }

    // Elements up to `|`, `)` or (outside groups) the end of the line.
    Sequence parse_sequence(uint32_t rule, int depth) {
        Sequence seq;
        size_t last_start = 0;  // where the element a postfix operator applies to begins in seq
        bool have_last = false;
        const bool nested = depth > 0;
        while (!failed() && !at_end()) {
            const char c = peek();
            if (c == '"') {
                last_start = seq.size();
                parse_literal(seq);
            } else if (c == '[') {
                last_start = seq.size();
                parse_class(seq);
            } else if (c == '.') {
                last_start = seq.size();
                ++pos_;
                seq.push_back({Element::Op::chars, add_class({{}, true})});
            } else if (c == '(') {
                if (depth >= kMaxGroupDepth) {
                    fail("groups nested deeper than {}", kMaxGroupDepth);
                    break;
                }
                ++pos_;
                skip_space(true);
                const uint32_t sub = new_rule(rule);
                std::vector<Sequence> alts = parse_alternatives(rule, depth + 1);
                if (failed()) break;
                if (peek() != ')') {
                    fail("expected ')' to close the group");
                    break;
                }
                ++pos_;
                drafts_[sub].alternatives = std::move(alts);
                last_start = seq.size();
                seq.push_back({Element::Op::rule, sub});
            } else if (is_word_char(c)) {
                const size_t at = pos_;
                const std::string_view name = parse_name();
                last_start = seq.size();
                seq.push_back({Element::Op::rule, rule_id(name, at)});
            } else if (c == '*' || c == '+' || c == '?' || c == '{') {
                if (!have_last) {
                    fail("expected an element before '{}'", c);
                    break;
                }
                parse_repetition(rule, seq, last_start);
                have_last = false;  // `x**` is an error, as in llama.cpp
                skip_space(nested);
                continue;
            } else {
                break;
            }
            have_last = true;
            skip_space(nested);
        }
        return seq;
    }

    void parse_repetition(uint32_t rule, Sequence& seq, size_t last_start) {
        uint32_t min = 0, max = 0;
        bool unbounded = false;
        const size_t at = pos_;  // errors point at the operator
        const char op = peek();
        ++pos_;
        if (op == '*') {
            unbounded = true;
        } else if (op == '+') {
            min = 1;
            unbounded = true;
        } else if (op == '?') {
            max = 1;
        } else {
            skip_space(false);
            if (!parse_count(min)) return;
            skip_space(false);
            max = min;
            if (peek() == ',') {
                ++pos_;
                skip_space(false);
                if (peek() == '}') {
                    unbounded = true;
                } else {
                    if (!parse_count(max)) return;
                    if (max < min) {
                        pos_ = at;
                        return fail("repetition {{{},{}}}: the maximum is below the minimum", min, max);
                    }
                }
                skip_space(false);
            }
            if (peek() != '}') return fail("expected '}}' to close the repetition");
            ++pos_;
        }
        const Sequence unit(seq.begin() + ptrdiff_t(last_start), seq.end());
        // Repetitions copy their element; count the copies before making them.
        repeated_ += (unit.size() + 1) * (size_t(std::max(min, max)) + 1);
        if (repeated_ > kMaxElements) {
            pos_ = at;
            return fail("grammar too large: repetitions expand to more than {} elements", kMaxElements);
        }
        seq.resize(last_start);
        for (uint32_t i = 0; i < min; ++i) seq.insert(seq.end(), unit.begin(), unit.end());
        if (unbounded) {
            const uint32_t r = new_rule(rule);  // r ::= unit r | ε
            Sequence again = unit;
            again.push_back({Element::Op::rule, r});
            drafts_[r].alternatives = {std::move(again), {}};
            seq.push_back({Element::Op::rule, r});
            return;
        }
        // Up to max - min more: o1 ::= unit o2 | ε, ..., the innermost ::= unit | ε.
        std::optional<uint32_t> inner;
        for (uint32_t i = min; i < max; ++i) {
            const uint32_t r = new_rule(rule);
            Sequence alt = unit;
            if (inner) alt.push_back({Element::Op::rule, *inner});
            drafts_[r].alternatives = {std::move(alt), {}};
            inner = r;
        }
        if (inner) seq.push_back({Element::Op::rule, *inner});
    }

    bool parse_count(uint32_t& out) {
        const size_t start = pos_;
        uint64_t v = 0;
        while (!at_end() && peek() >= '0' && peek() <= '9') {
            v = v * 10 + uint64_t(peek() - '0');
            if (v > kMaxRepetition) {
                pos_ = start;
                fail("repetition count too large (at most {})", kMaxRepetition);
                return false;
            }
            ++pos_;
        }
        if (pos_ == start) {
            fail("expected a number in the repetition");
            return false;
        }
        out = uint32_t(v);
        return true;
    }

    // One character of a literal or class: UTF-8, or an escape.
    std::optional<char32_t> parse_char(std::string_view where) {
        if (at_end()) {
            fail("unterminated {}", where);
            return std::nullopt;
        }
        const uint8_t b = uint8_t(peek());
        if (b == '\\') {
            ++pos_;
            const char e = peek();
            ++pos_;
            switch (e) {
                case 'n': return U'\n';
                case 'r': return U'\r';
                case 't': return U'\t';
                case '\\': return U'\\';
                case '"': return U'"';
                case '[': return U'[';
                case ']': return U']';
                case '-': return U'-';
                case '^': return U'^';
                case 'x': return parse_hex(2);
                case 'u': return parse_hex(4);
                case 'U': return parse_hex(8);
                default:
                    --pos_;
                    fail(
                        "unknown escape '\\{}' (expected one of \\n \\r \\t \\\\ \\\" \\[ \\] \\xHH \\uHHHH "
                        "\\UHHHHHHHH)",
                        e == '\0' ? ' ' : e);
                    return std::nullopt;
            }
        }
        // A UTF-8 character; a malformed byte is an error rather than a guess.
        const int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
        if (len == 0 || pos_ + size_t(len) > src_.size()) {
            fail("invalid UTF-8 in the {}", where);
            return std::nullopt;
        }
        char32_t c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
        for (int i = 1; i < len; ++i) {
            const uint8_t cont = uint8_t(src_[pos_ + size_t(i)]);
            if ((cont & 0xC0) != 0x80) {
                fail("invalid UTF-8 in the {}", where);
                return std::nullopt;
            }
            c = (c << 6) | (cont & 0x3F);
        }
        pos_ += size_t(len);
        return c;
    }

    std::optional<char32_t> parse_hex(int digits) {
        char32_t v = 0;
        for (int i = 0; i < digits; ++i) {
            const char h = peek();
            int d = -1;
            if (h >= '0' && h <= '9') d = h - '0';
            if (h >= 'a' && h <= 'f') d = h - 'a' + 10;
            if (h >= 'A' && h <= 'F') d = h - 'A' + 10;
            if (d < 0) {
                fail("expected {} hex digits in the escape", digits);
                return std::nullopt;
            }
            v = v * 16 + char32_t(d);
            ++pos_;
        }
        if (v > 0x10FFFF) {
            fail("escape U+{:X} is beyond U+10FFFF", uint32_t(v));
            return std::nullopt;
        }
        return v;
    }

    void parse_literal(Sequence& seq) {
        ++pos_;  // "
        while (!failed()) {
            if (at_end() || peek() == '\n') return fail("unterminated string literal (expected '\"')");
            if (peek() == '"') {
                ++pos_;
                return;
            }
            const auto c = parse_char("string literal");
            if (!c) return;
            seq.push_back({Element::Op::chars, add_class({{{*c, *c}}, false})});
        }
    }

    void parse_class(Sequence& seq) {
        ++pos_;  // [
        CharClass cls;
        if (peek() == '^') {
            cls.negated = true;
            ++pos_;
        }
        while (!failed()) {
            if (at_end() || peek() == '\n') return fail("unterminated character class (expected ']')");
            if (peek() == ']') {
                ++pos_;
                break;
            }
            const auto lo = parse_char("character class");
            if (!lo) return;
            char32_t hi = *lo;
            if (peek() == '-' && peek(1) != ']' && peek(1) != '\0') {
                ++pos_;
                const auto h = parse_char("character class");
                if (!h) return;
                if (*h < *lo)
                    return fail("character range is backwards (U+{:04X} after U+{:04X})", uint32_t(*h), uint32_t(*lo));
                hi = *h;
            }
            cls.ranges.emplace_back(*lo, hi);
        }
        seq.push_back({Element::Op::chars, add_class(std::move(cls))});
    }

    uint32_t add_class(CharClass c) {
        classes_.push_back(std::move(c));
        return uint32_t(classes_.size() - 1);
    }

    Grammar flatten() {
        Grammar g;
        g.rule_names = names_;
        g.classes = std::move(classes_);
        g.alternatives.resize(drafts_.size());
        for (size_t r = 0; r < drafts_.size(); ++r) {
            for (const Sequence& alt : drafts_[r].alternatives) {
                g.alternatives[r].push_back(uint32_t(g.elements.size()));
                g.elements.insert(g.elements.end(), alt.begin(), alt.end());
                g.elements.push_back({Element::Op::end, 0});
            }
        }
        return g;
    }

    std::string_view src_;
    size_t pos_ = 0;
    std::optional<Error> error_;
    std::vector<std::string> names_;
    std::unordered_map<std::string, uint32_t> ids_;
    std::vector<RuleDraft> drafts_;
    std::unordered_map<uint32_t, int> generated_;  // generated rules per parent, for unique names
    std::vector<CharClass> classes_;
    size_t repeated_ = 0;  // elements made by repetitions so far
};

}  // namespace

bool CharClass::intersects(char32_t lo, char32_t hi) const {
    if (!negated) {
        for (const auto& [a, b] : ranges) {
            if (a <= hi && b >= lo) return true;
        }
        return false;
    }
    // Negated: some point of [lo, hi] lies outside every range. Walk up from lo, jumping past covering ranges.
    char32_t c = lo;
    for (bool moved = true; moved && c <= hi;) {
        moved = false;
        for (const auto& [a, b] : ranges) {
            if (c >= a && c <= b) {
                if (b >= hi) return false;
                c = b + 1;
                moved = true;
            }
        }
    }
    return c <= hi;
}

Result<Grammar> parse_gbnf(std::string_view text) { return Parser(text).run(); }

}  // namespace loom::grammar
