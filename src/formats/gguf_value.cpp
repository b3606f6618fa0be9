// Names and sizes of GGUF metadata types.
#include "formats/gguf_value.h"

namespace loom::formats {

std::string_view name(GgufType t) {
    switch (t) {
        case GgufType::u8: return "u8";
        case GgufType::i8: return "i8";
        case GgufType::u16: return "u16";
        case GgufType::i16: return "i16";
        case GgufType::u32: return "u32";
        case GgufType::i32: return "i32";
        case GgufType::f32: return "f32";
        case GgufType::boolean: return "bool";
        case GgufType::string: return "string";
        case GgufType::array: return "array";
        case GgufType::u64: return "u64";
        case GgufType::i64: return "i64";
        case GgufType::f64: return "f64";
    }
    return "?";
}

std::optional<GgufType> gguf_type_from_id(uint32_t id) {
    if (id > 12) return std::nullopt;
    return static_cast<GgufType>(id);
}

size_t scalar_size(GgufType t) {
    switch (t) {
        case GgufType::u8:
        case GgufType::i8:
        case GgufType::boolean: return 1;
        case GgufType::u16:
        case GgufType::i16: return 2;
        case GgufType::u32:
        case GgufType::i32:
        case GgufType::f32: return 4;
        case GgufType::u64:
        case GgufType::i64:
        case GgufType::f64: return 8;
        case GgufType::string:
        case GgufType::array: return 0;
    }
    return 0;
}

namespace {
// Variant index -> GGUF type, for the 12 scalar alternatives (the array ones follow in the same order).
constexpr GgufType kScalarOrder[] = {GgufType::u8,     GgufType::i8,  GgufType::u16, GgufType::i16,
                                     GgufType::u32,    GgufType::i32, GgufType::f32, GgufType::boolean,
                                     GgufType::string, GgufType::u64, GgufType::i64, GgufType::f64};
}  // namespace

GgufType type_of(const GgufValue& v) { return v.index() < 12 ? kScalarOrder[v.index()] : GgufType::array; }

std::optional<GgufType> array_elem_type(const GgufValue& v) {
    if (v.index() < 12) return std::nullopt;
    return kScalarOrder[v.index() - 12];
}

}  // namespace loom::formats
