// GGUF metadata value types (format §1.3) and an owned value used by the writer and by round-trip tests.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace loom::formats {

enum class GgufType : uint32_t {
    u8 = 0,
    i8 = 1,
    u16 = 2,
    i16 = 3,
    u32 = 4,
    i32 = 5,
    f32 = 6,
    boolean = 7,
    string = 8,
    array = 9,
    u64 = 10,
    i64 = 11,
    f64 = 12,
};

std::string_view name(GgufType t);
// Known id -> type; nullopt for ids outside the format.
std::optional<GgufType> gguf_type_from_id(uint32_t id);
// Encoded size of one scalar element; 0 for string and array (variable size).
size_t scalar_size(GgufType t);

// An owned metadata value. Alternatives 0..11 are scalars in GgufType order (skipping array);
// the vectors are arrays of that element type. Nested arrays are not representable (the reader
// rejects them too, as ggml does).
using GgufValue =
    std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool, std::string, uint64_t, int64_t,
                 double, std::vector<uint8_t>, std::vector<int8_t>, std::vector<uint16_t>, std::vector<int16_t>,
                 std::vector<uint32_t>, std::vector<int32_t>, std::vector<float>, std::vector<bool>,
                 std::vector<std::string>, std::vector<uint64_t>, std::vector<int64_t>, std::vector<double>>;

// The GGUF type of a value and, for arrays, of its elements.
GgufType type_of(const GgufValue& v);
std::optional<GgufType> array_elem_type(const GgufValue& v);

// Maps a C++ element type to its GGUF type (for typed access).
template <typename T>
struct GgufTypeOf;
template <>
struct GgufTypeOf<uint8_t> {
    static constexpr GgufType value = GgufType::u8;
};
template <>
struct GgufTypeOf<int8_t> {
    static constexpr GgufType value = GgufType::i8;
};
template <>
struct GgufTypeOf<uint16_t> {
    static constexpr GgufType value = GgufType::u16;
};
template <>
struct GgufTypeOf<int16_t> {
    static constexpr GgufType value = GgufType::i16;
};
template <>
struct GgufTypeOf<uint32_t> {
    static constexpr GgufType value = GgufType::u32;
};
template <>
struct GgufTypeOf<int32_t> {
    static constexpr GgufType value = GgufType::i32;
};
template <>
struct GgufTypeOf<float> {
    static constexpr GgufType value = GgufType::f32;
};
template <>
struct GgufTypeOf<bool> {
    static constexpr GgufType value = GgufType::boolean;
};
template <>
struct GgufTypeOf<uint64_t> {
    static constexpr GgufType value = GgufType::u64;
};
template <>
struct GgufTypeOf<int64_t> {
    static constexpr GgufType value = GgufType::i64;
};
template <>
struct GgufTypeOf<double> {
    static constexpr GgufType value = GgufType::f64;
};

}  // namespace loom::formats
