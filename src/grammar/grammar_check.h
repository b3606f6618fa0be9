// Structural checks on a flattened Grammar that the matcher relies on.
#pragma once

#include "core/error.h"
#include "grammar/grammar.h"

namespace loom::grammar {

// Rules that can reach themselves before matching a character (`a ::= a "x"`, or `r ::= e* ...` where e can
// match nothing): expanding them would never end, so they are refused with the rule's name.
Status check_left_recursion(const Grammar& g);

}  // namespace loom::grammar
