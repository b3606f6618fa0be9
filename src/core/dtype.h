// Tensor element types, numbered as GGUF/ggml numbers them, with their block geometry.
// A quantized type stores `block_elems` values in `block_bytes` bytes; blocks run along the innermost
// dimension, so a row length must be a multiple of block_elems.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include <fmt/format.h>

namespace loom {

enum class DType : uint32_t {
    f32 = 0,
    f16 = 1,
    q4_0 = 2,
    q4_1 = 3,
    // 4 and 5 (q4_2, q4_3) were removed from the format and are rejected.
    q5_0 = 6,
    q5_1 = 7,
    q8_0 = 8,
    q8_1 = 9,
    q2_k = 10,
    q3_k = 11,
    q4_k = 12,
    q5_k = 13,
    q6_k = 14,
    q8_k = 15,
    iq2_xxs = 16,
    iq2_xs = 17,
    iq3_xxs = 18,
    iq1_s = 19,
    iq4_nl = 20,
    iq3_s = 21,
    iq2_s = 22,
    iq4_xs = 23,
    i8 = 24,
    i16 = 25,
    i32 = 26,
    i64 = 27,
    f64 = 28,
    iq1_m = 29,
    bf16 = 30,
    // 31-33 and 36-38 were removed from the format and are rejected.
    tq1_0 = 34,
    tq2_0 = 35,
    mxfp4 = 39,
};

struct DTypeInfo {
    std::string_view name;     // GGUF spelling, lower case: "q4_k"
    int64_t block_elems;       // values per block (1 for plain types)
    int64_t block_bytes;       // bytes per block
    bool quantized;            // block-quantized (needs dequantization to read a value)
    bool loom_can_dequantize;  // loom has a reference dequantizer for it
};

// Info for a type id read from a file; nullopt for unknown or removed ids (never index a table with
// an unchecked id).
std::optional<DTypeInfo> dtype_info(uint32_t id);
// Info for a known DType (asserts it is known).
const DTypeInfo& info(DType t);

inline std::string_view name(DType t) { return info(t).name; }
std::optional<DType> dtype_from_name(std::string_view name);

// Bytes for a row of n values; n must be a multiple of the block size (asserted).
int64_t row_bytes(DType t, int64_t n);
// Bits per weight: block_bytes * 8 / block_elems.
double bits_per_weight(DType t);

}  // namespace loom

template <>
struct fmt::formatter<loom::DType> : fmt::formatter<std::string_view> {
    auto format(loom::DType t, format_context& ctx) const {
        return fmt::formatter<std::string_view>::format(loom::name(t), ctx);
    }
};
