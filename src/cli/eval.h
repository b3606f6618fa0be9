// `loom eval`: top-K next-token logprobs at every position of a token sequence, as JSON lines
// ({"pos", "token", "top": [{"id", "logprob", "text"}]}): the basis of every equivalence check.
#pragma once

namespace CLI {
class App;
}

namespace loom::cli {

void add_eval_command(CLI::App& app);

}  // namespace loom::cli
