// core/half.h against numpy (f32 -> f16, f16 -> f32) and gguf's ggml-style rounding (f32 -> bf16), plus
// exhaustive round trips over every 16-bit pattern. Data: tests/data/quant (tools/gen_quant_testdata.py).
#include "core/half.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace loom {
namespace {

template <typename T>
std::vector<T> read_array(const std::string& name) {
    const std::string path = std::string(LOOM_TEST_DATA_DIR) + "/quant/" + name;
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(f.good()) << "missing test data " << path << " (run tools/gen_quant_testdata.py)";
    const std::vector<char> bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    EXPECT_EQ(bytes.size() % sizeof(T), 0u) << path;
    std::vector<T> out(bytes.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * sizeof(T));
    return out;
}

bool is_nan_f16(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0; }

TEST(Half, F32ToF16MatchesNumpy) {
    const auto in = read_array<float>("half_f32_to_f16.in.f32");
    const auto want = read_array<uint16_t>("half_f32_to_f16.out.u16");
    ASSERT_EQ(in.size(), want.size());
    ASSERT_GT(in.size(), 2000u);
    int mismatches = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        const uint16_t got = f32_to_f16(in[i]);
        if (std::isnan(in[i])) {
            // NaN payloads differ between converters (numpy keeps a signalling NaN signalling, ggml's and
            // loom's converters return a quiet NaN); only NaN-ness and the sign are specified.
            EXPECT_TRUE(is_nan_f16(got)) << std::hex << "input bits 0x" << f32_to_bits(in[i]) << " -> 0x" << got;
            EXPECT_EQ(got & 0x8000, want[i] & 0x8000);
            continue;
        }
        if (got != want[i] && ++mismatches <= 10)
            ADD_FAILURE() << std::hex << "f32 0x" << f32_to_bits(in[i]) << " (" << in[i] << "): got 0x" << got
                          << ", numpy 0x" << want[i];
    }
    EXPECT_EQ(mismatches, 0);
}

TEST(Half, F32ToBf16MatchesGguf) {
    const auto in = read_array<float>("half_f32_to_bf16.in.f32");
    const auto want = read_array<uint16_t>("half_f32_to_bf16.out.u16");
    ASSERT_EQ(in.size(), want.size());
    int mismatches = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        const uint16_t got = f32_to_bf16(in[i]);  // bit-exact, NaNs included (both quiet them the same way)
        if (got != want[i] && ++mismatches <= 10)
            ADD_FAILURE() << std::hex << "f32 0x" << f32_to_bits(in[i]) << ": got 0x" << got << ", gguf 0x" << want[i];
    }
    EXPECT_EQ(mismatches, 0);
}

TEST(Half, F16ToF32MatchesNumpy) {
    const auto in = read_array<uint16_t>("f16.bin");
    const auto want = read_array<float>("f16.f32");
    ASSERT_EQ(in.size(), want.size());
    for (size_t i = 0; i < in.size(); ++i)
        EXPECT_EQ(f32_to_bits(f16_to_f32(in[i])), f32_to_bits(want[i])) << std::hex << "f16 0x" << in[i];
}

// Every f16 pattern against the IEEE definition, written independently with ldexp.
TEST(Half, F16ToF32ExhaustiveDefinition) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const int exp = (h >> 10) & 31, mant = h & 1023;
        const float sign = (h & 0x8000) ? -1.f : 1.f;
        const float got = f16_to_f32(uint16_t(h));
        if (exp == 31) {
            if (mant == 0) {
                EXPECT_EQ(got, sign * INFINITY) << std::hex << h;
            } else {
                // NaN: payload moved to the top of the f32 mantissa, sign kept.
                EXPECT_EQ(f32_to_bits(got), (h & 0x8000u) << 16 | 0x7f800000u | uint32_t(mant) << 13) << std::hex << h;
            }
            continue;
        }
        const float want =
            exp == 0 ? sign * std::ldexp(float(mant), -24) : sign * std::ldexp(float(1024 + mant), exp - 25);
        EXPECT_EQ(f32_to_bits(got), f32_to_bits(want)) << std::hex << "f16 0x" << h;
    }
}

TEST(Half, F16RoundTripExhaustive) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint16_t back = f32_to_f16(f16_to_f32(uint16_t(h)));
        if (is_nan_f16(uint16_t(h))) EXPECT_TRUE(is_nan_f16(back)) << std::hex << h;
        else EXPECT_EQ(back, h) << std::hex << h;
    }
}

TEST(Half, Bf16RoundTripExhaustive) {
    for (uint32_t h = 0; h < 65536; ++h) {
        const uint16_t back = f32_to_bf16(bf16_to_f32(uint16_t(h)));
        const bool nan = (h & 0x7f80) == 0x7f80 && (h & 0x7f) != 0;
        EXPECT_EQ(back, nan ? uint16_t(h | 0x40) : uint16_t(h)) << std::hex << h;  // NaNs come back quiet
    }
}

TEST(Half, RoundingEdgeCases) {
    EXPECT_EQ(f32_to_f16(65504.f), 0x7bff);
    EXPECT_EQ(f32_to_f16(65519.99f), 0x7bff);  // below the overflow midpoint
    EXPECT_EQ(f32_to_f16(65520.f), 0x7c00);    // the midpoint rounds up to inf
    EXPECT_EQ(f32_to_f16(-1e10f), 0xfc00);
    EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -24)), 0x0001);                         // smallest subnormal
    EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -25)), 0x0000);                         // tie between 0 and 1 ulp: even
    EXPECT_EQ(f32_to_f16(std::ldexp(3.f, -25)), 0x0002);                         // tie between 1 and 2 ulp: even
    EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -14) - std::ldexp(1.f, -25)), 0x0400);  // rounds up into the normals
    EXPECT_EQ(f32_to_f16(1.f + std::ldexp(1.f, -11)), 0x3c00);                   // tie: even
    EXPECT_EQ(f32_to_f16(1.f + std::ldexp(3.f, -11)), 0x3c02);                   // tie: even
    EXPECT_EQ(f32_to_f16(-0.f), 0x8000);
    EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f808000)), 0x3f80);  // tie: even
    EXPECT_EQ(f32_to_bf16(bits_to_f32(0x3f818000)), 0x3f82);  // tie: even
    EXPECT_EQ(f32_to_bf16(bits_to_f32(0x7f7fffff)), 0x7f80);  // rounds to inf
    EXPECT_EQ(f32_to_bf16(bits_to_f32(0x7f800001)), 0x7fc0);  // signalling NaN comes back quiet
}

}  // namespace
}  // namespace loom
