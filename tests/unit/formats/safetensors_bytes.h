// Test helpers that write safetensors files: raw (a header text and data bytes, for hostile files) and well-formed
// (tensors laid out as Hugging Face's writer does: JSON padded with spaces to a multiple of 8, data in order).
#pragma once

#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

namespace loom::testutil {

// u64 N, the header text as given (no padding), then `data`.
inline std::vector<uint8_t> safetensors_raw(const std::string& header, const std::vector<uint8_t>& data = {},
                                            uint64_t n = UINT64_MAX) {
    if (n == UINT64_MAX) n = header.size();
    // memcpy into a sized buffer: GCC 12 misreads vector::insert after a memcpy here as out of bounds
    std::vector<uint8_t> out(8 + header.size() + data.size());
    std::memcpy(out.data(), &n, 8);
    if (!header.empty()) std::memcpy(out.data() + 8, header.data(), header.size());
    if (!data.empty()) std::memcpy(out.data() + 8 + header.size(), data.data(), data.size());
    return out;
}

class SafetensorsBuilder {
public:
    void add(const std::string& name, const std::string& dtype, const std::vector<int64_t>& shape,
             std::vector<uint8_t> bytes) {
        tensors_.push_back({name, dtype, shape, std::move(bytes)});
    }
    void add_f32(const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v) {
        std::vector<uint8_t> b(v.size() * 4);
        if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
        add(name, "F32", shape, std::move(b));
    }
    void metadata(const std::string& key, const std::string& value) { meta_[key] = value; }

    std::vector<uint8_t> bytes() const {
        nlohmann::ordered_json h = nlohmann::ordered_json::object();
        if (!meta_.empty()) h["__metadata__"] = meta_;
        uint64_t at = 0;
        for (const Tensor& t : tensors_) {
            h[t.name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {at, at + t.bytes.size()}}};
            at += t.bytes.size();
        }
        std::string text = h.dump();
        while ((8 + text.size()) % 8) text.push_back(' ');
        std::vector<uint8_t> data;
        for (const Tensor& t : tensors_) data.insert(data.end(), t.bytes.begin(), t.bytes.end());
        return safetensors_raw(text, data);
    }
    bool write(const std::string& path) const {
        const std::vector<uint8_t> b = bytes();
        std::ofstream out(path, std::ios::binary);
        out.write(reinterpret_cast<const char*>(b.data()), std::streamsize(b.size()));
        return bool(out);
    }

private:
    struct Tensor {
        std::string name, dtype;
        std::vector<int64_t> shape;
        std::vector<uint8_t> bytes;
    };
    std::vector<Tensor> tensors_;
    std::map<std::string, std::string> meta_;
};

}  // namespace loom::testutil
