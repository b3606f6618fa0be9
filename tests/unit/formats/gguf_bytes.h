// A raw little-endian byte builder for hand-made (often hostile) GGUF files in tests. Unlike GgufWriter it
// checks nothing, so any field can carry any value; `pos()` marks where a field starts (for expected
// error offsets) and `patch()` rewrites a field after the fact.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "formats/gguf_reader.h"

namespace loom::formats::testutil {

class GgufBytes {
public:
    // Offset of the next byte to be written.
    uint64_t pos() const { return out_.size(); }

    template <typename T>
    GgufBytes& put(T v) {
        const size_t at = out_.size();
        out_.resize(at + sizeof(T));
        std::memcpy(out_.data() + at, &v, sizeof(T));
        return *this;
    }
    GgufBytes& u8(uint8_t v) { return put(v); }
    GgufBytes& u32(uint32_t v) { return put(v); }
    GgufBytes& i32(int32_t v) { return put(v); }
    GgufBytes& u64(uint64_t v) { return put(v); }
    GgufBytes& i64(int64_t v) { return put(v); }
    // Bytes as they are, no length prefix.
    GgufBytes& raw(std::string_view s) {
        out_.insert(out_.end(), s.begin(), s.end());
        return *this;
    }
    GgufBytes& zeros(size_t n) {
        out_.resize(out_.size() + n, 0);
        return *this;
    }
    // A GGUF string: u64 length + bytes. str_len writes `len` as the length field whatever s holds.
    GgufBytes& str(std::string_view s) { return u64(s.size()).raw(s); }
    GgufBytes& str_len(uint64_t len, std::string_view s) { return u64(len).raw(s); }
    GgufBytes& pad_to(uint64_t alignment) { return zeros((alignment - out_.size() % alignment) % alignment); }

    // magic "GGUF", version, tensor_count, kv_count.
    GgufBytes& header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
        return u32(kGgufMagic).u32(version).u64(n_tensors).u64(n_kv);
    }
    // A key and a value type id; the caller writes the value.
    GgufBytes& key(std::string_view k, uint32_t type) { return str(k).u32(type); }
    GgufBytes& kv_u32(std::string_view k, uint32_t v) { return key(k, uint32_t(GgufType::u32)).u32(v); }
    GgufBytes& kv_str(std::string_view k, std::string_view v) { return key(k, uint32_t(GgufType::string)).str(v); }
    // A tensor-info record; `ne` is in GGUF order (innermost first), n_dims = ne.size().
    GgufBytes& tensor(std::string_view name, const std::vector<int64_t>& ne, uint32_t type, uint64_t offset) {
        str(name).u32(uint32_t(ne.size()));
        for (int64_t d : ne) i64(d);
        return u32(type).u64(offset);
    }

    // Overwrite sizeof(T) bytes at `at` (which must already be written).
    template <typename T>
    GgufBytes& patch(uint64_t at, T v) {
        LOOM_ASSERT(at + sizeof(T) <= out_.size(), "patch at {:#x} past the {} bytes written", at, out_.size());
        std::memcpy(out_.data() + at, &v, sizeof(T));
        return *this;
    }

    const std::vector<uint8_t>& bytes() const { return out_; }
    std::vector<uint8_t> take() { return std::move(out_); }

private:
    std::vector<uint8_t> out_;
};

// "@0x1c": how the reader writes an offset in its messages.
inline std::string at_offset(uint64_t off) { return fmt::format("@{:#x}", off); }

}  // namespace loom::formats::testutil
