// `loom bench`: prompt processing and generation speed like llama-bench (-p 512 -n 128, repetitions,
// mean ± sd), plus load time and memory.
#pragma once

namespace CLI {
class App;
}

namespace loom::cli {

void add_bench_command(CLI::App& app);

}  // namespace loom::cli
