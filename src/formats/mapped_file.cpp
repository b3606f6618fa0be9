// Whole-file views: a read-only private mapping, optionally pre-populated, or a copy in anonymous
// memory backed by transparent huge pages. A mapping closes the fd at once; a copy keeps it for release().
#include "formats/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace loom::formats {
namespace {

constexpr size_t kHugePage = size_t(2) << 20;

struct Fd {
    int fd;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// Reads the whole file into `dst` (pread loop: handles short reads and EINTR), in 64 MiB steps so that
// progress can be reported.
Status read_all(int fd, uint8_t* dst, size_t size, const std::string& path, const MappedFile::ProgressFn& progress) {
    constexpr size_t kStep = size_t(64) << 20;
    size_t done = 0;
    while (done < size) {
        const ssize_t n = ::pread(fd, dst + done, std::min(kStep, size - done), off_t(done));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return Error::io("{}: read failed at byte {}: {}", path, done, std::strerror(errno));
        if (n == 0) return Error::io("{}: file shrank while reading (got {} of {} bytes)", path, done, size);
        done += size_t(n);
        if (progress) progress(done, size);
    }
    return Ok{};
}

}  // namespace

Result<MappedFile> MappedFile::open(const std::string& path, LoadMode mode, const ProgressFn& progress) {
    Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
    if (f.fd < 0) return Error::io("{}: cannot open: {}", path, std::strerror(errno));
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) return Error::io("{}: cannot stat: {}", path, std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return Error::io("{}: not a regular file", path);

    MappedFile m;
    m.path_ = path;
    m.mode_ = mode;
    m.size_ = static_cast<size_t>(st.st_size);
    if (m.size_ == 0) return m;

    if (mode == LoadMode::read) {
        // Round up to whole huge pages so the kernel can back all of it with 2 MiB pages.
        m.mapped_size_ = (m.size_ + kHugePage - 1) / kHugePage * kHugePage;
        void* p = ::mmap(nullptr, m.mapped_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return Error::io("{}: cannot allocate {} bytes: {}", path, m.mapped_size_, std::strerror(errno));
        ::madvise(p, m.mapped_size_, MADV_HUGEPAGE);  // advisory: ignored where THP is off
        m.data_ = static_cast<const uint8_t*>(p);
        if (Status s = read_all(f.fd, static_cast<uint8_t*>(p), m.size_, path, progress); !s.ok())
            return std::move(s).error();
        ::mprotect(p, m.mapped_size_, PROT_READ);
        m.fd_ = std::exchange(f.fd, -1);
        return m;
    }

    const int flags = MAP_PRIVATE | (mode == LoadMode::populate ? MAP_POPULATE : 0);
    void* p = ::mmap(nullptr, m.size_, PROT_READ, flags, f.fd, 0);
    if (p == MAP_FAILED) return Error::io("{}: cannot map {} bytes: {}", path, m.size_, std::strerror(errno));
    m.mapped_size_ = m.size_;
    m.data_ = static_cast<const uint8_t*>(p);
    if (mode == LoadMode::populate) ::madvise(p, m.size_, MADV_WILLNEED);
    return m;
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      mapped_size_(std::exchange(o.mapped_size_, 0)),
      path_(std::move(o.path_)),
      mode_(o.mode_),
      fd_(std::exchange(o.fd_, -1)) {}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
    if (this != &o) {
        if (data_) ::munmap(const_cast<uint8_t*>(data_), mapped_size_);
        if (fd_ >= 0) ::close(fd_);
        data_ = std::exchange(o.data_, nullptr);
        size_ = std::exchange(o.size_, 0);
        mapped_size_ = std::exchange(o.mapped_size_, 0);
        path_ = std::move(o.path_);
        mode_ = o.mode_;
        fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(const_cast<uint8_t*>(data_), mapped_size_);
    if (fd_ >= 0) ::close(fd_);
}

size_t MappedFile::release(const uint8_t* p, size_t n) {
    const size_t page = size_t(::sysconf(_SC_PAGESIZE));
    if (!data_ || p < data_ || p + n > data_ + size_ || n < page) return 0;
    // Whole pages only: the partial pages at either end hold neighbouring bytes.
    const size_t first = (size_t(p - data_) + page - 1) / page * page, last = size_t(p + n - data_) / page * page;
    if (last <= first) return 0;
    auto* at = const_cast<uint8_t*>(data_) + first;
    if (mode_ == LoadMode::read) {
        // The copy starts page-aligned at file offset 0, so offset `first` of the copy is offset `first` of the file.
        if (fd_ < 0) return 0;
        void* r = ::mmap(at, last - first, PROT_READ, MAP_PRIVATE | MAP_FIXED, fd_, off_t(first));
        return r == MAP_FAILED ? 0 : last - first;
    }
    return ::madvise(at, last - first, MADV_DONTNEED) == 0 ? last - first : 0;
}

Result<std::string> read_text_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Error::io("{}: cannot open", path);
    std::stringstream ss;
    ss << in.rdbuf();
    if (in.bad()) return Error::io("{}: read failed", path);
    return ss.str();
}

}  // namespace loom::formats
