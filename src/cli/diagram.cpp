// `loom diagram`: the format from the flag or the output's extension, then diagram::from_path → to_dot → render.
#include "cli/diagram.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "diagram/diagram.h"
#include "diagram/render.h"

namespace loom::cli {
namespace {

int fail(const std::string& message, std::string& err) {
    std::string msg = message;
    std::replace(msg.begin(), msg.end(), '\n', ' ');  // one line
    err = fmt::format("loom: {}\n", msg);
    return 1;
}

// svg / png / dot: the flag, else the output file's extension (.gv is DOT too), else svg. An extension that names
// none of them is an error rather than an SVG under a misleading name.
std::string format_name(const DiagramOptions& o) {
    if (!o.format.empty()) return o.format;
    std::string ext = std::filesystem::path(o.out).extension().string();
    if (ext.empty()) return "svg";
    ext = ext.substr(1);
    return ext == "gv" ? "dot" : ext;
}

}  // namespace

int run_diagram(const DiagramOptions& o, std::string& out, std::string& err) {
    const std::string name = format_name(o);
    const std::optional<diagram::Format> format = diagram::format_from_name(name);
    if (!format)
        return fail(
            o.format.empty()
                ? fmt::format("diagram: -o {}: unknown extension '.{}' (expected .svg, .png or .dot, or --format)",
                              o.out, name)
                : fmt::format("diagram: --format '{}': unknown format (expected svg, png or dot)", name),
            err);
    if (o.file.empty()) return fail("diagram: no file given (an .arch.toml or a .gguf model)", err);
    Result<diagram::Diagram> d = diagram::from_path(o.file);
    if (!d.ok()) return fail(d.error().message(), err);
    Result<std::string> drawn = diagram::render(diagram::to_dot(*d), *format);
    if (!drawn.ok()) return fail(fmt::format("{}: {}", o.file, drawn.error().message()), err);
    if (o.out.empty()) {
        out = std::move(*drawn);
        return 0;
    }
    std::ofstream f(o.out, std::ios::binary);
    f << *drawn;
    f.close();
    if (!f) return fail(fmt::format("{}: cannot write the diagram", o.out), err);
    return 0;
}

void add_diagram_command(CLI::App& app) {
    auto opts = std::make_shared<DiagramOptions>();
    CLI::App* cmd = app.add_subcommand(
        "diagram", "Draw a model family's architecture from its arch file, or a model's with shapes and layer kinds");
    cmd->add_option("FILE", opts->file, "An architecture file (archs/<family>.arch.toml) or a GGUF model")->required();
    cmd->add_option("-o,--output", opts->out, "Write here (default: stdout); the extension picks the format");
    cmd->add_option("--format", opts->format, "svg (default), png or dot (DOT needs no Graphviz)");
    cmd->callback([opts] {
        std::string out, err;
        const int status = run_diagram(*opts, out, err);
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fwrite(err.data(), 1, err.size(), stderr);
        if (status != 0) throw CLI::RuntimeError(status);
    });
}

}  // namespace loom::cli
