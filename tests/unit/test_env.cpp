// Test surroundings: data directory, synthetic models, shell commands.
#include "unit/test_env.h"

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <vector>

#include "synth/synth_model.h"

namespace loom::test {

std::string data_dir() {
    const char* d = std::getenv("LOOM_TEST_DATA_DIR");
    return d && *d ? d : LOOM_TEST_DATA_DIR;
}

std::string synth_model(const std::string& spec, const std::string& type, unsigned seed) {
    std::string out = ::testing::TempDir() + "/loom-synth-" + spec + "-" + type + "-" + std::to_string(seed) + ".gguf";
    if (!std::ifstream(out).good()) {
        synth::SynthOptions o;
        o.spec_path = data_dir() + "/synth/" + spec + ".toml";
        o.out_path = out + ".tmp" + std::to_string(getpid());
        o.type = type;
        o.seed = seed;
        auto r = synth::synthesize(o);
        EXPECT_TRUE(r.ok()) << r.error().message();
        // rename is atomic: another process sees no file or the whole file.
        std::rename(o.out_path.c_str(), out.c_str());
    }
    return out;
}

std::string scratch_path(const std::string& name) {
    // Function-local: the list outlives every caller and is emptied by its destructor at exit.
    struct Scratch {
        std::vector<std::string> paths;
        ~Scratch() {
            // Directories too, whole (a Hugging Face directory is tens of MB): std::remove left them behind.
            std::error_code ec;
            for (const std::string& p : paths) std::filesystem::remove_all(p, ec);
        }
    };
    static Scratch scratch;
    std::string dir = ::testing::TempDir();
    if (!dir.empty() && dir.back() != '/') dir += '/';
    std::string path = dir + "loom-" + std::to_string(getpid()) + "-" + name;
    if (std::find(scratch.paths.begin(), scratch.paths.end(), path) == scratch.paths.end())
        scratch.paths.push_back(path);
    return path;
}

ShellResult shell(const std::string& cmd) {
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return {-1, "popen failed: " + cmd};
    std::string out;
    std::array<char, 4096> buf;
    while (size_t n = fread(buf.data(), 1, buf.size(), p)) out.append(buf.data(), n);
    const int status = pclose(p);
    return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

}  // namespace loom::test
