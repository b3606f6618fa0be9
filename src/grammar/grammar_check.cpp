#include "grammar/grammar_check.h"

#include <vector>

namespace loom::grammar {

namespace {

// Which rules can match the empty text: a fixed point, since rules refer to each other.
std::vector<bool> nullable_rules(const Grammar& g) {
    std::vector<bool> nullable(g.alternatives.size(), false);
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t r = 0; r < g.alternatives.size(); ++r) {
            if (nullable[r]) continue;
            for (const uint32_t start : g.alternatives[r]) {
                bool all = true;
                for (uint32_t p = start; g.elements[p].op != Element::Op::end; ++p) {
                    const Element& e = g.elements[p];
                    if (e.op == Element::Op::chars || !nullable[e.arg]) {
                        all = false;
                        break;
                    }
                }
                if (all) {
                    nullable[r] = true;
                    changed = true;
                    break;
                }
            }
        }
    }
    return nullable;
}

}  // namespace

Status check_left_recursion(const Grammar& g) {
    const std::vector<bool> nullable = nullable_rules(g);
    // Edges r → s where s can come first in r (after only nullable rules).
    std::vector<std::vector<uint32_t>> first(g.alternatives.size());
    for (size_t r = 0; r < g.alternatives.size(); ++r) {
        for (const uint32_t start : g.alternatives[r]) {
            for (uint32_t p = start; g.elements[p].op == Element::Op::rule; ++p) {
                first[r].push_back(g.elements[p].arg);
                if (!nullable[g.elements[p].arg]) break;
            }
        }
    }
    // Iterative depth-first search for a cycle: 0 unvisited, 1 on the path, 2 done.
    std::vector<uint8_t> mark(g.alternatives.size(), 0);
    for (size_t root = 0; root < g.alternatives.size(); ++root) {
        if (mark[root]) continue;
        std::vector<std::pair<uint32_t, size_t>> path{{uint32_t(root), 0}};
        mark[root] = 1;
        while (!path.empty()) {
            auto& [r, next] = path.back();
            if (next == first[r].size()) {
                mark[r] = 2;
                path.pop_back();
                continue;
            }
            const uint32_t s = first[r][next++];
            if (mark[s] == 1)
                return Error::invalid(
                    "grammar: rule '{}' is left-recursive (it can reach itself before matching a "
                    "character, e.g. through a repetition of something that can be empty)",
                    g.rule_names[s]);
            if (mark[s] == 0) {
                mark[s] = 1;
                path.emplace_back(s, 0);
            }
        }
    }
    return Ok{};
}

}  // namespace loom::grammar
