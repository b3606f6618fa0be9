// Hostile GGUF files: every class of malformed input from the format reference (§1.6, §1.7 and the past
// vulnerabilities of §1.10) must be rejected by GgufFile::parse with a message that names the source, the
// field and the byte offset. Also: every truncation of a valid file is rejected, and byte flips in the
// header/metadata/tensor-info region never crash and never yield a view outside the buffer. The suite runs
// under ASan+UBSan in the asan preset, which is what turns "never crash" into a real check.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <ostream>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "unit/formats/gguf_bytes.h"

namespace loom::formats {
namespace {

using testutil::at_offset;
using testutil::GgufBytes;

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();
constexpr uint64_t k2Pow40 = uint64_t(1) << 40;
constexpr uint64_t k2Pow62 = uint64_t(1) << 62;
constexpr uint64_t k2Pow63 = uint64_t(1) << 63;

constexpr uint32_t id(GgufType t) { return static_cast<uint32_t>(t); }
constexpr uint32_t id(DType t) { return static_cast<uint32_t>(t); }

// One hostile file and the parts its error message must contain (besides "<source>: ", checked for all).
struct Case {
    std::string name;  // a gtest name: [A-Za-z0-9_]
    std::vector<uint8_t> bytes;
    std::vector<std::string> expect;
};

// gtest prints parameters of failing tests; the name is enough (the bytes can be large).
void PrintTo(const Case& c, std::ostream* os) { *os << c.name << " (" << c.bytes.size() << " bytes)"; }

// Where the fields of one tensor-info record start.
struct TensorAt {
    uint64_t info, dims, type, offset;
    uint64_t dim(int i) const { return dims + 4 + 8 * uint64_t(i); }
};

TensorAt put_tensor(GgufBytes& b, std::string_view name, const std::vector<int64_t>& ne, uint32_t type,
                    uint64_t offset) {
    TensorAt a;
    a.info = b.pos();
    a.dims = a.info + 8 + name.size();
    a.type = a.dims + 4 + 8 * ne.size();
    a.offset = a.type + 4;
    b.tensor(name, ne, type, offset);
    return a;
}

// Header for `n_tensors` tensors and one metadata pair, so tensor records do not start right after the header.
GgufBytes with_tensors(uint64_t n_tensors) {
    GgufBytes b;
    b.header(n_tensors, 1).kv_str("general.architecture", "llama");
    return b;
}

// Ends a tensor file: zero padding to 32, then `data` bytes of tensor data.
std::vector<uint8_t> finish(GgufBytes& b, size_t data) { return b.pad_to(32).zeros(data).take(); }

// "tensor 'w' @0x4b:" and the like: the field and its offset, as the reader writes them.
std::string field_at(std::string_view field, uint64_t off) { return fmt::format("{} {}:", field, at_offset(off)); }

void header_cases(std::vector<Case>& out) {
    {
        GgufBytes b;
        b.raw("GGUX").u32(3).u64(0).u64(0);
        out.push_back({"bad_magic", b.take(), {"magic @0x0:", "not a GGUF file", "'GGUX'"}});
    }
    {
        GgufBytes b;
        b.raw("gguf").u32(3).u64(0).u64(0);
        out.push_back({"bad_magic_lower_case", b.take(), {"magic @0x0:", "'gguf'"}});
    }
    {
        GgufBytes b;
        b.raw("\x89PNG").u32(3).u64(0).u64(0);
        out.push_back({"bad_magic_binary", b.take(), {"magic @0x0:", "'\\x89PNG'"}});
    }
    const struct {
        const char* name;
        uint32_t version;
        const char* problem;
    } versions[] = {
        {"version_0", 0, "unsupported version 0"},
        {"version_1", 1, "unsupported version 1"},
        {"version_4", 4, "unsupported version 4"},
        {"version_byte_swapped", 0x03000000, "byte-swapped"},
        {"version_byte_swapped_2", 0x02000000, "byte-swapped"},
        {"version_max", 0xffffffff, "unsupported version 4294967295"},
    };
    for (const auto& v : versions) {
        GgufBytes b;
        b.header(0, 0, v.version);
        out.push_back({v.name, b.take(), {"version @0x4:", v.problem}});
    }
    for (const auto& [name, n] : {std::pair{"tensor_count_2pow63", k2Pow63}, std::pair{"tensor_count_2pow40", k2Pow40},
                                  std::pair{"tensor_count_max", kU64Max}}) {
        GgufBytes b;
        b.header(n, 0).zeros(64);
        out.push_back({name, b.take(), {"tensor_count @0x8:", fmt::format("{} tensors cannot fit", n)}});
    }
    {
        // One tensor declared, nothing after the header: one more than the 0 bytes left can hold.
        GgufBytes b;
        b.header(1, 0);
        out.push_back(
            {"tensor_count_1_in_empty_body", b.take(), {"tensor_count @0x8:", "1 tensors cannot fit in the 0 bytes"}});
    }
    {
        // Two tensors declared, one record present: passes the coarse count bound, fails on the missing record.
        GgufBytes b;
        b.header(2, 0);
        put_tensor(b, std::string(63, 'n'), {8}, id(DType::f32), 0);
        const uint64_t end = b.pos();
        out.push_back(
            {"tensor_count_one_more_than_present", b.take(), {field_at("tensor #1 name", end), "needs 8 bytes"}});
    }
    for (const auto& [name, n] : {std::pair{"kv_count_2pow63", k2Pow63}, std::pair{"kv_count_2pow40", k2Pow40},
                                  std::pair{"kv_count_max", kU64Max}}) {
        GgufBytes b;
        b.header(0, n).zeros(64);
        out.push_back({name, b.take(), {"kv_count @0x10:", fmt::format("{} key/value pairs cannot fit", n)}});
    }
    {
        GgufBytes b;
        b.header(0, 2).kv_u32("general.file_type", 7);
        const uint64_t end = b.pos();
        out.push_back(
            {"kv_count_one_more_than_present", b.take(), {field_at("metadata #1 key", end), "needs 8 bytes"}});
    }
}

void key_cases(std::vector<Case>& out) {
    for (const auto& [name, len] : {std::pair{"key_len_max", kU64Max}, std::pair{"key_len_2pow40", k2Pow40}}) {
        GgufBytes b;
        b.header(0, 1).str_len(len, "general.name").u32(id(GgufType::u8)).u8(1);
        out.push_back({name,
                       b.take(),
                       {field_at("metadata #0 key", 0x18), fmt::format("string length {} exceeds the cap", len)}});
    }
    {
        GgufBytes b;
        b.header(0, 1).str_len(100, "general.name").u32(id(GgufType::u8)).u8(1);
        out.push_back(
            {"key_len_past_end", b.take(), {field_at("metadata #0 key", 0x18), "string length 100 runs past the end"}});
    }
    {
        GgufBytes b;
        b.header(0, 1).kv_u32("", 1);
        out.push_back({"key_empty", b.take(), {field_at("metadata #0 key", 0x18), "empty key"}});
    }
    {
        GgufBytes b;
        b.header(0, 3).kv_u32("a.b", 1).kv_u32("a.c", 2);
        const uint64_t at = b.pos();
        b.kv_u32("a.b", 3);
        out.push_back({"key_duplicate", b.take(), {field_at("metadata #2 key", at), "duplicate key 'a.b'"}});
    }
    const struct {
        const char* name;
        std::string_view key;
        const char* shown;
    } bad_utf8[] = {
        {"key_utf8_invalid_byte", "gen\xff", "'gen\\xff'"},
        {"key_utf8_overlong", "a\xc0\xaf", "'a\\xc0\\xaf'"},
        {"key_utf8_truncated", "ab\xe2\x82", "'ab\\xe2\\x82'"},
        {"key_utf8_surrogate", "\xed\xa0\x80", "'\\xed\\xa0\\x80'"},
        {"key_utf8_above_max", "\xf4\x90\x80\x80", "'\\xf4\\x90\\x80\\x80'"},
        {"key_utf8_lone_continuation", "k\x80", "'k\\x80'"},
    };
    for (const auto& k : bad_utf8) {
        GgufBytes b;
        b.header(0, 1).kv_u32(k.key, 1);
        out.push_back({k.name, b.take(), {field_at("metadata #0 key", 0x18), "not valid UTF-8", k.shown}});
    }
}

void value_cases(std::vector<Case>& out) {
    // The value type follows a 1-byte key "k": at 0x18 + 8 + 1.
    constexpr uint64_t kTypeAt = 0x21, kValueAt = 0x25;
    for (const auto& [name, type] : {std::pair{"value_type_13", 13u}, std::pair{"value_type_max", 0xffffffffu}}) {
        GgufBytes b;
        b.header(0, 1).key("k", type).u32(0);
        out.push_back(
            {name, b.take(), {field_at("metadata 'k'", kTypeAt), fmt::format("unknown value type {}", type)}});
    }
    {
        GgufBytes b;
        b.header(0, 1).key("k", id(GgufType::u64)).raw("\x01\x02\x03");
        out.push_back({"value_u64_truncated", b.take(), {field_at("metadata 'k'", kValueAt), "needs 8 bytes"}});
    }
    for (const auto& [name, len] :
         {std::pair{"value_string_len_max", kU64Max}, std::pair{"value_string_len_2pow40", k2Pow40}}) {
        GgufBytes b;
        b.header(0, 1).key("k", id(GgufType::string)).str_len(len, "llama");
        out.push_back({name, b.take(), {field_at("metadata 'k'", kValueAt), "exceeds the cap"}});
    }
    {
        GgufBytes b;
        b.header(0, 1).key("k", id(GgufType::string)).str_len(50, "llama");
        out.push_back({"value_string_past_end",
                       b.take(),
                       {field_at("metadata 'k'", kValueAt), "string length 50 runs past the end"}});
    }

    // Arrays: element type at kValueAt, count at kValueAt + 4.
    constexpr uint64_t kCountAt = kValueAt + 4;
    auto array = [](uint32_t elem, uint64_t count) {
        GgufBytes b;
        b.header(0, 1).key("k", id(GgufType::array)).u32(elem).u64(count);
        return b;
    };
    {
        GgufBytes b = array(id(GgufType::array), 1);
        b.u32(id(GgufType::u8)).u64(1).u8(7);
        out.push_back({"array_of_arrays", b.take(), {field_at("metadata 'k'", kValueAt), "nested arrays"}});
    }
    for (const auto& [name, elem] :
         {std::pair{"array_elem_type_13", 13u}, std::pair{"array_elem_type_2pow31", 0x80000000u},
          std::pair{"array_elem_type_max", 0xffffffffu}}) {
        GgufBytes b = array(elem, 1);
        b.u64(0);
        out.push_back(
            {name, b.take(), {field_at("metadata 'k'", kValueAt), fmt::format("unknown array element type {}", elem)}});
    }
    // count * 8 wraps to 0 for 2^61 and 2^62 u64s; the cap and the size check must both hold.
    for (const auto& [name, elem, count] :
         {std::tuple{"array_u64_count_2pow62", id(GgufType::u64), k2Pow62},
          std::tuple{"array_u64_count_2pow61_wraps", id(GgufType::u64), uint64_t(1) << 61},
          std::tuple{"array_u32_count_max", id(GgufType::u32), kU64Max},
          std::tuple{"array_f64_count_2pow40", id(GgufType::f64), k2Pow40}}) {
        GgufBytes b = array(elem, count);
        b.zeros(64);
        out.push_back({name, b.take(), {field_at("metadata 'k'", kCountAt), "exceeds the cap"}});
    }
    {
        // 2^30 u8 (exactly the cap) declared in a 100-byte file: must fail on the size check, before any allocation.
        GgufBytes b = array(id(GgufType::u8), uint64_t(1) << 30);
        b.zeros(100 - b.pos());
        out.push_back({"array_u8_2pow30_in_100_bytes",
                       b.take(),
                       {field_at("metadata 'k'", kCountAt), "array of 1073741824 u8 needs more than the"}});
    }
    {
        GgufBytes b = array(id(GgufType::u32), 4);
        b.u32(1).u32(2).u32(3);
        out.push_back({"array_u32_one_short",
                       b.take(),
                       {field_at("metadata 'k'", kCountAt), "array of 4 u32 needs more than the 12 bytes left"}});
    }
    {
        GgufBytes b = array(id(GgufType::boolean), 2);
        b.u8(1);
        out.push_back({"array_bool_one_short", b.take(), {field_at("metadata 'k'", kCountAt), "array of 2 bool"}});
    }
    {
        // 1000 strings need at least 8000 bytes of lengths; only three short strings follow.
        GgufBytes b = array(id(GgufType::string), 1000);
        b.str("<s>").str("</s>").str("a");
        out.push_back({"string_array_count_exceeds_left",
                       b.take(),
                       {field_at("metadata 'k'", kCountAt), "array of 1000 strings cannot fit"}});
    }
    {
        GgufBytes b = array(id(GgufType::string), 4);
        b.str("a").str("b").str("c");
        out.push_back({"string_array_one_short",
                       b.take(),
                       {field_at("metadata 'k'", kCountAt), "array of 4 strings cannot fit"}});
    }
    {
        GgufBytes b = array(id(GgufType::string), k2Pow40);
        b.zeros(64);
        out.push_back({"string_array_count_2pow40", b.take(), {field_at("metadata 'k'", kCountAt), "exceeds the cap"}});
    }
    for (const auto& [name, len, problem] :
         {std::tuple{"string_in_array_len_max", kU64Max, "exceeds the cap"},
          std::tuple{"string_in_array_len_2pow40", k2Pow40, "exceeds the cap"},
          std::tuple{"string_in_array_past_end", uint64_t(40), "string length 40 runs past the end"}}) {
        GgufBytes b;
        b.header(0, 1).key("tokenizer.ggml.tokens", id(GgufType::array)).u32(id(GgufType::string)).u64(3).str("<s>");
        const uint64_t at = b.pos();
        b.str_len(len, "x").zeros(16);
        out.push_back({name, b.take(), {field_at("metadata 'tokenizer.ggml.tokens'", at), problem}});
    }
}

void alignment_cases(std::vector<Case>& out) {
    auto align = [](uint32_t type, const std::function<void(GgufBytes&)>& value) {
        GgufBytes b;
        b.header(0, 1).key("general.alignment", type);
        value(b);
        return b.take();
    };
    const std::string field = field_at("metadata 'general.alignment'", 0x18);
    out.push_back(
        {"alignment_u64", align(id(GgufType::u64), [](GgufBytes& b) { b.u64(32); }), {field, "must be u32, got u64"}});
    out.push_back(
        {"alignment_i32", align(id(GgufType::i32), [](GgufBytes& b) { b.i32(32); }), {field, "must be u32, got i32"}});
    out.push_back({"alignment_u16",
                   align(id(GgufType::u16), [](GgufBytes& b) { b.put<uint16_t>(32); }),
                   {field, "must be u32, got u16"}});
    out.push_back({"alignment_string",
                   align(id(GgufType::string), [](GgufBytes& b) { b.str("32"); }),
                   {field, "must be u32, got string"}});
    out.push_back({"alignment_array",
                   align(id(GgufType::array), [](GgufBytes& b) { b.u32(id(GgufType::u32)).u64(1).u32(32); }),
                   {field, "must be u32, got array"}});
    for (const auto& [name, v] :
         {std::pair{"alignment_0", 0u}, std::pair{"alignment_3", 3u}, std::pair{"alignment_48", 48u},
          std::pair{"alignment_2pow31", 0x80000000u}, std::pair{"alignment_2pow21", 1u << 21}}) {
        out.push_back({name,
                       align(id(GgufType::u32), [v = v](GgufBytes& b) { b.u32(v); }),
                       {field, fmt::format("{} is not a power of two in [1, 1048576]", v)}});
    }
    {
        // Found after other keys: the offset is that of its own record.
        GgufBytes b;
        b.header(0, 2).kv_str("general.architecture", "llama");
        const uint64_t at = b.pos();
        b.kv_u32("general.alignment", 24);
        out.push_back({"alignment_24_second_key",
                       b.take(),
                       {field_at("metadata 'general.alignment'", at), "24 is not a power of two"}});
    }
}

void tensor_info_cases(std::vector<Case>& out) {
    const uint32_t f32 = id(DType::f32);
    {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "", {8}, f32, 0);
        out.push_back({"tensor_name_empty", finish(b, 32), {field_at("tensor #0 name", a.info), "empty tensor name"}});
    }
    {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, std::string(64, 'n'), {8}, f32, 0);
        out.push_back({"tensor_name_64_bytes",
                       finish(b, 32),
                       {field_at("tensor #0 name", a.info), "is 64 bytes long (at most 63)"}});
    }
    for (const auto& [name, len] :
         {std::pair{"tensor_name_len_max", kU64Max}, std::pair{"tensor_name_len_2pow40", k2Pow40}}) {
        GgufBytes b = with_tensors(1);
        const uint64_t at = b.pos();
        b.str_len(len, "w").u32(1).i64(8).u32(f32).u64(0);
        out.push_back({name, finish(b, 32), {field_at("tensor #0 name", at), "exceeds the cap"}});
    }
    {
        GgufBytes b = with_tensors(2);
        put_tensor(b, "blk.0.w", {8}, f32, 0);
        const TensorAt a = put_tensor(b, "blk.0.w", {8}, f32, 32);
        out.push_back({"tensor_name_duplicate",
                       finish(b, 64),
                       {field_at("tensor #1 name", a.info), "duplicate tensor name 'blk.0.w'"}});
    }
    {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "blk.0.\xfe", {8}, f32, 0);
        out.push_back({"tensor_name_invalid_utf8",
                       finish(b, 32),
                       {field_at("tensor #0 name", a.info), "not valid UTF-8", "'blk.0.\\xfe'"}});
    }
    for (const auto& [name, n_dims] :
         {std::pair{"n_dims_0", 0u}, std::pair{"n_dims_5", 5u}, std::pair{"n_dims_max", 0xffffffffu}}) {
        GgufBytes b = with_tensors(1);
        b.str("w");
        const uint64_t at = b.pos();
        b.u32(n_dims);
        for (int i = 0; i < 5; ++i) b.i64(1);  // what a 5-dim record would hold
        b.u32(f32).u64(0);
        out.push_back(
            {name, finish(b, 32), {field_at("tensor 'w'", at), fmt::format("n_dims {} outside [1, 4]", n_dims)}});
    }
    const struct {
        const char* name;
        std::vector<int64_t> ne;
        int bad;  // index of the offending dimension
        std::string problem;
    } dims[] = {
        {"dim_0", {8, 0}, 1, "dimension 1 is 0"},
        {"dim_0_first", {0}, 0, "dimension 0 is 0"},
        {"dim_negative", {8, -1}, 1, "dimension 1 is -1"},
        {"dim_int64_min", {std::numeric_limits<int64_t>::min()}, 0, "dimension 0 is -9223372036854775808"},
        {"dim_2pow62", {8, int64_t(k2Pow62)}, 1, "dimension 1 is 4611686018427387904"},
        {"dim_above_max", {int64_t(k2Pow40) + 1}, 0, "dimension 0 is 1099511627777"},
        // Each dim is legal; the running product 2^80 wraps uint64 at the fourth.
        {"dims_product_wraps_u64", {1 << 20, 1 << 20, 1 << 20, 1 << 20}, 3, "element count overflows"},
        // Each dim is legal; the product 2^63 fits uint64 but not int64.
        {"dims_product_above_int64", {int64_t(k2Pow40), int64_t(1) << 23}, 1, "element count overflows"},
    };
    for (const auto& d : dims) {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", d.ne, f32, 0);
        out.push_back({d.name, finish(b, 32), {field_at("tensor 'w'", a.dim(d.bad)), d.problem}});
    }
    {
        // 2^62 f32 elements: the element count fits int64, the byte count (2^64) does not.
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {int64_t(k2Pow40), int64_t(1) << 22}, f32, 0);
        out.push_back({"byte_size_wraps_u64", finish(b, 32), {field_at("tensor 'w'", a.dims), "byte size overflows"}});
    }
    for (uint32_t type : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 43u, 1000u, 0xffffffffu}) {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {256}, type, 0);
        out.push_back({fmt::format("type_id_{}", type),
                       finish(b, 1024),
                       {field_at("tensor 'w'", a.type), fmt::format("unknown or removed tensor type id {}", type)}});
    }
    {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {33}, id(DType::q4_0), 0);
        out.push_back({"row_q4_0_33",
                       finish(b, 64),
                       {field_at("tensor 'w'", a.dims), "row length 33 is not a multiple of q4_0's block size 32"}});
    }
    {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {255, 2}, id(DType::q4_k), 0);
        out.push_back({"row_q4_k_255",
                       finish(b, 512),
                       {field_at("tensor 'w'", a.dims), "row length 255 is not a multiple of q4_k's block size 256"}});
    }
    {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {8}, f32, 1);
        out.push_back({"offset_unaligned",
                       finish(b, 64),
                       {field_at("tensor 'w'", a.offset), "data offset 0x1 is not a multiple of the alignment 32"}});
    }
    {
        GgufBytes b = with_tensors(2);
        put_tensor(b, "a", {8}, f32, 0);
        const TensorAt a = put_tensor(b, "b", {8}, f32, 36);
        out.push_back({"offset_unaligned_second",
                       finish(b, 96),
                       {field_at("tensor 'b'", a.offset), "0x24 is not a multiple of the alignment 32"}});
    }
    {
        // Aligned to the default 32 but not to the file's own alignment of 64.
        GgufBytes b;
        b.header(1, 1).kv_u32("general.alignment", 64);
        const TensorAt a = put_tensor(b, "w", {8}, f32, 32);
        out.push_back({"offset_unaligned_custom_alignment",
                       b.pad_to(64).zeros(128).take(),
                       {field_at("tensor 'w'", a.offset), "0x20 is not a multiple of the alignment 64"}});
    }
}

void tensor_data_cases(std::vector<Case>& out) {
    const uint32_t f32 = id(DType::f32);
    {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {1024}, f32, 0);
        out.push_back({"data_past_eof", finish(b, 32), {field_at("tensor 'w'", a.info), "past end of file"}});
    }
    {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {8}, f32, 0);
        out.push_back({"data_past_eof_by_one", finish(b, 31), {field_at("tensor 'w'", a.info), "past end of file"}});
    }
    {
        GgufBytes b = with_tensors(2);
        put_tensor(b, "a", {8}, f32, 0);
        const TensorAt a = put_tensor(b, "b", {16}, f32, 32);
        out.push_back({"data_past_eof_second", finish(b, 64), {field_at("tensor 'b'", a.info), "past end of file"}});
    }
    {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {8}, f32, k2Pow62);
        out.push_back({"offset_2pow62", finish(b, 32), {field_at("tensor 'w'", a.info), "past end of file"}});
    }
    {
        // 2^40 f32 = 4 TiB claimed in a tiny file (the "Bleeding Llama" shape of §1.10).
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {int64_t(k2Pow40)}, f32, 0);
        out.push_back({"data_4tib_in_tiny_file", finish(b, 32), {field_at("tensor 'w'", a.info), "past end of file"}});
    }
    {
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {8}, f32, 0xffffffffffffffe0);
        out.push_back({"offset_overflows_with_data_start",
                       finish(b, 32),
                       {field_at("tensor 'w'", a.info), "data range overflows"}});
    }
    {
        // The offset plus the size wraps: start fits, start + bytes does not.
        GgufBytes b = with_tensors(1);
        const TensorAt a = put_tensor(b, "w", {int64_t(k2Pow40), 1 << 20}, id(DType::i8), 0xfffffffffffff000);
        out.push_back(
            {"offset_plus_size_overflows", finish(b, 32), {field_at("tensor 'w'", a.info), "data range overflows"}});
    }
    {
        GgufBytes b = with_tensors(2);
        put_tensor(b, "a", {16}, f32, 0);  // [0, 64)
        const TensorAt a = put_tensor(b, "b", {8}, f32, 32);
        out.push_back({"overlapping", finish(b, 96), {field_at("tensor 'b'", a.info), "overlaps tensor 'a'"}});
    }
    {
        // Declared out of order: the overlap is still found (the check sorts by start).
        GgufBytes b = with_tensors(3);
        const TensorAt a = put_tensor(b, "b", {8}, f32, 64);
        put_tensor(b, "c", {8}, f32, 128);
        put_tensor(b, "a", {32}, f32, 0);  // [0, 128) covers b
        out.push_back(
            {"overlapping_out_of_order", finish(b, 160), {field_at("tensor 'b'", a.info), "overlaps tensor 'a'"}});
    }
    {
        // The same offset: which one is reported depends on the sort; both names appear either way.
        GgufBytes b = with_tensors(2);
        put_tensor(b, "a", {8}, f32, 0);
        put_tensor(b, "b", {8}, f32, 0);
        out.push_back({"same_offset", finish(b, 64), {"overlaps tensor", "'a'", "'b'"}});
    }
    {
        // Tensor infos, then EOF: no padding, no data. The record ends at an unaligned position.
        GgufBytes b = with_tensors(1);
        put_tensor(b, "w", {8}, f32, 0);
        const uint64_t end = b.pos();
        LOOM_ASSERT(end % 32 != 0, "the record should end unaligned, at {:#x}", end);
        out.push_back({"data_start_past_eof", b.take(), {field_at("tensor data", end), "past end of file"}});
    }
    {
        // As above, but the infos end exactly on the alignment: the data start is the end of the file, and
        // the tensor that should follow is past it.
        GgufBytes b = with_tensors(1);
        const uint64_t fixed = b.pos() + 8 + 4 + 8 + 4 + 8;  // the record without its name
        const std::string name((32 - fixed % 32) % 32 + 32, 'w');
        const TensorAt a = put_tensor(b, name, {8}, f32, 0);
        LOOM_ASSERT(b.pos() % 32 == 0, "the record should end aligned, at {:#x}", b.pos());
        out.push_back(
            {"data_start_at_eof", b.take(), {field_at(fmt::format("tensor '{}'", name), a.info), "past end of file"}});
    }
}

std::vector<Case> all_cases() {
    std::vector<Case> out;
    header_cases(out);
    key_cases(out);
    value_cases(out);
    alignment_cases(out);
    tensor_info_cases(out);
    tensor_data_cases(out);
    return out;
}

class GgufMalformed : public ::testing::TestWithParam<Case> {};

TEST_P(GgufMalformed, IsRejectedWithSourceFieldAndOffset) {
    const Case& c = GetParam();
    const std::string source = "hostile/" + c.name + ".gguf";
    auto f = GgufFile::parse(c.bytes, source);
    ASSERT_FALSE(f.ok()) << c.name << " was accepted";
    const std::string& msg = f.error().message();
    EXPECT_EQ(f.error().code(), ErrorCode::invalid_input) << msg;
    EXPECT_EQ(msg.rfind(source + ": ", 0), 0u) << msg;
    EXPECT_NE(msg.find(" @0x"), std::string::npos) << msg;
    for (const std::string& part : c.expect)
        EXPECT_NE(msg.find(part), std::string::npos) << "'" << part << "' not in: " << msg;
}

INSTANTIATE_TEST_SUITE_P(Hostile, GgufMalformed, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(GgufMalformedSuite, HasAtLeastFortyDistinctCases) {
    const std::vector<Case> cases = all_cases();
    EXPECT_GE(cases.size(), 40u);
    // Strings, not vectors: GCC 12 at -O3 warns (-Wstringop-overread, wrongly) inside vector's <=>.
    std::set<std::string> files;
    for (const Case& c : cases) files.insert(std::string(c.bytes.begin(), c.bytes.end()));
    EXPECT_EQ(files.size(), cases.size()) << "two cases build the same bytes";
}

// The helpers above make valid files when given valid values: a rejection is the hostile field's doing.
TEST(GgufMalformedSuite, TwinsWithValidFieldsParse) {
    const uint32_t f32 = id(DType::f32);
    {
        GgufBytes b = with_tensors(2);
        put_tensor(b, "a", {8}, f32, 0);
        put_tensor(b, "b", {4, 2}, f32, 32);
        auto f = GgufFile::parse(finish(b, 64), "twin.gguf");
        ASSERT_TRUE(f.ok()) << f.error().message();
        EXPECT_EQ(f->tensors().size(), 2u);
        EXPECT_EQ(f->tensors()[1].shape, (std::vector<int64_t>{2, 4}));
    }
    {
        GgufBytes b = with_tensors(1);
        put_tensor(b, std::string(63, 'n'), {256, 2}, id(DType::q4_k), 0);
        auto f = GgufFile::parse(finish(b, 288), "twin.gguf");
        ASSERT_TRUE(f.ok()) << f.error().message();
        EXPECT_EQ(f->tensors()[0].bytes, 288u);
    }
    {
        GgufBytes b;
        b.header(0, 3).kv_u32("general.alignment", 64).kv_str("k", "llama");
        b.key("tokenizer.ggml.tokens", id(GgufType::array))
            .u32(id(GgufType::string))
            .u64(3)
            .str("<s>")
            .str("")
            .str("\xe2\x96\x81");
        auto f = GgufFile::parse(b.take(), "twin.gguf");
        ASSERT_TRUE(f.ok()) << f.error().message();
        EXPECT_EQ(f->alignment(), 64u);
        EXPECT_EQ(f->get_string_array("tokenizer.ggml.tokens")->size(), 3u);
    }
    {
        GgufBytes b;
        b.header(0, 1).key("k", id(GgufType::array)).u32(id(GgufType::u8)).u64(36).zeros(36);
        ASSERT_TRUE(GgufFile::parse(b.take(), "twin.gguf").ok());
    }
}

// The fuzz seeds come from the reference Python writer (tools/make_fuzz_seeds.py): parsing them cross-checks
// the reader against an independent implementation of the format.
TEST(GgufFuzzSeeds, FilesFromTheReferenceWriterParse) {
    const std::filesystem::path dir = std::filesystem::path(LOOM_TEST_DATA_DIR) / ".." / "fuzz" / "corpus" / "gguf";
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().filename().string().rfind("seed_", 0) != 0) continue;
        auto f = GgufFile::open(e.path().string());
        ASSERT_TRUE(f.ok()) << f.error().message();
        EXPECT_EQ(*f->get_string("general.architecture"), "llama") << e.path();
        ++n;
    }
    EXPECT_GE(n, 6);

    auto tok = GgufFile::open((dir / "seed_tokenizer.gguf").string());
    ASSERT_TRUE(tok.ok()) << tok.error().message();
    EXPECT_EQ(tok->get_string_array("tokenizer.ggml.tokens")->size(), 15u);
    EXPECT_EQ((*tok->get_string_array("tokenizer.ggml.tokens"))[11], "\xe2\x96\x81the");
    EXPECT_EQ(tok->get_array<float>("tokenizer.ggml.scores")->size(), 15u);
    EXPECT_EQ(tok->get_array<int32_t>("tokenizer.ggml.token_type")->size(), 15u);

    auto quant = GgufFile::open((dir / "seed_quant_tensors.gguf").string());
    ASSERT_TRUE(quant.ok()) << quant.error().message();
    ASSERT_EQ(quant->tensors().size(), 4u);
    EXPECT_EQ(quant->tensor("blk.0.ffn_down.weight")->type, DType::q4_k);
    EXPECT_EQ(quant->tensor("blk.0.ffn_down.weight")->shape, (std::vector<int64_t>{2, 256}));
    EXPECT_EQ(quant->tensor("token_embd.weight")->bytes, 4u * 2 * 34);

    auto aligned = GgufFile::open((dir / "seed_alignment_64.gguf").string());
    ASSERT_TRUE(aligned.ok()) << aligned.error().message();
    EXPECT_EQ(aligned->alignment(), 64u);
    EXPECT_EQ(aligned->tensor("b")->shape, (std::vector<int64_t>{4, 5}));
    for (const TensorInfo& t : aligned->tensors()) EXPECT_EQ(t.offset % 64, 0u) << t.name;

    auto all = GgufFile::open((dir / "seed_metadata_all_types.gguf").string());
    ASSERT_TRUE(all.ok()) << all.error().message();
    EXPECT_EQ(*all->get<int16_t>("t.i16"), -32000);
    EXPECT_EQ(all->get_array<uint64_t>("t.arr.u64")->to_vector(), (std::vector<uint64_t>{kU64Max}));
    EXPECT_EQ(all->get_string_array("t.arr.string")->size(), 3u);
}

// A valid file with metadata of several types, string arrays and 3 tensors, whose last tensor ends exactly
// at the end of the file (its size is a multiple of the alignment), so that every proper prefix loses bytes
// that the file declares.
std::vector<uint8_t> truncation_subject() {
    GgufWriter w;
    w.set("general.architecture", std::string("llama"));
    w.set("general.name", std::string("tiny h\xc3\xa9"));
    w.set("llama.block_count", uint32_t(2));
    w.set("llama.attention.layer_norm_rms_epsilon", 1e-5f);
    w.set("llama.rope.freq_base", 10000.0);
    w.set("general.flag", true);
    w.set("general.big", int64_t(-5));
    w.set("tokenizer.ggml.tokens", std::vector<std::string>{"<unk>", "<s>", "</s>", "\xe2\x96\x81the", ""});
    w.set("tokenizer.ggml.merges", std::vector<std::string>{"a b", "\xe2\x96\x81 t"});
    w.set("tokenizer.ggml.scores", std::vector<float>{0.f, -1.f, -2.f, -3.f, -4.f});
    w.set("tokenizer.ggml.token_type", std::vector<int32_t>{2, 3, 3, 1, 1});
    w.set("general.tags", std::vector<uint16_t>{1, 2});
    std::vector<uint8_t> q8(4 * 34);
    for (size_t i = 0; i < q8.size(); ++i) q8[i] = uint8_t(i * 7);
    w.add_tensor("token_embd.weight", DType::q8_0, {4, 32}, q8);
    const float norm[5] = {1, 2, 3, 4, 5};
    w.add_tensor_f32("output_norm.weight", {5}, norm);
    std::vector<float> out(32, 0.5f);
    w.add_tensor_f32("output.weight", {2, 16}, out);
    auto bytes = w.to_bytes();
    LOOM_ASSERT(bytes.ok(), "{}", bytes.error().message());
    return std::move(bytes).value();
}

TEST(GgufTruncation, EveryPrefixIsRejected) {
    const std::vector<uint8_t> full = truncation_subject();
    auto whole = GgufFile::parse(full, "whole.gguf");
    ASSERT_TRUE(whole.ok()) << whole.error().message();
    ASSERT_EQ(whole->tensors().size(), 3u);
    const TensorInfo& last = whole->tensors().back();
    ASSERT_EQ(last.offset + last.bytes, full.size()) << "the last tensor must end the file";
    const uint64_t infos_end = whole->tensors().back().info_offset + 8 + last.name.size() + 4 + 8 * 2 + 4 + 8;
    const uint64_t data_start = whole->data_offset();
    ASSERT_LT(infos_end, data_start) << "the subject should have padding before its data";

    for (size_t n = 0; n < full.size(); ++n) {
        const std::string source = fmt::format("prefix{}.gguf", n);
        auto f = GgufFile::parse(std::vector<uint8_t>(full.begin(), full.begin() + n), source);
        ASSERT_FALSE(f.ok()) << "prefix of " << n << " of " << full.size() << " bytes was accepted";
        const std::string& msg = f.error().message();
        ASSERT_EQ(msg.rfind(source + ": ", 0), 0u) << msg;
        ASSERT_NE(msg.find(" @0x"), std::string::npos) << msg;
        if (n >= data_start)
            ASSERT_NE(msg.find("past end of file"), std::string::npos) << "prefix " << n << ": " << msg;
        else if (n >= infos_end)
            ASSERT_NE(msg.find("tensor data @"), std::string::npos) << "prefix " << n << ": " << msg;
        else ASSERT_NE(msg.find("left"), std::string::npos) << "prefix " << n << ": " << msg;
    }
}

// Every view an accepted file hands out must lie inside the bytes it was parsed from.
void expect_views_inside(const GgufFile& f, const uint8_t* base, size_t size, const std::string& where) {
    auto inside = [&](const void* p, uint64_t n) {
        const auto* q = static_cast<const uint8_t*>(p);
        return q >= base && q <= base + size && n <= uint64_t(base + size - q);
    };
    ASSERT_EQ(f.file_size(), size) << where;
    ASSERT_LE(f.data_offset(), size) << where;
    for (const MetaEntry& e : f.metadata()) {
        ASSERT_TRUE(inside(e.key.data(), e.key.size())) << where;
        if (e.type == GgufType::string) {
            ASSERT_TRUE(inside(e.str.data(), e.str.size())) << where << " " << e.key;
        } else if (e.type == GgufType::array && e.elem_type == GgufType::string) {
            ASSERT_EQ(e.strs.size(), e.count) << where;
            for (std::string_view s : e.strs) ASSERT_TRUE(inside(s.data(), s.size())) << where << " " << e.key;
        } else {
            const uint64_t n = (e.type == GgufType::array ? e.count : 1) *
                               scalar_size(e.type == GgufType::array ? e.elem_type : e.type);
            ASSERT_TRUE(inside(e.data, n)) << where << " " << e.key;
        }
        (void)e.to_owned();  // reads every byte of the value
    }
    for (const TensorInfo& t : f.tensors()) {
        ASSERT_EQ(t.data, base + t.offset) << where << " " << t.name;
        ASSERT_GE(t.offset, f.data_offset()) << where << " " << t.name;
        ASSERT_TRUE(inside(t.data, t.bytes)) << where << " " << t.name;
        ASSERT_EQ(t.offset % f.alignment(), f.data_offset() % f.alignment()) << where << " " << t.name;
        const DTypeInfo& ti = info(t.type);
        ASSERT_EQ(t.bytes, uint64_t(t.n_elements() / ti.block_elems * ti.block_bytes)) << where << " " << t.name;
    }
}

std::vector<uint8_t> flip_subject() {
    GgufWriter w;
    w.set("general.architecture", std::string("llama"));
    w.set("n", uint32_t(3));
    w.set("toks", std::vector<std::string>{"a", "bc"});
    w.set("f", std::vector<float>{1.f, 2.f});
    w.add_tensor_f32("a", {2, 4}, std::vector<float>(8, 1.f));
    w.add_tensor("b", DType::q4_0, {1, 32}, std::vector<uint8_t>(18, 0x11));
    auto bytes = w.to_bytes();
    LOOM_ASSERT(bytes.ok(), "{}", bytes.error().message());
    return std::move(bytes).value();
}

// Parses `bytes` (moved, so the reader's views point into this very buffer) and checks them if accepted.
bool parse_and_check(std::vector<uint8_t> bytes, const std::string& where) {
    const uint8_t* base = bytes.data();
    const size_t size = bytes.size();
    auto f = GgufFile::parse(std::move(bytes), "flip.gguf");
    if (!f.ok()) {
        EXPECT_EQ(f.error().message().rfind("flip.gguf: ", 0), 0u) << where << ": " << f.error().message();
        return false;
    }
    expect_views_inside(*f, base, size, where);
    return true;
}

TEST(GgufBitFlip, HeaderMetadataAndInfosNeverCrashOrEscapeTheBuffer) {
    const std::vector<uint8_t> good = flip_subject();
    auto parsed = GgufFile::parse(good, "good.gguf");
    ASSERT_TRUE(parsed.ok()) << parsed.error().message();
    const uint64_t region = parsed->data_offset();
    int accepted = 0, rejected = 0;
    for (uint64_t i = 0; i < region; ++i) {
        for (int v : {0x00, 0xff, 0x80, (good[i] + 1) & 0xff}) {
            if (v == good[i]) continue;
            std::vector<uint8_t> bytes = good;
            bytes[i] = uint8_t(v);
            (parse_and_check(std::move(bytes), fmt::format("byte {:#x} = {:#04x}", i, v)) ? accepted : rejected)++;
            if (::testing::Test::HasFatalFailure()) return;
        }
    }
    // Both outcomes occur: flips in values are accepted, flips in lengths and types are not.
    EXPECT_GT(accepted, 0);
    EXPECT_GT(rejected, 0);
}

// Wide values dropped at every position: lengths and counts become huge, negative or off by one.
TEST(GgufBitFlip, WideValuesAtEveryOffsetNeverCrash) {
    const std::vector<uint8_t> good = flip_subject();
    auto parsed = GgufFile::parse(good, "good.gguf");
    ASSERT_TRUE(parsed.ok());
    const uint64_t region = parsed->data_offset();
    for (uint64_t i = 0; i + 8 <= region; ++i) {
        uint64_t old;
        std::memcpy(&old, good.data() + i, 8);
        for (uint64_t v :
             {kU64Max, k2Pow63, k2Pow40, uint64_t(1) << 30, uint64_t(1) << 31, old + 1, old - 1, old + 32}) {
            std::vector<uint8_t> bytes = good;
            std::memcpy(bytes.data() + i, &v, 8);
            parse_and_check(std::move(bytes), fmt::format("u64 at {:#x} = {:#x}", i, v));
            if (::testing::Test::HasFatalFailure()) return;
        }
    }
}

}  // namespace
}  // namespace loom::formats
