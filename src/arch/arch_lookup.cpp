// Architecture file lookup: $LOOM_ARCH_DIR, the source tree's archs/, then the compiled-in copies.
#include "arch/arch_lookup.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <system_error>

#include "arch/embedded_archs.h"

#ifndef LOOM_SOURCE_ARCH_DIR
#define LOOM_SOURCE_ARCH_DIR "archs"
#endif

namespace loom::arch {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSuffix = ".arch.toml";

// Families with a file in `dir` (none when it cannot be listed).
void families_in(const std::string& dir, std::set<std::string>& out) {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string n = e.path().filename().string();
        if (n.size() > kSuffix.size() && n.ends_with(kSuffix)) out.insert(n.substr(0, n.size() - kSuffix.size()));
    }
}

Result<ArchFile> checked(Result<ArchFile> f, const std::string& architecture) {
    if (f.ok() && f->name != architecture)
        return Error::invalid("{}: [arch] name is '{}' but the file serves '{}'", f->path, f->name, architecture);
    return f;
}

}  // namespace

std::vector<std::string> arch_dirs() {
    std::vector<std::string> dirs;
    if (const char* env = std::getenv("LOOM_ARCH_DIR"); env && *env) dirs.emplace_back(env);
    std::error_code ec;
    if (fs::is_directory(LOOM_SOURCE_ARCH_DIR, ec)) dirs.emplace_back(LOOM_SOURCE_ARCH_DIR);
    return dirs;
}

Result<ArchFile> load_arch_for(const std::string& architecture) { return load_arch_for(architecture, arch_dirs()); }

Result<ArchFile> load_arch_for(const std::string& architecture, const std::vector<std::string>& dirs) {
    const std::string name = architecture + std::string(kSuffix);
    for (const std::string& dir : dirs) {
        const fs::path file = fs::path(dir) / name;
        std::error_code ec;
        if (fs::exists(file, ec)) return checked(ArchFile::load(file.string()), architecture);
    }
    const auto builtin = embedded_archs();
    const auto it =
        std::find_if(builtin.begin(), builtin.end(), [&](const EmbeddedArch& a) { return a.family == architecture; });
    if (it != builtin.end())
        return checked(ArchFile::parse(std::string(it->text), fmt::format("archs/{} (built in)", name)), architecture);

    std::set<std::string> known;
    std::string looked;
    for (const std::string& dir : dirs) {
        families_in(dir, known);
        looked += dir + ", ";
    }
    for (const EmbeddedArch& a : builtin) known.insert(std::string(a.family));
    std::string all;
    for (const std::string& k : known) all += (all.empty() ? "" : ", ") + k;
    return Error::unsupported("architecture '{}' has no file {} (looked in {}the {} built in; supported: {})",
                              architecture, name, looked, builtin.size(), all);
}

}  // namespace loom::arch
