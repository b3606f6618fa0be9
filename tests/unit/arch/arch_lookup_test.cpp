// Which arch file serves a family: every file of archs/ is compiled in unchanged, the built-in copy serves
// when no directory has the file, a file in a directory ($LOOM_ARCH_DIR first) overrides it, and a family
// nobody serves is an error that says where loom looked and what it knows.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include "arch/arch_lookup.h"
#include "arch/embedded_archs.h"

namespace loom::arch {
namespace {

namespace fs = std::filesystem;

// A minimal file serving `name` (the llama family's parameter n_vocab is enough to tell it apart).
std::string toy_file(const std::string& name) {
    return "[arch]\nname = \"" + name + R"toml("
[params]
n_vocab = { value = "7" }
[model]
input = ["embed"]
output = ["embed"]
[layer]
count = "1"
residual = [["embed"]]
[blocks.embed]
kind = "embedding"
weight = "token_embd.weight"
)toml";
}

// A directory unique to this test and process, removed at the end.
struct TempDir {
    fs::path path;
    TempDir() {
        const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
        path = fs::temp_directory_path() /
               ("loom_arch_lookup_" + std::string(info->name()) + "_" + std::to_string(getpid()));
        fs::create_directories(path);
    }
    ~TempDir() { fs::remove_all(path); }
    void write(const std::string& file, const std::string& text) const { std::ofstream(path / file) << text; }
};

TEST(ArchLookup, EveryFileOfArchsIsBuiltInUnchanged) {
    std::set<std::string> on_disk;
    for (const auto& e : fs::directory_iterator(LOOM_SOURCE_ARCH_DIR)) {
        const std::string n = e.path().filename().string();
        if (!n.ends_with(".arch.toml")) continue;
        const std::string family = n.substr(0, n.size() - 10);
        on_disk.insert(family);
        std::ifstream in(e.path(), std::ios::binary);
        std::stringstream text;
        text << in.rdbuf();
        bool found = false;
        for (const EmbeddedArch& a : embedded_archs()) {
            if (a.family != family) continue;
            found = true;
            EXPECT_EQ(a.text, text.str()) << family;
        }
        EXPECT_TRUE(found) << family << " is not built in";
    }
    EXPECT_EQ(embedded_archs().size(), on_disk.size());
    EXPECT_GE(on_disk.size(), 4u);
}

TEST(ArchLookup, BuiltInCopyServesWhenNoDirectoryHasTheFile) {
    const TempDir empty;
    for (const std::vector<std::string>& dirs :
         {std::vector<std::string>{}, {empty.path.string()}, {"/nonexistent/archs"}}) {
        auto f = load_arch_for("llama", dirs);
        ASSERT_TRUE(f.ok()) << f.error().message();
        EXPECT_EQ(f->name, "llama");
        EXPECT_EQ(f->path, "archs/llama.arch.toml (built in)");
        EXPECT_GT(f->params.size(), 10u);
    }
}

TEST(ArchLookup, AFileInADirectoryOverrides) {
    const TempDir dir;
    dir.write("llama.arch.toml", toy_file("llama"));
    auto f = load_arch_for("llama", {dir.path.string(), LOOM_SOURCE_ARCH_DIR});
    ASSERT_TRUE(f.ok()) << f.error().message();
    EXPECT_EQ(f->path, (dir.path / "llama.arch.toml").string());
    ASSERT_EQ(f->params.size(), 1u);

    // $LOOM_ARCH_DIR comes first, before the source tree's archs/.
    ASSERT_EQ(setenv("LOOM_ARCH_DIR", dir.path.c_str(), 1), 0);
    const std::vector<std::string> dirs = arch_dirs();
    auto g = load_arch_for("llama");
    unsetenv("LOOM_ARCH_DIR");
    ASSERT_FALSE(dirs.empty());
    EXPECT_EQ(dirs[0], dir.path.string());
    ASSERT_TRUE(g.ok()) << g.error().message();
    EXPECT_EQ(g->path, (dir.path / "llama.arch.toml").string());
}

TEST(ArchLookup, AFileServingAnotherFamilyIsAnError) {
    const TempDir dir;
    dir.write("llama.arch.toml", toy_file("toy"));
    auto f = load_arch_for("llama", {dir.path.string()});
    ASSERT_FALSE(f.ok());
    EXPECT_NE(f.error().message().find("[arch] name is 'toy' but the file serves 'llama'"), std::string::npos)
        << f.error().message();
}

TEST(ArchLookup, UnknownFamilySaysWhereItLookedAndWhatThereIs) {
    const TempDir dir;
    dir.write("toy.arch.toml", toy_file("toy"));
    auto f = load_arch_for("nosuch", {dir.path.string()});
    ASSERT_FALSE(f.ok());
    const std::string m = f.error().message();
    EXPECT_NE(m.find("architecture 'nosuch' has no file nosuch.arch.toml"), std::string::npos) << m;
    EXPECT_NE(m.find(dir.path.string()), std::string::npos) << m;
    EXPECT_NE(m.find("built in"), std::string::npos) << m;
    const std::string supported = m.substr(m.find("supported: "));
    for (const char* family : {"gemma3", "llama", "toy"}) EXPECT_NE(supported.find(family), std::string::npos) << m;
}

}  // namespace
}  // namespace loom::arch
