// `loom chat`: a conversation with a model through its chat template. On a terminal: an interactive prompt with
// line editing, streamed replies and slash commands; with stdin piped: one user turn per line, one reply per turn.
#pragma once

namespace CLI {
class App;
}

namespace loom::cli {

void add_chat_command(CLI::App& app);

}  // namespace loom::cli
