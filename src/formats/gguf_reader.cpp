// GGUF parsing and validation. Every read goes through Cursor, which checks the bytes left before
// touching them; every size computation uses checked arithmetic. Errors carry the byte offset of the
// field at fault.
#include "formats/gguf_reader.h"

#include <algorithm>
#include <limits>

#include "formats/mapped_file.h"

namespace loom::formats {
namespace {

// Caps that keep a hostile header from asking for absurd work before its size is checked.
constexpr uint64_t kMaxStringLen = uint64_t(1) << 30;
constexpr uint64_t kMaxArrayLen = uint64_t(1) << 30;

bool mul_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_mul_overflow(a, b, out); }
bool add_overflows(uint64_t a, uint64_t b, uint64_t* out) { return __builtin_add_overflow(a, b, out); }

// Valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            ++i;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 1;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            cp = c & 0x07;
        } else return false;
        if (i + n >= s.size()) return false;  // continuation bytes s[i+1..i+n] must exist
        for (size_t k = 1; k <= n; ++k) {
            const auto cc = static_cast<unsigned char>(s[i + k]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = cp << 6 | (cc & 0x3f);
        }
        if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000)) return false;
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

class Cursor {
public:
    Cursor(const uint8_t* data, uint64_t size, const std::string& source) : data_(data), size_(size), source_(source) {}

    uint64_t pos() const { return pos_; }
    uint64_t left() const { return size_ - pos_; }

    // `<source>: <what> @0x<offset>: <problem>`
    template <typename... Args>
    Error fail(uint64_t at, std::string_view what, fmt::format_string<Args...> f, Args&&... args) const {
        return Error::invalid("{}: {} @{:#x}: {}", source_, what, at, fmt::format(f, std::forward<Args>(args)...));
    }

    Status need(uint64_t n, std::string_view what) const {
        if (n > left())
            return fail(pos_, what, "needs {} bytes, only {} left in the file (size {:#x})", n, left(), size_);
        return Ok{};
    }

    template <typename T>
    Result<T> read(std::string_view what) {
        LOOM_RETURN_IF_ERROR(need(sizeof(T), what));
        T v;
        std::memcpy(&v, data_ + pos_, sizeof(T));
        pos_ += sizeof(T);
        return v;
    }

    Result<std::string_view> read_string(std::string_view what) {
        const uint64_t at = pos_;
        LOOM_TRY(uint64_t len, read<uint64_t>(what));
        if (len > kMaxStringLen) return fail(at, what, "string length {} exceeds the cap of {}", len, kMaxStringLen);
        if (len > left())
            return fail(at, what, "string length {} runs past the end of the file ({} bytes left)", len, left());
        std::string_view s(reinterpret_cast<const char*>(data_ + pos_), len);
        pos_ += len;
        return s;
    }

    const uint8_t* here() const { return data_ + pos_; }
    void skip(uint64_t n) { pos_ += n; }  // callers checked need(n)

private:
    const uint8_t* data_;
    uint64_t size_;
    uint64_t pos_ = 0;
    const std::string& source_;
};

std::string quoted(std::string_view s) {
    // Keys and names may be hostile: show at most 80 bytes, printable ASCII only.
    std::string out = "'";
    for (size_t i = 0; i < s.size() && i < 80; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c < 0x7f) out += char(c);
        else out += fmt::format("\\x{:02x}", c);
    }
    if (s.size() > 80) out += "...";
    return out + "'";
}

// Reads one value of `type` (not an array) into `e`.
Status read_scalar(Cursor& c, GgufType type, MetaEntry& e, std::string_view what) {
    if (type == GgufType::string) {
        LOOM_TRY(e.str, c.read_string(what));
        return Ok{};
    }
    const size_t n = scalar_size(type);
    LOOM_RETURN_IF_ERROR(c.need(n, what));
    e.data = c.here();
    c.skip(n);
    return Ok{};
}

Status read_array(Cursor& c, MetaEntry& e, const std::string& what) {
    const uint64_t at = c.pos();
    LOOM_TRY(uint32_t elem_id, c.read<uint32_t>(what));
    const auto elem = gguf_type_from_id(elem_id);
    if (!elem) return c.fail(at, what, "unknown array element type {}", elem_id);
    if (*elem == GgufType::array) return c.fail(at, what, "nested arrays are not supported");
    const uint64_t count_at = c.pos();
    LOOM_TRY(uint64_t count, c.read<uint64_t>(what));
    if (count > kMaxArrayLen)
        return c.fail(count_at, what, "array length {} exceeds the cap of {}", count, kMaxArrayLen);
    e.elem_type = *elem;
    e.count = count;
    if (*elem == GgufType::string) {
        // Each element is at least its 8-byte length: check the minimum before reserving.
        uint64_t min_bytes;
        if (mul_overflows(count, 8, &min_bytes) || min_bytes > c.left())
            return c.fail(count_at, what, "array of {} strings cannot fit in the {} bytes left", count, c.left());
        e.strs.reserve(count);
        for (uint64_t i = 0; i < count; ++i) {
            LOOM_TRY(std::string_view s, c.read_string(what));
            e.strs.push_back(s);
        }
        return Ok{};
    }
    uint64_t bytes;
    if (mul_overflows(count, scalar_size(*elem), &bytes) || bytes > c.left())
        return c.fail(count_at, what, "array of {} {} needs more than the {} bytes left", count, name(*elem), c.left());
    e.data = c.here();
    c.skip(bytes);
    return Ok{};
}

}  // namespace

GgufValue MetaEntry::to_owned() const {
    auto scalar = [](GgufType t, const uint8_t* p) -> GgufValue {
        auto rd = [p]<typename T>(T) {
            T v;
            std::memcpy(&v, p, sizeof(T));
            return v;
        };
        switch (t) {
            case GgufType::u8: return rd(uint8_t{});
            case GgufType::i8: return rd(int8_t{});
            case GgufType::u16: return rd(uint16_t{});
            case GgufType::i16: return rd(int16_t{});
            case GgufType::u32: return rd(uint32_t{});
            case GgufType::i32: return rd(int32_t{});
            case GgufType::f32: return rd(float{});
            case GgufType::boolean: return bool(p[0] != 0);
            case GgufType::u64: return rd(uint64_t{});
            case GgufType::i64: return rd(int64_t{});
            case GgufType::f64: return rd(double{});
            default: LOOM_ASSERT(false, "not a fixed-size scalar: {}", name(t));
        }
        __builtin_unreachable();
    };
    if (type == GgufType::string) return std::string(str);
    if (type != GgufType::array) return scalar(type, data);
    auto vec = [this]<typename T>(T) {
        std::vector<T> v(count);
        for (uint64_t i = 0; i < count; ++i) std::memcpy(&v[i], data + i * sizeof(T), sizeof(T));
        return v;
    };
    switch (elem_type) {
        case GgufType::u8: return vec(uint8_t{});
        case GgufType::i8: return vec(int8_t{});
        case GgufType::u16: return vec(uint16_t{});
        case GgufType::i16: return vec(int16_t{});
        case GgufType::u32: return vec(uint32_t{});
        case GgufType::i32: return vec(int32_t{});
        case GgufType::f32: return vec(float{});
        case GgufType::boolean: {
            std::vector<bool> v(count);
            for (uint64_t i = 0; i < count; ++i) v[i] = data[i] != 0;
            return v;
        }
        case GgufType::string: return std::vector<std::string>(strs.begin(), strs.end());
        case GgufType::u64: return vec(uint64_t{});
        case GgufType::i64: return vec(int64_t{});
        case GgufType::f64: return vec(double{});
        case GgufType::array: break;
    }
    LOOM_ASSERT(false, "nested array survived validation");
    __builtin_unreachable();
}

Result<GgufFile> GgufFile::open(const std::string& path, LoadMode mode, const MappedFile::ProgressFn& progress) {
    LOOM_TRY(MappedFile m, MappedFile::open(path, mode, progress));
    auto owner = std::make_shared<MappedFile>(std::move(m));
    const uint8_t* data = owner->data();
    const size_t size = owner->size();
    MappedFile* mapping = owner.get();
    auto f = parse_view(std::move(owner), data, size, path);
    if (f.ok()) f->mapping_ = mapping;
    return f;
}

size_t GgufFile::release(const TensorInfo& t) const {
    if (external_release_) return external_release_(t.data, size_t(t.bytes));
    return mapping_ ? mapping_->release(t.data, size_t(t.bytes)) : 0;
}

Result<GgufFile> GgufFile::parse(std::vector<uint8_t> bytes, std::string source) {
    auto owner = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    const uint8_t* data = owner->data();
    const size_t size = owner->size();
    return parse_view(std::move(owner), data, size, std::move(source));
}

Result<GgufFile> GgufFile::parse_view(std::shared_ptr<const void> owner, const uint8_t* data, size_t size,
                                      std::string source) {
    GgufFile f;
    f.owner_ = std::move(owner);
    f.base_ = data;
    f.size_ = size;
    f.source_ = std::move(source);
    Cursor c(data, size, f.source_);

    // Header.
    LOOM_TRY(uint32_t magic, c.read<uint32_t>("magic"));
    if (magic != kGgufMagic)
        return c.fail(0, "magic", "not a GGUF file (expected 'GGUF', got {})",
                      quoted(std::string_view(reinterpret_cast<const char*>(data), 4)));
    LOOM_TRY(f.version_, c.read<uint32_t>("version"));
    if (f.version_ != 0 && (f.version_ & 0xffff) == 0)  // 0 is just a bad version, as in ggml
        return c.fail(4, "version", "version {:#x} looks byte-swapped: big-endian files are not supported", f.version_);
    if (f.version_ < 2 || f.version_ > 3)
        return c.fail(4, "version", "unsupported version {} (expected 2 or 3)", f.version_);
    LOOM_TRY(uint64_t n_tensors, c.read<uint64_t>("tensor_count"));
    LOOM_TRY(uint64_t n_kv, c.read<uint64_t>("kv_count"));
    // Every KV record takes at least 8 (key length) + 4 (type) + 1 bytes; every tensor record at least
    // 8 + 4 + 8 + 4 + 8. Bound the counts by the bytes left before reserving anything.
    if (n_kv > c.left() / 13)
        return c.fail(16, "kv_count", "{} key/value pairs cannot fit in the {} bytes left", n_kv, c.left());
    if (n_tensors > c.left() / 32)
        return c.fail(8, "tensor_count", "{} tensors cannot fit in the {} bytes left", n_tensors, c.left());

    // Metadata.
    f.meta_.reserve(n_kv);
    for (uint64_t i = 0; i < n_kv; ++i) {
        MetaEntry e;
        e.file_offset = c.pos();
        const std::string what_key = fmt::format("metadata #{} key", i);
        LOOM_TRY(e.key, c.read_string(what_key));
        if (e.key.empty()) return c.fail(e.file_offset, what_key, "empty key");
        if (!valid_utf8(e.key)) return c.fail(e.file_offset, what_key, "key {} is not valid UTF-8", quoted(e.key));
        if (f.meta_index_.count(e.key)) return c.fail(e.file_offset, what_key, "duplicate key {}", quoted(e.key));
        const std::string what = fmt::format("metadata {}", quoted(e.key));
        const uint64_t type_at = c.pos();
        LOOM_TRY(uint32_t type_id, c.read<uint32_t>(what));
        const auto type = gguf_type_from_id(type_id);
        if (!type) return c.fail(type_at, what, "unknown value type {}", type_id);
        e.type = *type;
        if (e.type == GgufType::array) {
            LOOM_RETURN_IF_ERROR(read_array(c, e, what));
        } else {
            LOOM_RETURN_IF_ERROR(read_scalar(c, e.type, e, what));
        }
        f.meta_index_.emplace(e.key, f.meta_.size());
        f.meta_.push_back(std::move(e));
    }

    // Alignment: u32, a power of two within the cap.
    if (const MetaEntry* a = f.find("general.alignment")) {
        const std::string what = "metadata 'general.alignment'";
        if (a->type != GgufType::u32) return c.fail(a->file_offset, what, "must be u32, got {}", name(a->type));
        uint32_t v;
        std::memcpy(&v, a->data, 4);
        if (v == 0 || (v & (v - 1)) != 0 || v > kMaxAlignment)
            return c.fail(a->file_offset, what, "{} is not a power of two in [1, {}]", v, kMaxAlignment);
        f.alignment_ = v;
    }

    // Tensor infos.
    f.tensors_.reserve(n_tensors);
    for (uint64_t i = 0; i < n_tensors; ++i) {
        TensorInfo t;
        t.info_offset = c.pos();
        const std::string what_name = fmt::format("tensor #{} name", i);
        LOOM_TRY(t.name, c.read_string(what_name));
        if (t.name.empty()) return c.fail(t.info_offset, what_name, "empty tensor name");
        if (t.name.size() > kMaxTensorName)
            return c.fail(t.info_offset, what_name, "name {} is {} bytes long (at most {})", quoted(t.name),
                          t.name.size(), kMaxTensorName);
        if (!valid_utf8(t.name)) return c.fail(t.info_offset, what_name, "name {} is not valid UTF-8", quoted(t.name));
        if (f.tensor_index_.count(t.name))
            return c.fail(t.info_offset, what_name, "duplicate tensor name {}", quoted(t.name));
        const std::string what = fmt::format("tensor {}", quoted(t.name));

        const uint64_t dims_at = c.pos();
        LOOM_TRY(uint32_t n_dims, c.read<uint32_t>(what));
        if (n_dims == 0 || n_dims > uint32_t(kMaxDims))
            return c.fail(dims_at, what, "n_dims {} outside [1, {}]", n_dims, kMaxDims);
        uint64_t n_elems = 1;
        for (uint32_t d = 0; d < n_dims; ++d) {
            const uint64_t at = c.pos();
            LOOM_TRY(int64_t ne, c.read<int64_t>(what));
            if (ne <= 0 || ne > kMaxDim) return c.fail(at, what, "dimension {} is {} (expected 1..{})", d, ne, kMaxDim);
            t.ne[d] = ne;
            if (mul_overflows(n_elems, uint64_t(ne), &n_elems) ||
                n_elems > uint64_t(std::numeric_limits<int64_t>::max()))
                return c.fail(at, what, "element count overflows");
        }
        t.shape.assign(t.ne.rbegin() + (kMaxDims - n_dims), t.ne.rend());

        const uint64_t type_at = c.pos();
        LOOM_TRY(uint32_t type_id, c.read<uint32_t>(what));
        const auto ti = dtype_info(type_id);
        if (!ti) return c.fail(type_at, what, "unknown or removed tensor type id {}", type_id);
        t.type = static_cast<DType>(type_id);
        if (t.ne[0] % ti->block_elems != 0)
            return c.fail(dims_at, what, "row length {} is not a multiple of {}'s block size {}", t.ne[0], ti->name,
                          ti->block_elems);
        uint64_t bytes;
        if (mul_overflows(n_elems / uint64_t(ti->block_elems), uint64_t(ti->block_bytes), &bytes))
            return c.fail(dims_at, what, "byte size overflows");
        t.bytes = bytes;

        const uint64_t off_at = c.pos();
        LOOM_TRY(uint64_t rel, c.read<uint64_t>(what));
        if (rel % f.alignment_ != 0)
            return c.fail(off_at, what, "data offset {:#x} is not a multiple of the alignment {}", rel, f.alignment_);
        t.offset = rel;  // relative for now; made absolute below
        f.tensor_index_.emplace(t.name, f.tensors_.size());
        f.tensors_.push_back(std::move(t));
    }

    // Data blob: starts at the next multiple of the alignment (only present when there are tensors).
    f.data_offset_ = c.pos();
    if (!f.tensors_.empty()) {
        const uint64_t a = f.alignment_;
        f.data_offset_ = (c.pos() + a - 1) / a * a;  // pos <= size < 2^63, no overflow
        if (f.data_offset_ > size)
            return c.fail(c.pos(), "tensor data", "data starts at {:#x}, past end of file ({:#x})", f.data_offset_,
                          size);
    }

    // Each tensor inside the file, and no two overlapping (sorted by start, each must end before the next).
    for (TensorInfo& t : f.tensors_) {
        const std::string what = fmt::format("tensor {}", quoted(t.name));
        uint64_t start, end;
        if (add_overflows(f.data_offset_, t.offset, &start) || add_overflows(start, t.bytes, &end))
            return c.fail(t.info_offset, what, "data range overflows");
        if (end > size) return c.fail(t.info_offset, what, "data ends at {:#x}, past end of file ({:#x})", end, size);
        t.offset = start;
        t.data = data + start;
    }
    std::vector<const TensorInfo*> by_start;
    by_start.reserve(f.tensors_.size());
    for (const TensorInfo& t : f.tensors_) by_start.push_back(&t);
    std::sort(by_start.begin(), by_start.end(), [](auto* x, auto* y) { return x->offset < y->offset; });
    for (size_t i = 1; i < by_start.size(); ++i) {
        const TensorInfo& prev = *by_start[i - 1];
        const TensorInfo& cur = *by_start[i];
        if (cur.offset < prev.offset + prev.bytes)
            return c.fail(cur.info_offset, fmt::format("tensor {}", quoted(cur.name)),
                          "data [{:#x}, {:#x}) overlaps tensor {} [{:#x}, {:#x})", cur.offset, cur.offset + cur.bytes,
                          quoted(prev.name), prev.offset, prev.offset + prev.bytes);
    }
    return f;
}

const MetaEntry* GgufFile::find(std::string_view key) const {
    auto it = meta_index_.find(key);
    return it == meta_index_.end() ? nullptr : &meta_[it->second];
}

const TensorInfo* GgufFile::tensor(std::string_view name) const {
    auto it = tensor_index_.find(name);
    return it == tensor_index_.end() ? nullptr : &tensors_[it->second];
}

Result<const MetaEntry*> GgufFile::entry_of(std::string_view key, GgufType want) const {
    const MetaEntry* e = find(key);
    if (!e) return Error::not_found("{}: metadata '{}': missing", source_, key);
    if (e->type != want)
        return Error::make(ErrorCode::type_mismatch, "{}: metadata '{}' @{:#x}: expected {}, got {}", source_, key,
                           e->file_offset, name(want),
                           e->type == GgufType::array ? fmt::format("array of {}", name(e->elem_type))
                                                      : std::string(name(e->type)));
    return e;
}

Result<const MetaEntry*> GgufFile::array_of(std::string_view key, GgufType elem) const {
    const MetaEntry* e = find(key);
    if (!e) return Error::not_found("{}: metadata '{}': missing", source_, key);
    if (e->type != GgufType::array || e->elem_type != elem)
        return Error::make(ErrorCode::type_mismatch, "{}: metadata '{}' @{:#x}: expected array of {}, got {}", source_,
                           key, e->file_offset, name(elem),
                           e->type == GgufType::array ? fmt::format("array of {}", name(e->elem_type))
                                                      : std::string(name(e->type)));
    return e;
}

Result<std::string_view> GgufFile::get_string(std::string_view key) const {
    LOOM_TRY(const MetaEntry* e, entry_of(key, GgufType::string));
    return e->str;
}

Result<std::span<const std::string_view>> GgufFile::get_string_array(std::string_view key) const {
    LOOM_TRY(const MetaEntry* e, array_of(key, GgufType::string));
    return std::span<const std::string_view>(e->strs);
}

Result<int64_t> GgufFile::get_int(std::string_view key) const {
    const MetaEntry* e = find(key);
    if (!e) return Error::not_found("{}: metadata '{}': missing", source_, key);
    auto rd = [e]<typename T>(T) {
        T v;
        std::memcpy(&v, e->data, sizeof(T));
        return v;
    };
    switch (e->type) {
        case GgufType::u8: return int64_t(rd(uint8_t{}));
        case GgufType::i8: return int64_t(rd(int8_t{}));
        case GgufType::u16: return int64_t(rd(uint16_t{}));
        case GgufType::i16: return int64_t(rd(int16_t{}));
        case GgufType::u32: return int64_t(rd(uint32_t{}));
        case GgufType::i32: return int64_t(rd(int32_t{}));
        case GgufType::i64: return rd(int64_t{});
        case GgufType::u64: {
            const uint64_t v = rd(uint64_t{});
            if (v > uint64_t(std::numeric_limits<int64_t>::max()))
                return Error::make(ErrorCode::out_of_range, "{}: metadata '{}' @{:#x}: {} does not fit in int64",
                                   source_, key, e->file_offset, v);
            return int64_t(v);
        }
        default:
            return Error::make(ErrorCode::type_mismatch, "{}: metadata '{}' @{:#x}: expected an integer, got {}",
                               source_, key, e->file_offset, name(e->type));
    }
}

Result<double> GgufFile::get_float(std::string_view key) const {
    const MetaEntry* e = find(key);
    if (!e) return Error::not_found("{}: metadata '{}': missing", source_, key);
    if (e->type == GgufType::f32) {
        float v;
        std::memcpy(&v, e->data, 4);
        return double(v);
    }
    if (e->type == GgufType::f64) {
        double v;
        std::memcpy(&v, e->data, 8);
        return v;
    }
    auto i = get_int(key);
    if (!i)
        return Error::make(ErrorCode::type_mismatch, "{}: metadata '{}' @{:#x}: expected a number, got {}", source_,
                           key, e->file_offset, name(e->type));
    return double(*i);
}

}  // namespace loom::formats
