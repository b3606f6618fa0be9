// The type table: block sizes from the GGUF/ggml format (see shared reference, formats §2.1).
#include "core/dtype.h"

#include <array>

#include "core/error.h"

namespace loom {
namespace {

struct Entry {
    uint32_t id;
    DTypeInfo info;
};

// name, block_elems, block_bytes, quantized, loom_can_dequantize
constexpr std::array kTable = {
    Entry{0, {"f32", 1, 4, false, true}},         Entry{1, {"f16", 1, 2, false, true}},
    Entry{2, {"q4_0", 32, 18, true, true}},       Entry{3, {"q4_1", 32, 20, true, true}},
    Entry{6, {"q5_0", 32, 22, true, true}},       Entry{7, {"q5_1", 32, 24, true, true}},
    Entry{8, {"q8_0", 32, 34, true, true}},       Entry{9, {"q8_1", 32, 36, true, true}},
    Entry{10, {"q2_k", 256, 84, true, true}},     Entry{11, {"q3_k", 256, 110, true, true}},
    Entry{12, {"q4_k", 256, 144, true, true}},    Entry{13, {"q5_k", 256, 176, true, true}},
    Entry{14, {"q6_k", 256, 210, true, true}},    Entry{15, {"q8_k", 256, 292, true, true}},
    Entry{16, {"iq2_xxs", 256, 66, true, false}}, Entry{17, {"iq2_xs", 256, 74, true, false}},
    Entry{18, {"iq3_xxs", 256, 98, true, false}}, Entry{19, {"iq1_s", 256, 50, true, false}},
    Entry{20, {"iq4_nl", 32, 18, true, true}},    Entry{21, {"iq3_s", 256, 110, true, false}},
    Entry{22, {"iq2_s", 256, 82, true, false}},   Entry{23, {"iq4_xs", 256, 136, true, true}},
    Entry{24, {"i8", 1, 1, false, false}},        Entry{25, {"i16", 1, 2, false, false}},
    Entry{26, {"i32", 1, 4, false, false}},       Entry{27, {"i64", 1, 8, false, false}},
    Entry{28, {"f64", 1, 8, false, false}},       Entry{29, {"iq1_m", 256, 56, true, false}},
    Entry{30, {"bf16", 1, 2, false, true}},       Entry{34, {"tq1_0", 256, 54, true, false}},
    Entry{35, {"tq2_0", 256, 66, true, false}},   Entry{39, {"mxfp4", 32, 17, true, false}},
};

}  // namespace

std::optional<DTypeInfo> dtype_info(uint32_t id) {
    for (const Entry& e : kTable)
        if (e.id == id) return e.info;
    return std::nullopt;
}

const DTypeInfo& info(DType t) {
    for (const Entry& e : kTable)
        if (e.id == static_cast<uint32_t>(t)) return e.info;
    LOOM_ASSERT(false, "unknown DType id {}", static_cast<uint32_t>(t));
    __builtin_unreachable();
}

std::optional<DType> dtype_from_name(std::string_view name) {
    for (const Entry& e : kTable)
        if (e.info.name == name) return static_cast<DType>(e.id);
    return std::nullopt;
}

int64_t row_bytes(DType t, int64_t n) {
    const DTypeInfo& i = info(t);
    LOOM_ASSERT(n % i.block_elems == 0, "row of {} values is not a multiple of {}'s block size {}", n, i.name,
                i.block_elems);
    return n / i.block_elems * i.block_bytes;
}

double bits_per_weight(DType t) {
    const DTypeInfo& i = info(t);
    return double(i.block_bytes) * 8.0 / double(i.block_elems);
}

}  // namespace loom
