// GGUF reader: maps a file, validates every field before anything is used, and offers typed,
// zero-copy access to metadata and tensor data. See the shared reference, formats §1.
//
// Validation (all before open() returns): magic and version (2 or 3); every count and string length
// against the bytes left; all size math overflow-checked; keys non-empty, unique, valid UTF-8;
// nested arrays rejected; general.alignment a u32 power of two <= kMaxAlignment; tensor names
// non-empty, < 64 bytes, unique; n_dims 1..4; dims > 0 and <= kMaxDim; known type ids only;
// row length a multiple of the block size; offsets aligned, byte ranges inside the file and disjoint.
// Any failure gives one Error: `<file>: <what> @0x<offset>: <problem>`.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "formats/gguf_value.h"
#include "formats/mapped_file.h"

namespace loom::formats {

inline constexpr uint32_t kGgufMagic = 0x46554747;  // "GGUF" read as a little-endian u32
inline constexpr uint32_t kDefaultAlignment = 32;
inline constexpr uint32_t kMaxAlignment = 1u << 20;  // a sane cap: 1 MiB
inline constexpr size_t kMaxTensorName = 63;         // ggml keeps names in 64 bytes with the NUL
inline constexpr int kMaxDims = 4;
inline constexpr int64_t kMaxDim = int64_t(1) << 40;

// A read-only view of a numeric array in the mapping. Elements may be unaligned, so they are read
// with memcpy; the element type was checked when the view was made.
template <typename T>
class ArrayView {
public:
    ArrayView() = default;
    ArrayView(const uint8_t* data, size_t n) : data_(data), n_(n) {}
    size_t size() const { return n_; }
    bool empty() const { return n_ == 0; }
    T operator[](size_t i) const {
        LOOM_ASSERT(i < n_, "array index {} out of range (size {})", i, n_);
        T v;
        std::memcpy(&v, data_ + i * sizeof(T), sizeof(T));
        return v;
    }
    std::vector<T> to_vector() const {
        std::vector<T> out(n_);
        if (n_) std::memcpy(out.data(), data_, n_ * sizeof(T));
        return out;
    }

private:
    const uint8_t* data_ = nullptr;
    size_t n_ = 0;
};

// One metadata entry, viewing the mapping.
struct MetaEntry {
    std::string_view key;
    GgufType type;
    GgufType elem_type = GgufType::u8;   // meaningful only for arrays
    uint64_t count = 1;                  // array length; 1 for scalars
    const uint8_t* data = nullptr;       // scalar bytes or array elements (not for strings)
    std::string_view str;                // for type string
    std::vector<std::string_view> strs;  // for arrays of strings
    uint64_t file_offset = 0;            // where the record starts, for messages

    GgufValue to_owned() const;  // a copy, for writers and tests
};

struct TensorInfo {
    std::string_view name;
    DType type;
    std::vector<int64_t> shape;  // outermost first, as PyTorch: GGUF ne reversed. [n_vocab, d_model] for token_embd
    std::array<int64_t, 4> ne{1, 1, 1, 1};  // GGUF order, innermost first; unused dims are 1
    uint64_t offset = 0;                    // absolute byte offset of the data in the file
    uint64_t bytes = 0;                     // byte size of the data
    const uint8_t* data = nullptr;          // points into the mapping
    uint64_t info_offset = 0;               // where the tensor-info record starts, for messages

    int64_t n_elements() const { return ne[0] * ne[1] * ne[2] * ne[3]; }
    int64_t row_length() const { return ne[0]; }
    int64_t n_rows() const { return ne[1] * ne[2] * ne[3]; }
};

// A tensor whose bytes live outside any GGUF file: a Hugging Face checkpoint's mapping, or a buffer made at load.
struct ExternalTensor {
    std::string name;
    DType type;
    std::vector<int64_t> shape;  // outermost first, 1 to 4 dimensions
    const uint8_t* data = nullptr;
    uint64_t bytes = 0;
    uint64_t offset = 0;  // where the bytes are in their own file, for messages (0 for made ones)
};

class GgufFile {
public:
    // Map (or read, see LoadMode) and validate a file.
    static Result<GgufFile> open(const std::string& path, LoadMode mode = LoadMode::map,
                                 const MappedFile::ProgressFn& progress = {});
    // Validate bytes already in memory (tests, fuzzing); `source` names them in messages.
    static Result<GgufFile> parse(std::vector<uint8_t> bytes, std::string source);

    // A file presented as a GGUF: the metadata of `meta` (a parsed file with no tensors) and tensors whose bytes
    // live elsewhere; `owners` keep those bytes alive, and release() asks `release` to drop their pages. The
    // tensors are checked as the reader checks a file's (unique names under the GGUF limit, 1..4 dimensions each
    // in 1..kMaxDim, known types, whole blocks per row, byte counts that match). Defined in gguf_assemble.cpp.
    using ReleaseFn = std::function<size_t(const uint8_t*, size_t)>;
    static Result<GgufFile> assemble(GgufFile meta, std::vector<ExternalTensor> tensors,
                                     std::vector<std::shared_ptr<const void>> owners, ReleaseFn release);

    const std::string& source() const { return source_; }
    uint32_t version() const { return version_; }
    uint32_t alignment() const { return alignment_; }
    uint64_t data_offset() const { return data_offset_; }  // start of the tensor data blob
    uint64_t file_size() const { return size_; }

    // Metadata in file order.
    const std::vector<MetaEntry>& metadata() const { return meta_; }
    const MetaEntry* find(std::string_view key) const;
    bool has(std::string_view key) const { return find(key) != nullptr; }

    // Strict typed access: the stored type must be exactly T (an error names key, wanted and stored type).
    template <typename T>
    Result<T> get(std::string_view key) const {
        LOOM_TRY(const MetaEntry* e, entry_of(key, GgufTypeOf<T>::value));
        T v;
        std::memcpy(&v, e->data, sizeof(T));
        if constexpr (std::is_same_v<T, bool>) v = e->data[0] != 0;
        return v;
    }
    Result<std::string_view> get_string(std::string_view key) const;
    // Any integer type (u8..i64, and bool as 0/1 is not accepted), range-checked into int64.
    Result<int64_t> get_int(std::string_view key) const;
    // f32 or f64 (or any integer type, exactly representable) as double.
    Result<double> get_float(std::string_view key) const;

    // Arrays: the element type is checked on every call.
    template <typename T>
    Result<ArrayView<T>> get_array(std::string_view key) const {
        LOOM_TRY(const MetaEntry* e, array_of(key, GgufTypeOf<T>::value));
        return ArrayView<T>(e->data, e->count);
    }
    Result<std::span<const std::string_view>> get_string_array(std::string_view key) const;

    // Tensors in file order.
    const std::vector<TensorInfo>& tensors() const { return tensors_; }
    const TensorInfo* tensor(std::string_view name) const;

    // Drops the resident pages of a tensor's bytes whose content the caller keeps in another form (see
    // MappedFile::release; the bytes stay readable). Returns the bytes released; 0 for files parsed from memory.
    size_t release(const TensorInfo& t) const;

private:
    GgufFile() = default;
    static Result<GgufFile> parse_view(std::shared_ptr<const void> owner, const uint8_t* data, size_t size,
                                       std::string source);
    Result<const MetaEntry*> entry_of(std::string_view key, GgufType want) const;
    Result<const MetaEntry*> array_of(std::string_view key, GgufType elem) const;

    std::shared_ptr<const void> owner_;  // the mapping or byte vector the views point into
    MappedFile* mapping_ = nullptr;      // owner_ when it is a mapping
    const uint8_t* base_ = nullptr;
    uint64_t size_ = 0;
    std::string source_;
    uint32_t version_ = 0;
    uint32_t alignment_ = kDefaultAlignment;
    uint64_t data_offset_ = 0;
    std::vector<MetaEntry> meta_;
    std::vector<TensorInfo> tensors_;
    std::unordered_map<std::string_view, size_t> meta_index_, tensor_index_;
    // assemble(): the tensors' names and bytes, and how to release their pages.
    std::vector<std::shared_ptr<const void>> external_owners_;
    ReleaseFn external_release_;
};

}  // namespace loom::formats
