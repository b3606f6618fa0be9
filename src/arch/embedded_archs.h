// The architecture files of archs/ as the build found them, compiled into the library (the build generates
// the definition, cmake/embed_archs.cmake), so that an installed loom runs without the source tree.
// load_arch_for() falls back to these when no file on disk serves a family.
#pragma once

#include <span>
#include <string_view>

namespace loom::arch {

struct EmbeddedArch {
    std::string_view family;  // general.architecture, from the file name <family>.arch.toml
    std::string_view text;    // the file's TOML
};

// Sorted by family.
std::span<const EmbeddedArch> embedded_archs();

}  // namespace loom::arch
