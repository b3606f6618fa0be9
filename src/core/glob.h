// Glob matching for names: '*' matches any run of characters (possibly empty), everything else itself.
// Used by synth type rules and by --dump tensor selection.
#pragma once

#include <string_view>

namespace loom {

bool glob_match(std::string_view pattern, std::string_view s);

}  // namespace loom
