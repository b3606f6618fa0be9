// GGUF writer (version 3): metadata of every type, tensors of any type, chosen alignment.
// Used by tests and tools to build models; tensor bytes must already be in the tensor's type
// (quantize with kernels::ref first).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"
#include "formats/gguf_value.h"

namespace loom::formats {

class GgufWriter {
public:
    // Sets general.alignment too when it differs from the default (32). Must be a power of two.
    void set_alignment(uint32_t alignment);
    // Adds or replaces a key (order of first insertion is kept).
    void set(std::string key, GgufValue value);
    // Adds a tensor; `shape` is outermost first ([n_rows, row_length]); `data` must hold exactly
    // row_bytes(type, shape.back()) * rows bytes (checked when writing).
    void add_tensor(std::string name, DType type, std::vector<int64_t> shape, std::vector<uint8_t> data);
    // Convenience: an f32 tensor from floats.
    void add_tensor_f32(std::string name, std::vector<int64_t> shape, std::span<const float> values);

    // Serialises; an error if a tensor's byte count disagrees with its shape and type.
    Result<std::vector<uint8_t>> to_bytes() const;
    Status write(const std::string& path) const;

    // Keys and values in file order (what to_bytes writes), for round-trip checks.
    const std::vector<std::pair<std::string, GgufValue>>& metadata() const { return meta_; }

private:
    struct Tensor {
        std::string name;
        DType type;
        std::vector<int64_t> shape;
        std::vector<uint8_t> data;
    };
    uint32_t alignment_ = 32;
    std::vector<std::pair<std::string, GgufValue>> meta_;
    std::vector<Tensor> tensors_;
};

}  // namespace loom::formats
