// Default model resolution: environment first, then the models directory that scripts/setup.sh fills.
#include "core/default_model.h"

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace loom {
namespace {

// The value of an environment variable, or "" when unset.
std::string env(const char* name) {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
}

bool is_regular_file(const std::string& path) {
    std::error_code ec;  // a permission or I/O problem reads as "not there"; open() reports it later
    return std::filesystem::is_regular_file(path, ec);
}

}  // namespace

Result<std::string> models_dir() {
    if (std::string dir = env("LOOM_MODELS_DIR"); !dir.empty()) return dir;
    if (std::string home = env("HOME"); !home.empty()) return home + "/.cache/loom";
    return Error::not_found(
        "default model: neither LOOM_MODELS_DIR nor HOME is set, so there is no models "
        "directory (set LOOM_MODELS_DIR, or give a model file)");
}

Result<std::string> default_model_path() {
    if (std::string path = env("LOOM_MODEL"); !path.empty()) {
        if (is_regular_file(path)) return path;
        return Error::not_found("default model: LOOM_MODEL is '{}', but there is no such file", path);
    }
    LOOM_TRY(std::string dir, models_dir());
    std::string path = dir + "/" + std::string(kDefaultModelFile);
    if (is_regular_file(path)) return path;
    return Error::not_found(
        "default model: {} is missing (run scripts/setup.sh to install it, set LOOM_MODEL, "
        "or give a model file)",
        path);
}

}  // namespace loom
