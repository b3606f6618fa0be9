// A context-free grammar over Unicode code points, flattened for the matcher: every alternative of every rule
// is a run of elements in one array, closed by an `end` element, so a position in the grammar is one index.
// Made by parse_gbnf() (gbnf_parser.h); the JSON-Schema compiler goes through GBNF text too.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace loom::grammar {

// One step of an alternative: match a character class, expand a rule, or close the alternative.
struct Element {
    enum class Op : uint8_t { end, chars, rule };
    Op op = Op::end;
    uint32_t arg = 0;  // chars: index into Grammar::classes; rule: rule index
};

// A set of code points: inclusive ranges, or everything outside them when negated (`[^...]`, and `.` as an
// empty negated class).
struct CharClass {
    std::vector<std::pair<char32_t, char32_t>> ranges;
    bool negated = false;

    bool contains(char32_t c) const {
        bool in = false;
        for (const auto& [lo, hi] : ranges) {
            if (c >= lo && c <= hi) {
                in = true;
                break;
            }
        }
        return in != negated;
    }
    // Whether some code point in [lo, hi] is in the class (a partly decoded UTF-8 character narrows the
    // code point to such a span).
    bool intersects(char32_t lo, char32_t hi) const;
};

struct Grammar {
    std::vector<std::string> rule_names;              // [rule] as written, or "<parent>_<n>" for generated ones
    std::vector<std::vector<uint32_t>> alternatives;  // [rule] → the element index each alternative starts at
    std::vector<Element> elements;                    // all alternatives, each closed by Op::end
    std::vector<CharClass> classes;                   // referenced by Op::chars elements
    uint32_t root = 0;                                // the rule a whole text must match

    const CharClass& class_at(uint32_t pos) const { return classes[elements[pos].arg]; }
};

}  // namespace loom::grammar
