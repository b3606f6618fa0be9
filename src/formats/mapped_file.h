// A read-only memory mapping of a whole file: the source of truth for model weights (no copies).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "core/error.h"

namespace loom::formats {

// How the bytes reach memory. Weight-streaming decode is bound by memory bandwidth, and the way pages
// are backed matters: a file mapping uses 4 KiB page-cache pages (TLB misses on every new page), while
// a private anonymous copy can use transparent huge pages. Benchmarks compare these (loom bench).
enum class LoadMode : uint8_t {
    map,       // mmap the file (lazy: pages fault in on first touch)
    populate,  // mmap with MAP_POPULATE and MADV_WILLNEED: every page resident before first use
    read,      // read into anonymous memory advised MADV_HUGEPAGE (a copy: RSS grows by the file size)
};

// Owns one read-only view of a whole file; movable, not copyable. Thread-safe to read from many threads.
class MappedFile {
public:
    // progress(done, total) is called as bytes arrive (read mode, every 64 MiB and at the end).
    using ProgressFn = std::function<void(uint64_t done, uint64_t total)>;
    static Result<MappedFile> open(const std::string& path, LoadMode mode = LoadMode::map,
                                   const ProgressFn& progress = {});
    MappedFile(MappedFile&& o) noexcept;
    MappedFile& operator=(MappedFile&& o) noexcept;
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;
    ~MappedFile();

    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    std::span<const uint8_t> bytes() const { return {data_, size_}; }
    const std::string& path() const { return path_; }
    LoadMode mode() const { return mode_; }

    // Drops the resident copy of the whole pages inside [p, p + n) (a part of this file's bytes the caller keeps
    // elsewhere, e.g. as packed weights); the bytes stay readable and unchanged: a later touch reads them from
    // the file again. map/populate: the pages leave the mapping; read: the copy's pages become a mapping of the
    // same bytes of the file opened at load (the same inode, even if the path was replaced since). Returns the
    // bytes released (0 where it could not: the copy stays).
    size_t release(const uint8_t* p, size_t n);

private:
    MappedFile() = default;
    const uint8_t* data_ = nullptr;
    size_t size_ = 0;
    size_t mapped_size_ = 0;  // bytes to unmap (rounded up for the anonymous copy)
    std::string path_;
    LoadMode mode_ = LoadMode::map;
    int fd_ = -1;  // read mode: the file it was read from, for release()
};

// A whole small file (JSON, a chat template) as a string; an error names the path.
Result<std::string> read_text_file(const std::string& path);

}  // namespace loom::formats
