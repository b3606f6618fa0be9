// The context size of the model-running commands: the default stays within the model's training context; a -c
// above it, or a bench or eval that needs more positions, is honoured with a warning that names what asked (as
// llama.cpp does), instead of being cut to the training context until a later step fails; a bad -c is refused.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <string>

#include "unit/test_env.h"

namespace loom::cli {
namespace {

// A bench on the synthetic llama (tests/data/synth/llama.toml), trained for 2048 positions; stdout and stderr.
test::ShellResult bench(const std::string& args) {
    return test::shell(
        fmt::format("'{}' bench -m '{}' -t 2 -r 1 {} 2>&1", LOOM_BINARY, test::synth_model("llama", "f32"), args));
}

TEST(ContextSize, DefaultStaysWithinTheTrainingContextSilently) {
    const test::ShellResult r = bench("-p 8 -n 2");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("for 2048 positions"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
}

// The bug: -c 2100 was cut to 2048 without a word, and the prompt then failed at position 2048 with
// "does not fit the context of 2048 tokens (use a larger -c)", which the user had done.
TEST(ContextSize, ExplicitContextAboveTrainingIsHonouredWithAWarning) {
    const test::ShellResult r = bench("-c 2100 -p 2060 -n 0");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("loom: warning: -c 2100 needs a context of 2100 positions, above the 2048 the model was "
                         "trained for"),
              std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("for 2100 positions"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("| pp2060"), std::string::npos) << r.out;
}

TEST(ContextSize, BenchWithMorePromptThanContextSaysWhatNeedsIt) {
    const test::ShellResult r = bench("-p 2060 -n 0");
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_NE(r.out.find("loom: warning: -p 2060 -n 0 needs a context of 2060 positions"), std::string::npos) << r.out;
}

TEST(ContextSize, RefusalsSayWhatAndWhy) {
    const test::ShellResult c = bench("-c -5 -p 8 -n 0");
    EXPECT_EQ(c.status, 1) << c.out;
    EXPECT_NE(c.out.find("loom: -c -5: a context size is a number of positions, at least 1"), std::string::npos)
        << c.out;
    const test::ShellResult p = bench("-p -1 -n 0");
    EXPECT_EQ(p.status, 1) << p.out;
    EXPECT_NE(p.out.find("loom: -p -1 -n 0: token counts cannot be negative"), std::string::npos) << p.out;
}

}  // namespace
}  // namespace loom::cli
