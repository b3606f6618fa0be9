// Architecture diagrams: every shipped arch file draws to well-formed SVG naming each of its blocks; on synthetic
// models the layer strip follows the file's rules (sliding/full, recurrent, shared K/V, MoE) and blocks carry
// real shapes; bad input is one clear line; headless Chromium renders a drawing to a non-empty PNG.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "arch/arch_file.h"
#include "cli/diagram.h"
#include "diagram/diagram.h"
#include "diagram/render.h"
#include "runtime/model.h"
#include "synth/synth_model.h"
#include "unit/test_env.h"

namespace loom::diagram {
namespace {

namespace fs = std::filesystem;

std::string temp_path(const std::string& stem) {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    return (fs::temp_directory_path() / fmt::format("loom_diagram_{}_{}_{}", info->name(), getpid(), stem)).string();
}

std::string read(const std::string& path) {
    std::ifstream f(path, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

// A small well-formedness check: tags nest and close, attributes are quoted, entities are XML's or numeric.
// Returns "" when well formed, else what is wrong and where.
std::string xml_problem(const std::string& x) {
    std::vector<std::string> open;
    size_t i = 0;
    bool root_seen = false;
    while (i < x.size()) {
        if (x[i] == '&') {
            const size_t end = x.find(';', i);
            if (end == std::string::npos) return fmt::format("'&' without ';' at {}", i);
            const std::string e = x.substr(i + 1, end - i - 1);
            static const std::regex kEntity("amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+");
            if (!std::regex_match(e, kEntity)) return fmt::format("bad entity '&{};' at {}", e, i);
            i = end + 1;
            continue;
        }
        if (x[i] != '<') {
            ++i;
            continue;
        }
        if (x.compare(i, 4, "<!--") == 0) {
            const size_t end = x.find("-->", i);
            if (end == std::string::npos) return "unclosed comment";
            i = end + 3;
        } else if (x.compare(i, 2, "<?") == 0 || x.compare(i, 2, "<!") == 0) {
            const size_t end = x.find('>', i);
            if (end == std::string::npos) return "unclosed declaration";
            i = end + 1;
        } else if (x.compare(i, 2, "</") == 0) {
            const size_t end = x.find('>', i);
            if (end == std::string::npos) return "unclosed end tag";
            const std::string name = x.substr(i + 2, end - i - 2);
            if (open.empty() || open.back() != name)
                return fmt::format("</{}> at {} closes '{}'", name, i, open.empty() ? "nothing" : open.back());
            open.pop_back();
            i = end + 1;
        } else {
            size_t j = i + 1;
            while (j < x.size() && !std::isspace(static_cast<unsigned char>(x[j])) && x[j] != '>' && x[j] != '/') ++j;
            const std::string name = x.substr(i + 1, j - i - 1);
            if (name.empty()) return fmt::format("'<' without a tag name at {}", i);
            // attributes: name="value" or name='value'
            while (j < x.size() && x[j] != '>' && x[j] != '/') {
                if (std::isspace(static_cast<unsigned char>(x[j]))) {
                    ++j;
                    continue;
                }
                const size_t eq = x.find('=', j);
                if (eq == std::string::npos || eq + 1 >= x.size() || (x[eq + 1] != '"' && x[eq + 1] != '\''))
                    return fmt::format("unquoted attribute in <{}> at {}", name, j);
                const size_t close = x.find(x[eq + 1], eq + 2);
                if (close == std::string::npos) return fmt::format("unclosed attribute in <{}>", name);
                if (x.substr(eq + 2, close - eq - 2).find('<') != std::string::npos)
                    return fmt::format("'<' in an attribute of <{}>", name);
                j = close + 1;
            }
            if (j >= x.size()) return fmt::format("unclosed tag <{}>", name);
            if (open.empty() && root_seen) return fmt::format("a second root element <{}>", name);
            root_seen = true;
            if (x[j] == '/') {
                if (j + 1 >= x.size() || x[j + 1] != '>') return fmt::format("bad '/' in <{}>", name);
                i = j + 2;
            } else {
                open.push_back(name);
                i = j + 1;
            }
        }
    }
    if (!open.empty()) return fmt::format("<{}> never closed", open.back());
    return root_seen ? "" : "no element";
}

// Whether SVG and PNG can be drawn here (Graphviz's library or its `dot` program); DOT always can.
bool can_draw() { return graphviz_backend() != "none"; }

std::vector<fs::path> shipped_arch_files() {
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(fs::path(LOOM_SOURCE_DIR) / "archs"))
        if (e.path().string().ends_with(".arch.toml")) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

TEST(DiagramXml, CheckerCatchesBadXml) {
    EXPECT_EQ(xml_problem("<a><b x=\"1\"/>t &amp; u</a>"), "");
    EXPECT_NE(xml_problem("<a><b></a>"), "");
    EXPECT_NE(xml_problem("<a x=1></a>"), "");
    EXPECT_NE(xml_problem("<a>& b</a>"), "");
}

// Every family in archs/ (and every one added later) draws; the SVG is XML and names every block.
TEST(DiagramArchs, EveryShippedFamilyDraws) {
    const auto files = shipped_arch_files();
    ASSERT_GE(files.size(), 10u);
    for (const fs::path& p : files) {
        SCOPED_TRACE(p.string());
        auto arch = arch::ArchFile::load(p.string());
        ASSERT_TRUE(arch.ok()) << arch.error().message();
        const Diagram d = from_arch(*arch);
        EXPECT_EQ(d.blocks.size(), arch->blocks.size());
        const std::string dot = to_dot(d);
        for (const auto& [name, spec] : arch->blocks) EXPECT_NE(dot.find("<B>" + name + "</B>"), std::string::npos);
        if (!can_draw()) continue;  // the DOT above is all there is to check without Graphviz
        auto svg = render(dot, Format::svg);
        ASSERT_TRUE(svg.ok()) << svg.error().message();
        EXPECT_EQ(xml_problem(*svg), "");
        EXPECT_NE(svg->find("<svg"), std::string::npos);
        for (const auto& [name, spec] : arch->blocks) {
            EXPECT_NE(svg->find(">" + name + "<"), std::string::npos) << "block " << name;
            EXPECT_NE(svg->find(spec.kind()), std::string::npos) << "kind " << spec.kind();
        }
        // Rules are shown as written: the layer count and every let.
        EXPECT_NE(svg->find("count = "), std::string::npos);
        for (const arch::LetSpec& let : arch->lets) EXPECT_NE(svg->find("let " + let.name), std::string::npos);
    }
}

TEST(DiagramArchs, ShowsStepsChoicesSumsAndSideInputs) {
    auto arch = arch::ArchFile::load(std::string(LOOM_SOURCE_DIR) + "/archs/gemma4.arch.toml");
    ASSERT_TRUE(arch.ok()) << arch.error().message();
    const Diagram d = from_arch(*arch);
    const std::string dot = to_dot(d);
    EXPECT_NE(dot.find("side input ple (once per pass)"), std::string::npos);
    EXPECT_NE(dot.find("step 4: replace"), std::string::npos);
    EXPECT_NE(dot.find("residual, h = h + chain(h)"), std::string::npos);
    EXPECT_NE(dot.find("if moe"), std::string::npos);
    EXPECT_NE(dot.find("label=\"+\""), std::string::npos);  // sums and residual adds
    // ple_gate reads the side input; rope's conditional weight and the window rule appear symbolically.
    const BlockInfo* gate = d.block("ple_gate");
    ASSERT_NE(gate, nullptr);
    EXPECT_EQ(gate->reads, std::vector<std::string>{"ple"});
    const BlockInfo* attn = d.block("attention");
    ASSERT_NE(attn, nullptr);
    bool freq = false, window = false;
    for (const WeightInfo& w : attn->weights)
        if (w.key == "rope.freq_factors") freq = w.cond == "!swa" && w.name == "rope_freqs.weight";
    for (const OptionInfo& o : attn->options)
        if (o.key == "window") window = o.text == "swa ? n_swa : 0";
    EXPECT_TRUE(freq);
    EXPECT_TRUE(window);
    for (const WeightInfo& w : attn->weights) EXPECT_NE(w.key, "window");
}

Diagram model_diagram(const std::string& path) {
    runtime::LoadOptions opt;
    opt.pack = false;
    auto m = runtime::Model::load(path, opt);
    EXPECT_TRUE(m.ok()) << m.error().message();
    if (!m.ok()) return {};
    auto d = from_model(**m, path);
    EXPECT_TRUE(d.ok()) << d.error().message();
    return d.ok() ? *d : Diagram{};
}

std::string strip_of(const Diagram& d) {
    std::string s;
    for (const LayerInfo& l : d.layers) {
        s += l.recurrent ? 'R' : !l.attention ? '-' : l.window > 0 ? 'S' : 'F';
        if (l.kv_source >= 0) s += '^';
        if (l.moe) s += 'M';
    }
    return s;
}

// tests/data/synth/gemma3.toml: window 32, pattern 3 → layers 0, 1, 3 sliding, 2 full; shapes are the file's.
TEST(DiagramModel, Gemma3SyntheticStripAndShapes) {
    const std::string path = test::synth_model("gemma3", "f32");
    const Diagram d = model_diagram(path);
    ASSERT_EQ(d.layers.size(), 4u);
    EXPECT_EQ(strip_of(d), "SSFS");
    EXPECT_EQ(d.layers[0].window, 32);
    const BlockInfo* attn = d.block("attention");
    ASSERT_NE(attn, nullptr);
    EXPECT_EQ(attn->n_layers, 4);
    for (const WeightInfo& w : attn->weights)
        if (w.key == "q") EXPECT_EQ(w.variants, std::vector<std::string>{"[512, 256] f32"});
    int64_t sum = 0;
    for (const LayerInfo& l : d.layers) sum += l.n_params;
    EXPECT_GT(sum, 0);
    EXPECT_LT(sum, d.n_params);  // the embedding is outside the layers
    if (!can_draw()) GTEST_SKIP() << "no Graphviz here (libgvc or the dot program): SVG not checked";
    auto svg = render(to_dot(d), Format::svg);
    ASSERT_TRUE(svg.ok()) << svg.error().message();
    EXPECT_EQ(xml_problem(*svg), "");
    EXPECT_NE(svg->find("sliding 32"), std::string::npos);
    EXPECT_NE(svg->find("[512, 256] f32"), std::string::npos);
    EXPECT_NE(svg->find("3 sliding attention, 1 full attention"), std::string::npos);
}

// The real Gemma 3 rule (sliding_window_pattern 6): five sliding layers for each full one.
TEST(DiagramModel, Gemma3FiveSlidingToOneFull) {
    std::string spec = read(test::data_dir() + "/synth/gemma3.toml");
    auto set = [&](const std::string& from, const std::string& to) {
        const size_t at = spec.find(from);
        ASSERT_NE(at, std::string::npos) << from;
        spec.replace(at, from.size(), to);
    };
    set("\"gemma3.block_count\" = 4", "\"gemma3.block_count\" = 12");
    set("\"gemma3.attention.sliding_window_pattern\" = 3", "\"gemma3.attention.sliding_window_pattern\" = 6");
    set("[layers]\ncount = 4", "[layers]\ncount = 12");
    const std::string spec_path = temp_path("gemma3x12.toml"), model_path = temp_path("gemma3x12.gguf");
    std::ofstream(spec_path) << spec;
    synth::SynthOptions opt;
    opt.spec_path = spec_path;
    opt.out_path = model_path;
    auto made = synth::synthesize(opt);
    ASSERT_TRUE(made.ok()) << made.error().message();
    const Diagram d = model_diagram(model_path);
    EXPECT_EQ(strip_of(d), "SSSSSFSSSSSF");
    fs::remove(spec_path);
    fs::remove(model_path);
}

// gemma4's test model alternates sliding and full and its last 2 layers read earlier layers' K/V.
TEST(DiagramModel, Gemma4AlternatesAndSharesKv) {
    const Diagram d = model_diagram(test::synth_model("gemma4", "f32"));
    EXPECT_EQ(strip_of(d), "SFSFS^F^");
    ASSERT_EQ(d.layers.size(), 6u);
    EXPECT_EQ(d.layers[4].kv_source, 2);
    EXPECT_EQ(d.layers[5].kv_source, 3);
    const std::string dot = to_dot(d);
    EXPECT_NE(dot.find("kv←2"), std::string::npos);
    EXPECT_NE(dot.find("then in 0 of 6 layers"), std::string::npos);  // no MoE layers in the dense model
}

TEST(DiagramModel, Qwen35MarksRecurrentLayers) {
    const Diagram d = model_diagram(test::synth_model("qwen35", "f32"));
    EXPECT_EQ(strip_of(d), "RRRF");
    const std::string dot = to_dot(d);
    EXPECT_NE(dot.find("then in 3 of 4 layers"), std::string::npos);
    EXPECT_NE(dot.find("recurrent"), std::string::npos);
}

TEST(DiagramModel, MoeLayersAreMarked) {
    const Diagram d = model_diagram(test::synth_model("qwen3moe", "f32"));
    ASSERT_FALSE(d.layers.empty());
    for (const LayerInfo& l : d.layers) EXPECT_TRUE(l.moe) << "layer " << l.index;
    const BlockInfo* moe = nullptr;
    for (const BlockInfo& b : d.blocks)
        if (b.kind == "moe") moe = &b;
    ASSERT_NE(moe, nullptr);
    EXPECT_GT(moe->n_params, 0);
}

// The command: bad input is one line naming the file; formats by flag or extension; DOT without Graphviz.
TEST(DiagramCli, ErrorsAndFormats) {
    std::string out, err;
    cli::DiagramOptions o;
    o.file = "/nonexistent/model.gguf";
    EXPECT_EQ(cli::run_diagram(o, out, err), 1);
    EXPECT_NE(err.find("/nonexistent/model.gguf"), std::string::npos) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;

    const std::string junk = temp_path("junk.txt");
    std::ofstream(junk) << "this is not [ toml";
    o.file = junk;
    err.clear();
    EXPECT_EQ(cli::run_diagram(o, out, err), 1);
    EXPECT_NE(err.find("neither a GGUF model"), std::string::npos) << err;
    EXPECT_NE(err.find(junk), std::string::npos) << err;
    fs::remove(junk);

    o.file = std::string(LOOM_SOURCE_DIR) + "/archs/llama.arch.toml";
    o.format = "jpeg2000";
    err.clear();
    EXPECT_EQ(cli::run_diagram(o, out, err), 1);
    EXPECT_NE(err.find("unknown format"), std::string::npos) << err;

    o.format.clear();
    o.out = temp_path("llama.jpg");
    err.clear();
    EXPECT_EQ(cli::run_diagram(o, out, err), 1);
    EXPECT_NE(err.find("unknown extension '.jpg'"), std::string::npos) << err;
    EXPECT_FALSE(fs::exists(o.out));
    o.out.clear();

    o.format = "dot";
    err.clear();
    ASSERT_EQ(cli::run_diagram(o, out, err), 0) << err;
    EXPECT_EQ(out.rfind("digraph loom {", 0), 0u);

    if (!can_draw()) GTEST_SKIP() << "no Graphviz here (libgvc or the dot program): PNG not checked";
    o.format.clear();
    o.out = temp_path("llama.png");
    ASSERT_EQ(cli::run_diagram(o, out, err), 0) << err;
    const std::string png = read(o.out);
    ASSERT_GT(png.size(), 8u);
    EXPECT_EQ(png.substr(1, 3), "PNG");
    fs::remove(o.out);
}

// Graphviz's complaints come back as errors (the library's, or the program's), never a crash or an empty drawing.
TEST(DiagramRender, BadDotIsAnError) {
    EXPECT_EQ(format_from_name("svg"), Format::svg);
    EXPECT_FALSE(format_from_name("bmp"));
    auto dot = render("digraph { a -> ", Format::dot);  // DOT is passed through unread
    EXPECT_TRUE(dot.ok());
    if (!can_draw()) GTEST_SKIP() << "no Graphviz here (libgvc or the dot program)";
    auto bad = render("digraph { a -> ", Format::svg);
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("DOT"), std::string::npos) << bad.error().message();
    auto good = render("digraph { a -> b }", Format::svg);
    ASSERT_TRUE(good.ok()) << good.error().message();
    EXPECT_EQ(xml_problem(*good), "");
}

// Headless Chromium draws a diagram's SVG: the screenshot is a non-empty PNG.
TEST(DiagramBrowser, ChromiumScreenshotIsNotEmpty) {
    std::string browser;
    for (const char* b : {"chromium", "chromium-browser", "google-chrome"})
        if (test::shell(fmt::format("command -v {} >/dev/null 2>&1", b)).status == 0) {
            browser = b;
            break;
        }
    if (browser.empty()) GTEST_SKIP() << "no Chromium on PATH (scripts/setup.sh installs Debian's chromium)";
    if (!can_draw()) GTEST_SKIP() << "no Graphviz here (libgvc or the dot program) to draw the SVG";
    auto arch = arch::ArchFile::load(std::string(LOOM_SOURCE_DIR) + "/archs/qwen35.arch.toml");
    ASSERT_TRUE(arch.ok()) << arch.error().message();
    auto svg = render(to_dot(from_arch(*arch)), Format::svg);
    ASSERT_TRUE(svg.ok()) << svg.error().message();
    const std::string svg_path = temp_path("qwen35.svg"), png_path = temp_path("shot.png");
    const std::string profile = temp_path("profile");
    std::ofstream(svg_path) << *svg;
    const auto r = test::shell(
        fmt::format("timeout 60 {} --headless --no-sandbox --disable-gpu --disable-dev-shm-usage --user-data-dir='{}' "
                    "--window-size=1200,1600 --screenshot='{}' 'file://{}' >/dev/null 2>&1",
                    browser, profile, png_path, svg_path));
    const std::string png = read(png_path);
    EXPECT_EQ(r.status, 0);
    ASSERT_GT(png.size(), 1000u) << "screenshot " << png_path;
    EXPECT_EQ(png.substr(1, 3), "PNG");
    fs::remove(svg_path);
    fs::remove(png_path);
    std::error_code ec;
    fs::remove_all(profile, ec);  // Chromium's helpers may still be writing as it ends
}

}  // namespace
}  // namespace loom::diagram
