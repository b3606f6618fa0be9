// safetensors reader: maps one file, validates the whole header before anything is used, and offers
// zero-copy views of the tensors' bytes. Format and pitfalls: shared reference, vision-and-safetensors §2.1.
//
// Layout: u64 little-endian N, N bytes of UTF-8 JSON, then the data section. The JSON object maps tensor names
// to {"dtype", "shape", "data_offsets": [begin, end)} (offsets relative to the data section) and may hold
// "__metadata__" (string → string).
// Validation (all before open() returns): file ≥ 8 bytes; N ≤ kMaxHeader and 8 + N ≤ file size; the header is
// valid UTF-8 JSON, an object, with no repeated key; every entry has exactly those three fields, with a known
// dtype name, a shape of non-negative integers of rank ≤ kMaxRank, and two offsets begin ≤ end; element count ×
// dtype size (overflow-checked) = end − begin; names non-empty; the tensors, sorted by offset, tile the data
// section exactly (no gap, no overlap, nothing after the last). Any failure gives one Error:
// `<file>: tensor '<name>' @0x<offset>: <problem>` (the offset of the name in the header, or of the data).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "formats/mapped_file.h"

namespace loom::formats {

inline constexpr uint64_t kMaxSafetensorsHeader = 100'000'000;  // the reference implementation's limit
inline constexpr size_t kMaxSafetensorsRank = 8;

struct SafeTensor {
    std::string name;
    std::string dtype;           // as stored: "BF16", "I64", ...
    std::optional<DType> type;   // f32, f16 or bf16; nullopt for a dtype loom does not compute with
    std::vector<int64_t> shape;  // outermost first, as stored ([] is a scalar: one element)
    uint64_t offset = 0;         // absolute byte offset of the data in the file
    uint64_t bytes = 0;
    const uint8_t* data = nullptr;  // into the mapping; may be unaligned (read through memcpy)
    uint64_t header_offset = 0;     // where the name appears in the header, for messages

    int64_t n_elements() const;
};

// Bytes per element of a safetensors dtype name, or 0 for a name the format does not define.
uint64_t safetensors_dtype_size(std::string_view dtype);

class SafetensorsFile {
public:
    static Result<SafetensorsFile> open(const std::string& path, LoadMode mode = LoadMode::map);
    // Validate bytes already in memory (tests, fuzzing); `source` names them in messages.
    static Result<SafetensorsFile> parse(std::vector<uint8_t> bytes, std::string source);

    const std::string& source() const { return source_; }
    uint64_t data_offset() const { return data_offset_; }  // 8 + N
    uint64_t file_size() const { return size_; }
    const std::map<std::string, std::string>& metadata() const { return meta_; }  // "__metadata__"

    // Tensors in data order.
    const std::vector<SafeTensor>& tensors() const { return tensors_; }
    const SafeTensor* tensor(std::string_view name) const;

    // Drops the resident pages of [p, p + n) when they belong to this file's mapping (see MappedFile::release);
    // 0 for files parsed from memory or bytes elsewhere.
    size_t release(const uint8_t* p, size_t n) const;

private:
    SafetensorsFile() = default;
    static Result<SafetensorsFile> parse_view(std::shared_ptr<const void> owner, const uint8_t* data, size_t size,
                                              std::string source);

    std::shared_ptr<const void> owner_;
    MappedFile* mapping_ = nullptr;
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0, data_offset_ = 0;
    std::string source_;
    std::map<std::string, std::string> meta_;
    std::vector<SafeTensor> tensors_;
    std::unordered_map<std::string, size_t> index_;
};

}  // namespace loom::formats
