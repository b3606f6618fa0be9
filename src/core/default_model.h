// Where loom finds its default model, the one used when no model file is given (-m or FILE).
// scripts/setup.sh installs it; this only resolves the path and checks that a file is there.
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace loom {

// The default model's file name inside the models directory (scripts/setup.sh writes it there, and
// models/SHA256SUMS records its hash).
inline constexpr std::string_view kDefaultModelFile = "gemma-3-270m-q4_k_m.gguf";

// The models directory: $LOOM_MODELS_DIR if set and non-empty, else $HOME/.cache/loom.
// An error when neither variable is set.
Result<std::string> models_dir();

// The default model's path: $LOOM_MODEL if set and non-empty, else <models_dir()>/kDefaultModelFile.
// Returns a not_found error, telling the user to run scripts/setup.sh (or set LOOM_MODEL), when no
// regular file is there. Reads the environment: not thread-safe against setenv.
Result<std::string> default_model_path();

}  // namespace loom
