// `loom diagram (ARCH.toml | MODEL.gguf) [-o OUT] [--format svg|png|dot]`: an architecture drawn from the file that
// runs it (src/diagram/): symbolic from an arch file, with shapes, types, counts and the layer strip from a model.
#pragma once

#include <string>

namespace CLI {
class App;
}

namespace loom::cli {

struct DiagramOptions {
    std::string file;    // an .arch.toml or a .gguf
    std::string out;     // empty: stdout
    std::string format;  // svg, png or dot; empty: from out's extension, else svg
};

// The whole command: writes the drawing to o.out (or to `out` when o.out is empty), or one line
// "loom: <message>\n" to `err`. Returns the exit status: 0 drawn, 1 not.
int run_diagram(const DiagramOptions& o, std::string& out, std::string& err);

void add_diagram_command(CLI::App& app);

}  // namespace loom::cli
