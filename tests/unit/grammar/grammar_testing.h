// Helpers for the grammar tests: whole-text matching through the automaton.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "grammar/automaton.h"
#include "grammar/gbnf_parser.h"
#include "grammar/utf8_step.h"

namespace loom::grammar::testing {

// Whether `text` (UTF-8) is a complete match of `g`.
inline bool full_match(Automaton& a, std::string_view text) {
    int32_t s = a.start();
    PartialChar p;
    for (const char ch : text) {
        char32_t c = 0;
        const Utf8Step step = utf8_step(p, uint8_t(ch), c);
        if (step == Utf8Step::invalid) return false;
        if (step == Utf8Step::partial) continue;
        s = a.advance(s, c);
        if (s == Automaton::kDead) return false;
    }
    return p.empty() && a.can_end(s);
}

// Parses `gbnf` (failing the test on an error) and matches `text` against it.
inline bool matches(std::string_view gbnf, std::string_view text) {
    auto g = parse_gbnf(gbnf);
    EXPECT_TRUE(g.ok()) << g.error().message();
    if (!g.ok()) return false;
    Automaton a(std::move(g).value());
    return full_match(a, text);
}

// The error message parsing `gbnf` gives ("" when it parses).
inline std::string parse_error(std::string_view gbnf) {
    auto g = parse_gbnf(gbnf);
    return g.ok() ? "" : g.error().message();
}

}  // namespace loom::grammar::testing
