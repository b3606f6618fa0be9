// Drawing DOT text as SVG or PNG. Graphviz does the layout: through its C library (libgvc) when the build found
// it, else through a `dot` program on PATH, else an error that says how to get one. DOT itself needs neither.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace loom::diagram {

enum class Format : uint8_t { svg, png, dot };

// "svg", "png", "dot"; anything else is nullopt.
std::optional<Format> format_from_name(std::string_view name);

// The drawing's bytes. Errors (bad DOT, no Graphviz, no renderer for the format) say which.
Result<std::string> render(const std::string& dot, Format format);

// How render() reaches Graphviz in this build: "libgvc", "dot program" or "none".
std::string graphviz_backend();

}  // namespace loom::diagram
