// MappedFile::release: the pages it drops come back unchanged, in every load mode, and only whole pages inside the
// range are dropped.
#include <unistd.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <vector>

#include "formats/mapped_file.h"
#include "unit/test_env.h"

namespace loom::formats {
namespace {

TEST(MappedFile, ReleasedPagesReadBackUnchanged) {
    const size_t page = size_t(::sysconf(_SC_PAGESIZE));
    std::vector<uint8_t> bytes(6 * page + 123);
    std::mt19937 rng(4);
    for (auto& b : bytes) b = uint8_t(rng());
    const std::string path = test::scratch_path("loom_release.bin");
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
    for (LoadMode mode : {LoadMode::map, LoadMode::populate, LoadMode::read}) {
        auto f = MappedFile::open(path, mode);
        ASSERT_TRUE(f.ok()) << f.error().message();
        // [1000, 4 pages + 10) holds pages 1, 2 and 3 whole: those go, the partial ones at the ends stay.
        EXPECT_EQ(f->release(f->data() + 1000, 4 * page + 10 - 1000), 3 * page) << int(mode);
        EXPECT_EQ(f->release(f->data() + 10, page - 20), 0u);       // no whole page inside
        EXPECT_EQ(f->release(f->data() + page, bytes.size()), 0u);  // past the end: refused
        ASSERT_EQ(f->size(), bytes.size());
        EXPECT_EQ(std::memcmp(f->data(), bytes.data(), bytes.size()), 0) << int(mode);
        // Released twice, still the same bytes.
        EXPECT_EQ(f->release(f->data(), bytes.size()), 6 * page);
        EXPECT_EQ(std::memcmp(f->data(), bytes.data(), bytes.size()), 0) << int(mode);
    }
    std::remove(path.c_str());
}

}  // namespace
}  // namespace loom::formats
