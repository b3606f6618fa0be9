// GGUF serialisation: header, metadata, tensor infos, zero padding, tensor data at aligned offsets.
#include "formats/gguf_writer.h"

#include <fmt/ranges.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "formats/gguf_reader.h"

namespace loom::formats {
namespace {

class Bytes {
public:
    template <typename T>
    void put(T v) {
        const size_t at = out.size();
        out.resize(at + sizeof(T));
        std::memcpy(out.data() + at, &v, sizeof(T));
    }
    void put_string(std::string_view s) {
        put<uint64_t>(s.size());
        out.insert(out.end(), s.begin(), s.end());
    }
    void pad_to(uint64_t alignment) {
        while (out.size() % alignment) out.push_back(0);
    }
    std::vector<uint8_t> out;
};

void put_value(Bytes& b, const GgufValue& v) {
    std::visit(
        [&b](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) {
                b.put_string(x);
            } else if constexpr (std::is_same_v<T, bool>) {
                b.put<uint8_t>(x ? 1 : 0);
            } else if constexpr (std::is_arithmetic_v<T>) {
                b.put(x);
            } else {  // a vector
                using E = typename T::value_type;
                if constexpr (std::is_same_v<E, std::string>) {
                    for (const auto& s : x) b.put_string(s);
                } else if constexpr (std::is_same_v<E, bool>) {
                    for (bool e : x) b.put<uint8_t>(e ? 1 : 0);
                } else {
                    for (E e : x) b.put(e);
                }
            }
        },
        v);
}

size_t array_size(const GgufValue& v) {
    return std::visit(
        [](const auto& x) -> size_t {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_arithmetic_v<T> || std::is_same_v<T, std::string>) return 1;
            else return x.size();
        },
        v);
}

}  // namespace

void GgufWriter::set_alignment(uint32_t alignment) {
    LOOM_ASSERT(alignment != 0 && (alignment & (alignment - 1)) == 0, "alignment {} is not a power of two", alignment);
    alignment_ = alignment;
    if (alignment != kDefaultAlignment) set("general.alignment", alignment);
}

void GgufWriter::set(std::string key, GgufValue value) {
    for (auto& [k, v] : meta_)
        if (k == key) {
            v = std::move(value);
            return;
        }
    meta_.emplace_back(std::move(key), std::move(value));
}

void GgufWriter::add_tensor(std::string name, DType type, std::vector<int64_t> shape, std::vector<uint8_t> data) {
    tensors_.push_back({std::move(name), type, std::move(shape), std::move(data)});
}

void GgufWriter::add_tensor_f32(std::string name, std::vector<int64_t> shape, std::span<const float> values) {
    std::vector<uint8_t> data(values.size() * sizeof(float));
    if (!values.empty()) std::memcpy(data.data(), values.data(), data.size());
    add_tensor(std::move(name), DType::f32, std::move(shape), std::move(data));
}

Result<std::vector<uint8_t>> GgufWriter::to_bytes() const {
    Bytes b;
    b.put<uint32_t>(kGgufMagic);
    b.put<uint32_t>(3);
    b.put<uint64_t>(tensors_.size());
    b.put<uint64_t>(meta_.size());
    for (const auto& [key, value] : meta_) {
        b.put_string(key);
        b.put<uint32_t>(static_cast<uint32_t>(type_of(value)));
        if (auto elem = array_elem_type(value)) {
            b.put<uint32_t>(static_cast<uint32_t>(*elem));
            b.put<uint64_t>(array_size(value));
        }
        put_value(b, value);
    }
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
        if (t.shape.empty() || t.shape.size() > size_t(kMaxDims))
            return Error::invalid("tensor '{}': {} dimensions (expected 1..{})", t.name, t.shape.size(), kMaxDims);
        int64_t n = 1;
        for (int64_t d : t.shape) n *= d;
        const DTypeInfo& ti = info(t.type);
        if (t.shape.back() % ti.block_elems != 0)
            return Error::invalid("tensor '{}': row length {} is not a multiple of {}'s block size {}", t.name,
                                  t.shape.back(), ti.name, ti.block_elems);
        const uint64_t want = uint64_t(n / ti.block_elems * ti.block_bytes);
        if (t.data.size() != want)
            return Error::invalid("tensor '{}': {} bytes of data, expected {} for {} {}", t.name, t.data.size(), want,
                                  ti.name, fmt::join(t.shape, "x"));
        b.put_string(t.name);
        b.put<uint32_t>(uint32_t(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) b.put<int64_t>(*it);  // GGUF: innermost first
        b.put<uint32_t>(static_cast<uint32_t>(t.type));
        b.put<uint64_t>(offset);
        offset += (t.data.size() + alignment_ - 1) / alignment_ * alignment_;
    }
    if (!tensors_.empty()) b.pad_to(alignment_);
    for (const Tensor& t : tensors_) {
        b.out.insert(b.out.end(), t.data.begin(), t.data.end());
        b.pad_to(alignment_);
    }
    return std::move(b.out);
}

Status GgufWriter::write(const std::string& path) const {
    LOOM_TRY(std::vector<uint8_t> bytes, to_bytes());
    // Write to a temporary name and rename, so a reader never sees a half-written model.
    const std::string tmp = path + ".tmp";
    std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(tmp.c_str(), "wb"), &std::fclose);
    if (!f) return Error::io("{}: cannot create: {}", tmp, std::strerror(errno));
    if (std::fwrite(bytes.data(), 1, bytes.size(), f.get()) != bytes.size())
        return Error::io("{}: write failed: {}", tmp, std::strerror(errno));
    if (std::fclose(f.release()) != 0) return Error::io("{}: close failed: {}", tmp, std::strerror(errno));
    if (std::rename(tmp.c_str(), path.c_str()) != 0)
        return Error::io("{}: cannot rename to {}: {}", tmp, path, std::strerror(errno));
    return Ok{};
}

}  // namespace loom::formats
