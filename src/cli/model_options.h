// Options every model-running command shares (-m, -t, -c, --kv-type, --backend, --arch-file, --load, --pack,
// --quantize), and turning them into a loaded Model and a Session; and the generation options of run and chat.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "runtime/generate.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace CLI {
class App;
}

namespace loom::cli {

inline constexpr int64_t kDefaultCtx = 4096;

struct ModelOptions {
    std::string model;  // empty: the default model
    int n_threads = 0;  // 0: every core
    int64_t n_ctx = 0;  // 0: kDefaultCtx, or the model's training context when that is smaller
    std::string kv_type = "f16";
    std::string backend = "cpu";
    std::string arch_file;
    std::string load = "read";  // measured: decode from an mmap here runs at a quarter of the speed (see #4 note)
    std::string pack = "on";    // packed weight layouts for the CPU kernels (runtime::LoadOptions::pack)
    std::string quantize;       // --quantize: a Hugging Face directory's weights quantized at load

    void add_to(CLI::App& cmd);
    Result<std::unique_ptr<runtime::Model>> load_model() const;
    // The session's options. Its context: -c as given, above the model's training context too (with a warning
    // on stderr, as llama.cpp does), else the default; then at least `need` positions, which `need_what` names
    // for the warning ("-p 4096").
    Result<runtime::SessionOptions> session_options(const runtime::Model& model, int64_t need = 0,
                                                    const std::string& need_what = {}) const;
};

// The generation flags of `loom run` and `loom chat`: -n, -b, the sampling knobs (--temp, --top-k, ...), -s and
// --stop (repeatable, into `stop`), with `gen`'s values as the defaults shown.
void add_generation_options(CLI::App& cmd, runtime::GenerateOptions& gen, std::vector<std::string>& stop);

// Token ids from "1,2,3" or whitespace/comma separated text.
Result<std::vector<int32_t>> parse_token_list(const std::string& text);
// The same from a file.
Result<std::vector<int32_t>> read_token_file(const std::string& path);

// Loading progress: a line on a terminal, nothing otherwise.
void progress(const std::string& what);
void progress_done();

}  // namespace loom::cli
