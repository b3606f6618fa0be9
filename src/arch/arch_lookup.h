// Which architecture file serves a model family (a GGUF's general.architecture). First match wins:
//   1. $LOOM_ARCH_DIR/<family>.arch.toml  your own files, which override the shipped ones
//   2. <source tree>/archs/<family>.arch.toml  when the build's source tree is still there (edits apply
//      without a rebuild)
//   3. the copy compiled into the binary (arch/embedded_archs.h), so an installed loom needs no source tree
#pragma once

#include <string>
#include <vector>

#include "arch/arch_file.h"

namespace loom::arch {

// The directories searched, in order: $LOOM_ARCH_DIR when set, then the source tree's archs/ when it exists.
std::vector<std::string> arch_dirs();

// The file for a general.architecture value from arch_dirs() or the built-in copies, or an error that says where
// it looked and lists the families there are.
Result<ArchFile> load_arch_for(const std::string& architecture);
// The same with the directories given (tests: {} finds only the built-in copies).
Result<ArchFile> load_arch_for(const std::string& architecture, const std::vector<std::string>& dirs);

}  // namespace loom::arch
