// Graphviz through its C library (LOOM_HAVE_GRAPHVIZ, set by CMake when pkg-config finds libgvc), or through the
// `dot` program. Graphviz keeps global state and is not thread-safe: one render at a time.
#include "diagram/render.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include <unistd.h>

#if LOOM_HAVE_GRAPHVIZ
#include <graphviz/cgraph.h>
#include <graphviz/gvc.h>
#endif

namespace loom::diagram {
namespace {

std::mutex& graphviz_mutex() {
    static std::mutex m;
    return m;
}

const char* format_name(Format f) {
    switch (f) {
        case Format::svg: return "svg";
        case Format::png: return "png";
        case Format::dot: return "dot";
    }
    return "svg";
}

#if LOOM_HAVE_GRAPHVIZ
std::string* g_messages = nullptr;  // Graphviz's error text while a render runs (under graphviz_mutex)

int collect_message(char* text) {
    if (g_messages != nullptr && text != nullptr) *g_messages += text;
    return 0;
}

Result<std::string> render_library(const std::string& dot, Format format) {
    std::string messages;
    g_messages = &messages;
    agseterr(AGERR);  // warnings (a label a little wider than its node) are not worth a message
    agseterrf(collect_message);
    struct Cleanup {
        GVC_t* gvc = gvContext();
        Agraph_t* g = nullptr;
        bool laid_out = false;
        ~Cleanup() {
            if (laid_out) gvFreeLayout(gvc, g);
            if (g != nullptr) agclose(g);
            gvFreeContext(gvc);
            agseterrf(nullptr);
            g_messages = nullptr;
        }
    } c;
    c.g = agmemread(dot.c_str());
    if (c.g == nullptr) return Error::invalid("Graphviz could not read the DOT text: {}", messages);
    if (gvLayout(c.gvc, c.g, "dot") != 0)
        return Error::unsupported("Graphviz's 'dot' layout failed ({}); is the layout plugin installed (`dot -c`)?",
                                  messages.empty() ? "no message" : messages);
    c.laid_out = true;
    char* data = nullptr;
    unsigned int size = 0;
    if (gvRenderData(c.gvc, c.g, format_name(format), &data, &size) != 0 || data == nullptr)
        return Error::unsupported("Graphviz cannot render {} here ({})", format_name(format),
                                  messages.empty() ? "no renderer plugin for it" : messages);
    std::string out(data, size);
    gvFreeRenderData(data);
    return out;
}
#endif

// The `dot` program: DOT to a temporary file, its output read back through a pipe.
Result<std::string> render_program(const std::string& dot, Format format) {
    if (std::system("command -v dot >/dev/null 2>&1") != 0)
        return Error::unsupported(
            "cannot draw {}: this loom was built without Graphviz's library (libgraphviz-dev) and there is no "
            "`dot` program on PATH; install graphviz, or use --format dot",
            format_name(format));
    char path[] = "/tmp/loom-diagram-XXXXXX";
    const int fd = mkstemp(path);
    if (fd < 0) return Error::io("cannot create a temporary file for dot");
    close(fd);  // written by name below
    {
        std::ofstream f(path, std::ios::binary);
        f << dot;
    }
    std::FILE* p = popen(fmt::format("dot -T{} '{}' 2>&1", format_name(format), path).c_str(), "r");
    std::string out;
    if (p != nullptr) {
        char buf[65536];
        size_t n = 0;
        while ((n = std::fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
    }
    const int status = p != nullptr ? pclose(p) : -1;
    std::remove(path);
    if (status != 0) return Error::unsupported("`dot -T{}` failed: {}", format_name(format), out);
    return out;
}

}  // namespace

std::optional<Format> format_from_name(std::string_view name) {
    if (name == "svg") return Format::svg;
    if (name == "png") return Format::png;
    if (name == "dot") return Format::dot;
    return std::nullopt;
}

Result<std::string> render(const std::string& dot, Format format) {
    if (format == Format::dot) return dot;
    std::lock_guard<std::mutex> lock(graphviz_mutex());
#if LOOM_HAVE_GRAPHVIZ
    // A library without the plugin for this format (or layout) may sit beside a `dot` that has it.
    Result<std::string> drawn = render_library(dot, format);
    if (drawn.ok() || drawn.error().code() != ErrorCode::unsupported) return drawn;
    if (std::system("command -v dot >/dev/null 2>&1") != 0) return drawn;
    return render_program(dot, format);
#else
    return render_program(dot, format);
#endif
}

std::string graphviz_backend() {
#if LOOM_HAVE_GRAPHVIZ
    return "libgvc";
#else
    return std::system("command -v dot >/dev/null 2>&1") == 0 ? "dot program" : "none";
#endif
}

}  // namespace loom::diagram
