// Replay driver for fuzz targets built without libFuzzer: runs every file named on the command line, and
// every regular file under each directory named (recursively, in sorted order), through
// LLVMFuzzerTestOneInput. With no arguments it runs a few built-in inputs. A crash or abort in the target
// fails the run, which is what the test suite checks; a missing path is an error too (exit 2), so a
// misspelt corpus directory cannot pass by running nothing.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

namespace fs = std::filesystem;

bool run_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) {
        std::fprintf(stderr, "replay: cannot read %s\n", p.c_str());
        return false;
    }
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    // A copy of exactly `size` bytes on the heap, so ASan catches a read one past the end.
    std::vector<uint8_t> exact(bytes);
    LLVMFuzzerTestOneInput(exact.data(), exact.size());
    return true;
}

// Generic inputs, useful for any parser: empty, short, a GGUF header, JSON and TOML fragments, binary noise.
int run_builtin() {
    const std::string_view seeds[] = {
        std::string_view(""),
        std::string_view("\0", 1),
        std::string_view("GGUF"),
        std::string_view("GGUF\x03\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24),
        std::string_view("GGUF\x03\0\0\0\x01\0\0\0\0\0\0\0\x01\0\0\0\0\0\0\0", 24),
        std::string_view("{\"a\": [1, 2.5, \"x\", null, true]}"),
        std::string_view("[table]\nkey = \"value\"\nn = 3\n"),
        std::string_view("\xff\xfe\xfd\x80\x00\x7f", 6),
    };
    for (std::string_view s : seeds) {
        std::vector<uint8_t> exact(s.begin(), s.end());
        LLVMFuzzerTestOneInput(exact.data(), exact.size());
    }
    std::printf("replay: %zu built-in inputs ran\n", std::size(seeds));
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return run_builtin();
    size_t ran = 0;
    for (int i = 1; i < argc; ++i) {
        const fs::path arg(argv[i]);
        std::error_code ec;
        if (fs::is_directory(arg, ec)) {
            std::vector<fs::path> files;
            for (const auto& e : fs::recursive_directory_iterator(arg, ec))
                if (e.is_regular_file()) files.push_back(e.path());
            if (ec) {
                std::fprintf(stderr, "replay: cannot list %s: %s\n", arg.c_str(), ec.message().c_str());
                return 2;
            }
            std::sort(files.begin(), files.end());
            for (const fs::path& p : files) {
                if (!run_file(p)) return 2;
                ++ran;
            }
        } else if (fs::is_regular_file(arg, ec)) {
            if (!run_file(arg)) return 2;
            ++ran;
        } else {
            std::fprintf(stderr, "replay: no such file or directory: %s\n", arg.c_str());
            return 2;
        }
    }
    std::printf("replay: %zu inputs ran\n", ran);
    return 0;
}
