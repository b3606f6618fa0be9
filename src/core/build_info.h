// What this binary was built from, for `loom --version`, the server's system_fingerprint and benchmark records.
// The build writes the definitions (cmake/build_info.cmake) on every build, so they follow new commits without
// a reconfigure.
#pragma once

namespace loom {

const char* build_version();  // the project's version, "0.1.0"
// The commit (git describe: "v0.2-3-g1a2b3c4d5e6f", or the hash alone; "-dirty" with local changes), or
// "unknown" when the sources were not a git checkout.
const char* build_commit();

}  // namespace loom
