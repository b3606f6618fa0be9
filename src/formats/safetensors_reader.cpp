// safetensors parsing and validation: the header JSON is parsed with nlohmann (a callback catches repeated keys,
// which nlohmann would silently overwrite), then every entry is checked and the data ranges tiled.
#include "formats/safetensors_reader.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <nlohmann/json.hpp>

namespace loom::formats {
namespace {

using json = nlohmann::json;

struct StDTypeInfo {
    const char* name;
    uint64_t size;
    std::optional<DType> type;  // what loom computes with
};

// The format's dtypes (safetensors `Dtype`); sub-byte F4/F6 types are left out: their bit-packed sizes would
// need a different size rule, and no checkpoint loom reads uses them.
constexpr StDTypeInfo kDTypes[] = {
    {"BOOL", 1, std::nullopt},    {"U8", 1, std::nullopt},      {"I8", 1, std::nullopt},  {"F8_E5M2", 1, std::nullopt},
    {"F8_E4M3", 1, std::nullopt}, {"F8_E8M0", 1, std::nullopt}, {"I16", 2, std::nullopt}, {"U16", 2, std::nullopt},
    {"F16", 2, DType::f16},       {"BF16", 2, DType::bf16},     {"I32", 4, std::nullopt}, {"U32", 4, std::nullopt},
    {"F32", 4, DType::f32},       {"F64", 8, std::nullopt},     {"I64", 8, std::nullopt}, {"U64", 8, std::nullopt},
    {"C64", 8, std::nullopt},
};

const StDTypeInfo* find_dtype(std::string_view name) {
    for (const StDTypeInfo& d : kDTypes)
        if (name == d.name) return &d;
    return nullptr;
}

// Where a tensor's name first appears in the header (as a JSON string), for messages; the header start when the
// name is escaped differently there.
uint64_t name_offset(std::string_view header, const std::string& name) {
    const size_t at = header.find(fmt::format("\"{}\"", name));
    return 8 + (at == std::string_view::npos ? 0 : at);
}

Result<uint64_t> as_u64(const json& v, const char* what) {
    if (!v.is_number_unsigned()) {
        if (v.is_number_integer()) return Error::invalid("{} {} is negative", what, v.get<int64_t>());
        return Error::invalid("{} must be a non-negative integer, got {}", what, v.dump());
    }
    return v.get<uint64_t>();
}

// Checks one header entry and fills `t` (name, dtype, shape, offsets relative to the data section).
Status parse_entry(const json& e, SafeTensor& t) {
    if (!e.is_object()) return Error::invalid("entry is {}, expected an object", e.type_name());
    for (const auto& [k, v] : e.items())
        if (k != "dtype" && k != "shape" && k != "data_offsets")
            return Error::invalid("unknown field '{}' (known: dtype, shape, data_offsets)", k);
    for (const char* k : {"dtype", "shape", "data_offsets"})
        if (!e.contains(k)) return Error::invalid("missing field '{}'", k);
    if (!e["dtype"].is_string()) return Error::invalid("dtype must be a string, got {}", e["dtype"].dump());
    t.dtype = e["dtype"].get<std::string>();
    const StDTypeInfo* d = find_dtype(t.dtype);
    if (!d) {
        std::string all;
        for (const StDTypeInfo& k : kDTypes) all += fmt::format("{}{}", all.empty() ? "" : ", ", k.name);
        return Error::invalid("unknown dtype '{}' (the format's: {})", t.dtype, all);
    }
    t.type = d->type;
    const json& shape = e["shape"];
    if (!shape.is_array()) return Error::invalid("shape must be an array, got {}", shape.dump());
    if (shape.size() > kMaxSafetensorsRank)
        return Error::invalid("shape has {} dimensions, at most {}", shape.size(), kMaxSafetensorsRank);
    uint64_t n = 1;
    for (const json& dim : shape) {
        LOOM_TRY(uint64_t v, as_u64(dim, "shape dimension"));
        if (v > uint64_t(INT64_MAX) || __builtin_mul_overflow(n, v, &n) || n > uint64_t(INT64_MAX))
            return Error::invalid("shape {} overflows the element count", shape.dump());
        t.shape.push_back(int64_t(v));
    }
    const json& off = e["data_offsets"];
    if (!off.is_array() || off.size() != 2)
        return Error::invalid("data_offsets must be [begin, end], got {}", off.dump());
    LOOM_TRY(uint64_t begin, as_u64(off[0], "data_offsets begin"));
    LOOM_TRY(uint64_t end, as_u64(off[1], "data_offsets end"));
    if (end < begin) return Error::invalid("data_offsets [{}, {}] end before begin", begin, end);
    uint64_t want = 0;
    if (__builtin_mul_overflow(n, d->size, &want))
        return Error::invalid("shape {} × {} bytes overflows", shape.dump(), d->size);
    if (want != end - begin)
        return Error::invalid("shape {} of {} needs {} bytes, data_offsets [{}, {}] hold {}", shape.dump(), t.dtype,
                              want, begin, end, end - begin);
    t.offset = begin;
    t.bytes = end - begin;
    return Ok();
}

}  // namespace

int64_t SafeTensor::n_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;  // checked against overflow when parsed
    return n;
}

uint64_t safetensors_dtype_size(std::string_view dtype) {
    const StDTypeInfo* d = find_dtype(dtype);
    return d ? d->size : 0;
}

Result<SafetensorsFile> SafetensorsFile::open(const std::string& path, LoadMode mode) {
    LOOM_TRY(MappedFile m, MappedFile::open(path, mode));
    auto owner = std::make_shared<MappedFile>(std::move(m));
    const uint8_t* data = owner->data();
    const size_t size = owner->size();
    MappedFile* mapping = owner.get();
    auto f = parse_view(std::move(owner), data, size, path);
    if (f.ok()) f->mapping_ = mapping;
    return f;
}

Result<SafetensorsFile> SafetensorsFile::parse(std::vector<uint8_t> bytes, std::string source) {
    auto owner = std::make_shared<std::vector<uint8_t>>(std::move(bytes));
    const uint8_t* data = owner->data();
    const size_t size = owner->size();
    return parse_view(std::move(owner), data, size, std::move(source));
}

size_t SafetensorsFile::release(const uint8_t* p, size_t n) const {
    if (!mapping_ || p < base_ || p + n > base_ + size_) return 0;
    return mapping_->release(p, n);
}

const SafeTensor* SafetensorsFile::tensor(std::string_view name) const {
    auto it = index_.find(std::string(name));
    return it == index_.end() ? nullptr : &tensors_[it->second];
}

Result<SafetensorsFile> SafetensorsFile::parse_view(std::shared_ptr<const void> owner, const uint8_t* data, size_t size,
                                                    std::string source) {
    SafetensorsFile f;
    f.owner_ = std::move(owner);
    f.base_ = data;
    f.size_ = size;
    f.source_ = std::move(source);
    const std::string& src = f.source_;
    if (size < 8) return Error::invalid("{}: header length @0x0: file is {} bytes, expected at least 8", src, size);
    uint64_t n = 0;
    std::memcpy(&n, data, 8);  // little-endian: loom builds only for little-endian hosts
    if (n > kMaxSafetensorsHeader)
        return Error::invalid("{}: header length @0x0: {} bytes, more than the limit of {}", src, n,
                              kMaxSafetensorsHeader);
    if (n > size - 8)
        return Error::invalid("{}: header length @0x0: {} bytes, but the file has only {} after the length", src, n,
                              size - 8);
    f.data_offset_ = 8 + n;
    const std::string_view header(reinterpret_cast<const char*>(data) + 8, size_t(n));

    // nlohmann keeps the last of repeated keys; the callback sees every key, so a repeat in any object (a tensor
    // named twice, or a field of an entry given twice, which would silently change the tensor) is caught.
    std::string repeated;
    bool repeated_name = false;                       // the repeat is a tensor name (top level), not a field
    std::vector<std::set<std::string>> open_objects;  // the keys seen so far in each object being parsed
    auto cb = [&](int /*depth*/, json::parse_event_t ev, json& parsed) {
        if (ev == json::parse_event_t::object_start) open_objects.emplace_back();
        if (ev == json::parse_event_t::object_end && !open_objects.empty()) open_objects.pop_back();
        if (ev == json::parse_event_t::key && !open_objects.empty() && repeated.empty()) {
            const auto& k = parsed.get_ref<const std::string&>();
            if (!open_objects.back().insert(k).second) repeated = k, repeated_name = open_objects.size() == 1;
        }
        return true;
    };
    json doc;
    try {
        doc = json::parse(header.begin(), header.end(), cb);
    } catch (const json::parse_error& e) {
        return Error::invalid("{}: header @0x{:x}: not valid JSON: {}", src, 8 + (e.byte > 0 ? e.byte - 1 : 0),
                              e.what());
    }
    if (!repeated.empty() && repeated_name)
        return Error::invalid("{}: tensor '{}' @0x{:x}: appears twice in the header", src, repeated,
                              name_offset(header, repeated));
    if (!repeated.empty())
        return Error::invalid("{}: header @0x{:x}: key '{}' appears twice in one entry", src,
                              name_offset(header, repeated), repeated);
    if (!doc.is_object())
        return Error::invalid("{}: header @0x8: JSON is {}, expected an object", src, doc.type_name());

    for (const auto& [name, entry] : doc.items()) {
        const uint64_t at = name_offset(header, name);
        if (name == "__metadata__") {
            if (!entry.is_object())
                return Error::invalid("{}: __metadata__ @0x{:x}: is {}, expected an object of strings", src, at,
                                      entry.type_name());
            for (const auto& [k, v] : entry.items()) {
                if (!v.is_string())
                    return Error::invalid("{}: __metadata__ '{}' @0x{:x}: value is {}, expected a string", src, k, at,
                                          v.type_name());
                f.meta_[k] = v.get<std::string>();
            }
            continue;
        }
        if (name.empty()) return Error::invalid("{}: tensor '' @0x{:x}: empty tensor name", src, at);
        SafeTensor t;
        t.name = name;
        t.header_offset = at;
        if (auto s = parse_entry(entry, t); !s.ok())
            return Error::invalid("{}: tensor '{}' @0x{:x}: {}", src, name, at, s.error().message());
        f.tensors_.push_back(std::move(t));
    }

    // The data section must be tiled exactly, as the reference reader requires: sorted by begin, each tensor
    // starts where the previous ended (zero-sized ones included), and the last ends at the end of the file.
    std::stable_sort(f.tensors_.begin(), f.tensors_.end(), [](const SafeTensor& a, const SafeTensor& b) {
        return a.offset != b.offset ? a.offset < b.offset : a.bytes < b.bytes;
    });
    const uint64_t data_bytes = size - f.data_offset_;
    uint64_t expect = 0;
    for (SafeTensor& t : f.tensors_) {
        const uint64_t abs = f.data_offset_ + t.offset;
        if (t.offset < expect)
            return Error::invalid("{}: tensor '{}' @0x{:x}: data [{}, {}) overlaps the previous tensor (ends at {})",
                                  src, t.name, abs, t.offset, t.offset + t.bytes, expect);
        if (t.offset > expect)
            return Error::invalid("{}: tensor '{}' @0x{:x}: data starts at {}, leaving a gap after byte {}", src,
                                  t.name, abs, t.offset, expect);
        if (t.bytes > data_bytes - t.offset)
            return Error::invalid("{}: tensor '{}' @0x{:x}: data [{}, {}) runs past the end of the data ({} bytes)",
                                  src, t.name, abs, t.offset, t.offset + t.bytes, data_bytes);
        expect = t.offset + t.bytes;
        t.offset = abs;
        t.data = data + abs;
    }
    if (expect != data_bytes)
        return Error::invalid("{}: data @0x{:x}: {} bytes after the last tensor (the data section is {} bytes)", src,
                              f.data_offset_ + expect, data_bytes - expect, data_bytes);
    for (size_t i = 0; i < f.tensors_.size(); ++i) f.index_.emplace(f.tensors_[i].name, i);
    return f;
}

}  // namespace loom::formats
