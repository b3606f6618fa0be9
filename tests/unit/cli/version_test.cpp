// `loom --version`: the version and the commit the binary was built from (as git describes the source tree), and
// "unknown" when the generator runs on sources that are not a git checkout (a tarball).
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/build_info.h"
#include "unit/test_env.h"

namespace loom {
namespace {

std::string trimmed(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

TEST(Version, NamesTheVersionAndTheCommitBuilt) {
    const test::ShellResult v = test::shell(fmt::format("'{}' --version", LOOM_BINARY));
    ASSERT_EQ(v.status, 0) << v.out;
    EXPECT_EQ(trimmed(v.out), fmt::format("loom {} ({})", build_version(), build_commit()));
    EXPECT_EQ(std::string(build_version()), "0.1.0");

    const test::ShellResult head =
        test::shell(fmt::format("git -C '{}' rev-parse --short=12 HEAD 2>/dev/null", LOOM_SOURCE_DIR));
    if (head.status != 0) GTEST_SKIP() << "the sources are not a git checkout";
    // git describe names the commit by its hash (after a tag, if any): the hash of HEAD is in it.
    EXPECT_NE(std::string(build_commit()).find(trimmed(head.out)), std::string::npos)
        << build_commit() << " does not name HEAD " << head.out;
}

TEST(Version, SourcesOutsideGitAreUnknown) {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / ("loom_version_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    const std::string out = (dir / "build_info.cpp").string();
    // GIT_CEILING_DIRECTORIES keeps git from finding a repository above the temporary directory.
    const test::ShellResult r =
        test::shell(fmt::format("GIT_CEILING_DIRECTORIES='{}' '{}' -DSOURCE_DIR='{}' -DVERSION=9.9.9 -DOUT='{}' -P "
                                "'{}/cmake/build_info.cmake' 2>&1",
                                dir.parent_path().string(), LOOM_CMAKE_COMMAND, dir.string(), out, LOOM_SOURCE_DIR));
    ASSERT_EQ(r.status, 0) << r.out;
    std::stringstream text;
    text << std::ifstream(out).rdbuf();
    EXPECT_NE(text.str().find("build_commit() { return \"unknown\"; }"), std::string::npos) << text.str();
    EXPECT_NE(text.str().find("build_version() { return \"9.9.9\"; }"), std::string::npos) << text.str();
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace loom
