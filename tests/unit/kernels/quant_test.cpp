// kernels::ref quantize/dequantize: bit-exact decoding against the gguf Python package, bit-exact legacy and
// activation quantizers, round-trip error bounds for loom's own K-quant/IQ4 fitters, and edge cases.
// Data: tests/data/quant (tools/gen_quant_testdata.py, see PROVENANCE.md there).
#include "kernels/ref/quant.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "core/half.h"
#include "formats/quant_layout.h"

namespace loom::kernels::ref {
namespace {

using namespace loom::formats;

std::vector<uint8_t> read_file(const std::string& name) {
    const std::string path = std::string(LOOM_TEST_DATA_DIR) + "/quant/" + name;
    std::ifstream f(path, std::ios::binary);
    EXPECT_TRUE(f.good()) << "missing test data " << path << " (run tools/gen_quant_testdata.py)";
    return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}

std::vector<float> read_floats(const std::string& name) {
    const auto bytes = read_file(name);
    std::vector<float> out(bytes.size() / 4);
    if (!out.empty()) std::memcpy(out.data(), bytes.data(), out.size() * 4);
    return out;
}

std::vector<float> gaussian(int64_t n, uint32_t seed, float sigma = 1.f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(0.f, sigma);
    std::vector<float> x(size_t(n), 0.f);
    for (auto& v : x) v = dist(rng);
    return x;
}

std::vector<uint8_t> quantized(DType t, const std::vector<float>& x) {
    std::vector<uint8_t> q(size_t(row_bytes(t, int64_t(x.size()))));
    const Status st = quantize_row(t, x.data(), q.data(), int64_t(x.size()));
    EXPECT_TRUE(st.ok()) << name(t) << ": " << st.error().message();
    return q;
}

std::vector<float> dequantized(DType t, const std::vector<uint8_t>& q, int64_t n) {
    std::vector<float> y(size_t(n), NAN);
    const Status st = dequantize_row(t, q.data(), y.data(), n);
    EXPECT_TRUE(st.ok()) << name(t) << ": " << st.error().message();
    return y;
}

std::vector<float> round_trip(DType t, const std::vector<float>& x) {
    return dequantized(t, quantized(t, x), int64_t(x.size()));
}

// sqrt(Σ (y - x)² / Σ x²).
double rel_rmse(const std::vector<float>& x, const std::vector<float>& y) {
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        num += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
        den += double(x[i]) * x[i];
    }
    return std::sqrt(num / den);
}

// Every type the reference dequantizer handles (the files tests/data/quant/<name>.bin/.f32 exist for each).
const DType kDequantTypes[] = {DType::f32,  DType::f16,  DType::bf16, DType::q4_0,   DType::q4_1,  DType::q5_0,
                               DType::q5_1, DType::q8_0, DType::q8_1, DType::q2_k,   DType::q3_k,  DType::q4_k,
                               DType::q5_k, DType::q6_k, DType::q8_k, DType::iq4_nl, DType::iq4_xs};

// Every block-quantized type quantize_row handles.
const DType kQuantTypes[] = {DType::q4_0, DType::q4_1, DType::q5_0,   DType::q5_1,  DType::q8_0,
                             DType::q8_1, DType::q2_k, DType::q3_k,   DType::q4_k,  DType::q5_k,
                             DType::q6_k, DType::q8_k, DType::iq4_nl, DType::iq4_xs};

std::string type_name(const testing::TestParamInfo<DType>& p) { return std::string(name(p.param)); }

TEST(QuantLayout, SizesMatchTypeTable) {
    EXPECT_EQ(int64_t(sizeof(BlockQ4_0)), info(DType::q4_0).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ4_1)), info(DType::q4_1).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ5_0)), info(DType::q5_0).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ5_1)), info(DType::q5_1).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ8_0)), info(DType::q8_0).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ8_1)), info(DType::q8_1).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ2_K)), info(DType::q2_k).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ3_K)), info(DType::q3_k).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ4_K)), info(DType::q4_k).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ5_K)), info(DType::q5_k).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ6_K)), info(DType::q6_k).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockQ8_K)), info(DType::q8_k).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockIQ4_NL)), info(DType::iq4_nl).block_bytes);
    EXPECT_EQ(int64_t(sizeof(BlockIQ4_XS)), info(DType::iq4_xs).block_bytes);
    EXPECT_EQ(info(DType::q4_0).block_elems, kQk);
    EXPECT_EQ(info(DType::q4_k).block_elems, kQkK);
}

// ---- Decoding: bit-exact against the gguf package ---------------------------------------------------------

class QuantDequant : public testing::TestWithParam<DType> {};

TEST_P(QuantDequant, MatchesGgufBitExact) {
    const DType t = GetParam();
    const auto src = read_file(std::string(name(t)) + ".bin");
    const auto want = read_floats(std::string(name(t)) + ".f32");
    ASSERT_FALSE(want.empty());
    const int64_t n = int64_t(want.size());
    ASSERT_EQ(int64_t(src.size()), row_bytes(t, n));
    EXPECT_TRUE(info(t).loom_can_dequantize);

    // At an odd address too: blocks inside a file are only byte-aligned.
    std::vector<uint8_t> shifted(src.size() + 1);
    std::memcpy(shifted.data() + 1, src.data(), src.size());
    for (const uint8_t* p : {src.data(), static_cast<const uint8_t*>(shifted.data() + 1)}) {
        std::vector<float> got(size_t(n), -12345.f);
        ASSERT_TRUE(dequantize_row(t, p, got.data(), n).ok());
        int mismatches = 0;
        for (int64_t i = 0; i < n; ++i) {
            if (f32_to_bits(got[size_t(i)]) != f32_to_bits(want[size_t(i)]) && ++mismatches <= 8)
                ADD_FAILURE() << name(t) << " element " << i << " (block " << i / info(t).block_elems << "): got "
                              << got[size_t(i)] << ", gguf " << want[size_t(i)];
        }
        EXPECT_EQ(mismatches, 0) << name(t);
    }
}

// dequantize() over rows equals dequantize_row() over the whole buffer; each row decodes on its own.
TEST_P(QuantDequant, RowsEqualFlatDecode) {
    const DType t = GetParam();
    const auto src = read_file(std::string(name(t)) + ".bin");
    const auto want = read_floats(std::string(name(t)) + ".f32");
    const int64_t row_len = info(t).block_elems * (info(t).block_elems == 1 ? 64 : 2);
    const int64_t n_rows = int64_t(want.size()) / row_len;
    ASSERT_GE(n_rows, 2);
    std::vector<float> got(size_t(n_rows * row_len));
    ASSERT_TRUE(dequantize(t, src.data(), got.data(), n_rows, row_len).ok());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0);
    // The last row alone.
    std::vector<float> last(static_cast<size_t>(row_len));
    ASSERT_TRUE(dequantize_row(t, src.data() + (n_rows - 1) * row_bytes(t, row_len), last.data(), row_len).ok());
    EXPECT_EQ(std::memcmp(last.data(), want.data() + (n_rows - 1) * row_len, size_t(row_len) * 4), 0);
}

INSTANTIATE_TEST_SUITE_P(All, QuantDequant, testing::ValuesIn(kDequantTypes), type_name);

TEST(QuantDequant, UnsupportedTypeIsAnError) {
    uint8_t block[256] = {};
    float out[256];
    for (DType t : {DType::iq2_xxs, DType::iq3_s, DType::tq1_0, DType::mxfp4, DType::i8, DType::f64}) {
        const Status st = dequantize_row(t, block, out, info(t).block_elems);
        ASSERT_FALSE(st.ok()) << name(t);
        EXPECT_EQ(st.error().code(), ErrorCode::unsupported);
        EXPECT_NE(st.error().message().find(std::string(name(t))), std::string::npos) << st.error().message();
    }
    EXPECT_TRUE(dequantize_row(DType::q4_k, block, out, 0).ok());  // zero values is fine
}

TEST(QuantQuantize, UnsupportedTypeIsAnError) {
    float x[256] = {};
    uint8_t out[512];
    for (DType t : {DType::iq2_xxs, DType::iq1_m, DType::tq2_0, DType::i32}) {
        EXPECT_FALSE(can_quantize(t)) << name(t);
        const Status st = quantize_row(t, x, out, info(t).block_elems);
        ASSERT_FALSE(st.ok()) << name(t);
        EXPECT_EQ(st.error().code(), ErrorCode::unsupported);
        EXPECT_NE(st.error().message().find(std::string(name(t))), std::string::npos) << st.error().message();
    }
    for (DType t : kQuantTypes) EXPECT_TRUE(can_quantize(t)) << name(t);
    for (DType t : {DType::f32, DType::f16, DType::bf16}) EXPECT_TRUE(can_quantize(t)) << name(t);
}

// ---- Quantizers that must be bit-exact ---------------------------------------------------------------------

// gguf's quantizers for these types are ports of ggml's reference rules: same bytes expected.
class QuantEncodeGguf : public testing::TestWithParam<DType> {};

TEST_P(QuantEncodeGguf, MatchesGgufBytes) {
    const DType t = GetParam();
    const auto x = read_floats("quantize_input.f32");
    const auto want = read_file(std::string(name(t)) + ".quantized.bin");
    ASSERT_EQ(x.size(), 512u);
    const auto got = quantized(t, x);
    ASSERT_EQ(got.size(), want.size());
    const int64_t bb = info(t).block_bytes, be = info(t).block_elems;
    int mismatches = 0;
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i] && ++mismatches <= 8)
            ADD_FAILURE() << name(t) << " byte " << i << " (block " << int64_t(i) / bb << ", values from "
                          << int64_t(i) / bb * be << "): got " << int(got[i]) << ", gguf " << int(want[i]);
    EXPECT_EQ(mismatches, 0);
}

INSTANTIATE_TEST_SUITE_P(Legacy, QuantEncodeGguf,
                         testing::Values(DType::q4_0, DType::q4_1, DType::q5_0, DType::q5_1, DType::q8_0, DType::f16,
                                         DType::bf16),
                         type_name);

BlockQ8_0 q8_0_of(const float* x) {
    BlockQ8_0 b;
    EXPECT_TRUE(quantize_row(DType::q8_0, x, &b, kQk).ok());
    return b;
}

// amax = 127 makes d = 1 and id = 1, so q = roundf(x): ties go away from zero.
TEST(QuantQ8_0, KnownAnswer) {
    float x[32] = {};
    x[3] = 127.f;
    x[0] = 2.5f, x[1] = -2.5f, x[2] = 0.5f, x[4] = -0.49f, x[5] = 1.5f, x[6] = -126.5f, x[7] = 3.49f;
    BlockQ8_0 b = q8_0_of(x);
    EXPECT_EQ(b.d, 0x3c00);  // f16 1.0
    const int want[8] = {3, -3, 1, 127, 0, 2, -127, 3};
    for (int j = 0; j < 8; ++j) EXPECT_EQ(b.qs[j], want[j]) << j;
    // amax = 63.5: d = 0.5, id = 2, so 0.25 -> 0.5 -> 1 and -0.75 -> -1.5 -> -2.
    float y[32] = {};
    y[0] = 0.25f, y[1] = -0.75f, y[2] = -63.5f;
    b = q8_0_of(y);
    EXPECT_EQ(b.d, f32_to_f16(0.5f));
    EXPECT_EQ(b.qs[0], 1);
    EXPECT_EQ(b.qs[1], -2);
    EXPECT_EQ(b.qs[2], -127);
}

// The scale is rounded to f16 only for storage: q uses the f32 1/d. amax = 1 gives d = 1/127, whose f16 is
// not exact; q must still be exactly round(x * 127) with ggml's f32 inverse.
TEST(QuantQ8_0, QuantizesWithF32Scale) {
    auto x = gaussian(32, 7);
    x[9] = 1.f;
    for (auto& v : x) v = std::fmax(-1.f, std::fmin(1.f, v));
    const BlockQ8_0 b = q8_0_of(x.data());
    const float d = 1.f / 127.f, id = 1.f / d;
    EXPECT_EQ(b.d, f32_to_f16(d));
    for (int j = 0; j < 32; ++j) EXPECT_EQ(b.qs[j], int(std::roundf(x[size_t(j)] * id))) << j;
}

TEST(QuantQ8_1, SumField) {
    auto x = gaussian(64, 11);
    const auto q = quantized(DType::q8_1, x);
    for (int blk = 0; blk < 2; ++blk) {
        BlockQ8_1 b;
        std::memcpy(&b, q.data() + blk * sizeof(BlockQ8_1), sizeof b);
        float amax = 0.f;
        for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[size_t(blk * 32 + j)]));
        const float d = amax / 127.f;
        int sum = 0;
        for (int j = 0; j < 32; ++j) {
            EXPECT_EQ(b.qs[j], int(std::roundf(x[size_t(blk * 32 + j)] * (1.f / d))));
            sum += b.qs[j];
        }
        EXPECT_EQ(b.d, f32_to_f16(d));
        EXPECT_EQ(b.s, f32_to_f16(float(sum) * d));  // s uses the f32 d, not the stored f16
    }
    // Same integers and scale as Q8_0.
    const auto q0 = quantized(DType::q8_0, x);
    for (int blk = 0; blk < 2; ++blk) EXPECT_EQ(std::memcmp(q.data() + blk * 36 + 4, q0.data() + blk * 34 + 2, 32), 0);
}

BlockQ8_K q8_k_of(const std::vector<float>& x) {
    BlockQ8_K b;
    EXPECT_TRUE(quantize_row(DType::q8_k, x.data(), &b, kQkK).ok());
    return b;
}

// max = -127 makes iscale = 1: q = round-half-even(x), d = 1.
TEST(QuantQ8_K, KnownAnswerTiesToEven) {
    std::vector<float> x(256, 0.f);
    x[7] = -127.f;
    const float in[] = {2.5f, 3.5f, -2.5f, 0.5f, 1.5f, 126.5f, -126.5f, -0.5f, 4.4999f, 100.f};
    const int want[] = {2, 4, -2, 0, 2, 126, -126, 0, 4, 100};
    for (int j = 0; j < 10; ++j) x[size_t(20 + j)] = in[j];
    BlockQ8_K b = q8_k_of(x);
    EXPECT_EQ(b.d, 1.f);
    EXPECT_EQ(b.qs[7], -127);
    for (int j = 0; j < 10; ++j) EXPECT_EQ(b.qs[20 + j], want[j]) << in[j];
    int16_t bsum1 = 0;  // group 1 = elements 16..31
    for (int j = 0; j < 10; ++j) bsum1 = int16_t(bsum1 + want[j]);
    EXPECT_EQ(b.bsums[0], -127);
    EXPECT_EQ(b.bsums[1], bsum1);
    for (int g = 2; g < 16; ++g) EXPECT_EQ(b.bsums[g], 0);

    // A positive max flips the sign: iscale = -1, d = -1, q = -round-half-even(x).
    x[7] = 127.f;
    b = q8_k_of(x);
    EXPECT_EQ(b.d, -1.f);
    EXPECT_EQ(b.qs[7], -127);
    EXPECT_EQ(b.qs[20], -2);  // -2.5 -> -2
    EXPECT_EQ(b.qs[21], -4);  // -3.5 -> -4
    EXPECT_EQ(b.qs[22], 2);
}

// Against a second implementation of ggml's rule written with std::nearbyint (ties to even in the default
// rounding mode) instead of the 1.5*2^23 trick.
TEST(QuantQ8_K, MatchesIndependentRule) {
    for (uint32_t seed = 1; seed <= 20; ++seed) {
        auto x = gaussian(256, seed, seed % 2 ? 1.f : 1e-3f);
        if (seed % 3 == 0) x[size_t(seed)] = -50.f;  // a negative max
        const BlockQ8_K b = q8_k_of(x);
        float amax = 0.f, max = 0.f;
        for (float v : x)
            if (std::fabs(v) > amax) amax = std::fabs(v), max = v;
        const float iscale = -127.f / max;
        for (int j = 0; j < 256; ++j) {
            const float prod = iscale * x[size_t(j)];
            EXPECT_EQ(b.qs[j], std::min(127, int(std::nearbyint(prod)))) << "seed " << seed << " j " << j;
        }
        EXPECT_EQ(f32_to_bits(b.d), f32_to_bits(1.f / iscale));
        for (int g = 0; g < 16; ++g) {
            int s = 0;
            for (int j = 0; j < 16; ++j) s += b.qs[16 * g + j];
            EXPECT_EQ(b.bsums[g], s);
        }
    }
}

// ---- Round trips -------------------------------------------------------------------------------------------

struct Bound {
    DType t;
    double max_rel_rmse;  // on N(0, 1) data: sqrt(Σ err² / Σ x²)
};

// Relative RMSE on 64 super-blocks of N(0, 1), as measured (g++ 12, x86-64), with ~10% headroom:
//   q8_0 0.537%  q8_1 0.537%  q8_k 0.703%  q6_k 1.72%  q5_k 3.45%  q5_1 3.76%  q5_0 4.26%
//   q4_k 7.03%   iq4_nl 7.39% iq4_xs 7.46% q4_1 7.82%  q4_0 8.65%  q3_k 14.5%  q2_k 26.4%
// The legacy and q8 types follow ggml's rules exactly, so theirs are what llama.cpp gets too; the K-quant and
// IQ4 numbers are loom's fitter (unweighted least squares, no importance matrix).
const Bound kBounds[] = {
    {DType::q8_0, 0.0059}, {DType::q8_1, 0.0059}, {DType::q8_k, 0.0077}, {DType::q6_k, 0.019},   {DType::q5_k, 0.038},
    {DType::q5_1, 0.0415}, {DType::q5_0, 0.047},  {DType::q4_k, 0.077},  {DType::iq4_nl, 0.081}, {DType::iq4_xs, 0.082},
    {DType::q4_1, 0.086},  {DType::q4_0, 0.095},  {DType::q3_k, 0.16},   {DType::q2_k, 0.29},
};

class QuantRoundTrip : public testing::TestWithParam<Bound> {};

TEST_P(QuantRoundTrip, RoundTripErrorWithinBound) {
    const auto [t, bound] = GetParam();
    const auto x = gaussian(64 * 256, 1234);
    const auto y = round_trip(t, x);
    const double err = rel_rmse(x, y);
    RecordProperty("rel_rmse", std::to_string(err));
    std::printf("    %-7s rel. RMSE %.5f (bound %.4f)\n", std::string(name(t)).c_str(), err, bound);
    EXPECT_LE(err, bound) << name(t);
    // Keep the bounds honest: a result far below the bound means the table above is stale (a better fitter
    // is welcome; update the numbers).
    EXPECT_GE(err, bound / 1.25) << name(t) << ": error well below the recorded bound; tighten the table";

    // Scale invariance (up to f16 scale rounding): the same data times 1e-3 has the same relative error.
    auto xs = x;
    for (auto& v : xs) v *= 1e-3f;
    EXPECT_NEAR(rel_rmse(xs, round_trip(t, xs)), err, 0.1 * err) << name(t);
}

std::string bound_name(const testing::TestParamInfo<Bound>& p) { return std::string(name(p.param.t)); }
INSTANTIATE_TEST_SUITE_P(All, QuantRoundTrip, testing::ValuesIn(kBounds), bound_name);

// Q8_0: every element within d_f32/2 plus what rounding d to f16 costs (|q| <= 127, relative 2^-11).
TEST(QuantQ8_0, ElementwiseBound) {
    const auto x = gaussian(32 * 100, 99);
    const auto y = round_trip(DType::q8_0, x);
    for (int blk = 0; blk < 100; ++blk) {
        float amax = 0.f;
        for (int j = 0; j < 32; ++j) amax = std::fmax(amax, std::fabs(x[size_t(blk * 32 + j)]));
        const float d = amax / 127.f;
        for (int j = 0; j < 32; ++j) {
            const size_t i = size_t(blk * 32 + j);
            EXPECT_LE(std::fabs(y[i] - x[i]), d * (0.5f + 127.f / 2048.f)) << "block " << blk << " j " << j;
        }
    }
}

// ---- Edge cases, for every quantizer -----------------------------------------------------------------------

class QuantEdge : public testing::TestWithParam<DType> {};

TEST_P(QuantEdge, ZeroBlocksDecodeToZero) {
    const DType t = GetParam();
    const std::vector<float> x(size_t(2 * kQkK), 0.f);
    for (float v : round_trip(t, x)) ASSERT_EQ(v, 0.f) << name(t);
}

TEST_P(QuantEdge, ConstantBlocks) {
    const DType t = GetParam();
    for (float c : {0.75f, -1.25f, 3e-3f, -200.f}) {
        const std::vector<float> x(size_t(kQkK), c);
        const auto y = round_trip(t, x);
        // A constant is representable up to the f16 rounding of the scales: 2^-11 relative, plus, for small
        // c, the absolute step of an f16 subnormal super-block scale (2^-24) times codes up to 128 * 32.
        for (size_t i = 0; i < y.size(); ++i)
            ASSERT_NEAR(y[i], c, std::fabs(c) * 2e-3 + 2.5e-4) << name(t) << " c=" << c;
    }
}

// Sub-block rel. RMSE away from sub-block `skip` (the one holding an outlier) for K-quants.
double rel_rmse_outside(DType t, const std::vector<float>& x, const std::vector<float>& y, int64_t outlier) {
    const int64_t sub = (t == DType::q4_k || t == DType::q5_k || t == DType::iq4_xs) ? 32 : 16;
    double num = 0, den = 0;
    for (size_t i = 0; i < x.size(); ++i) {
        if (int64_t(i) / sub == outlier / sub) continue;
        num += (double(y[i]) - x[i]) * (double(y[i]) - x[i]);
        den += double(x[i]) * x[i];
    }
    return std::sqrt(num / den);
}

bool has_sub_blocks(DType t) { return info(t).block_elems == kQkK && t != DType::q8_k; }

TEST_P(QuantEdge, OneHugeValue) {
    const DType t = GetParam();
    auto x = gaussian(kQkK, 5, 0.01f);
    x[77] = 1000.f;
    const auto y = round_trip(t, x);
    // The outlier sets the scale: it must survive nearly exactly (the largest level, f16 scale rounding) …
    EXPECT_NEAR(y[77], 1000.f, 1000.f * 4e-3f) << name(t);
    // … and everything else is decoded to within a coarse step of the outlier's scale, never to garbage.
    for (size_t i = 0; i < y.size(); ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << name(t);
        if (i != 77) {
            ASSERT_LE(std::fabs(y[i] - x[i]), 1000.f / 3.f) << name(t) << " i=" << i;
        }
    }
    // At a 10^5 ratio the other sub-blocks' scale codes round to 0: the best the format can do there is a
    // constant, so no worse than decoding them as zeros.
    if (has_sub_blocks(t)) {
        EXPECT_LE(rel_rmse_outside(t, x, y, 77), 1.02) << name(t);
    }
}

// With a moderate outlier (20 sigma) the other sub-blocks keep their own scales and nearly their usual error.
class QuantSubBlocks : public testing::TestWithParam<DType> {};

TEST_P(QuantSubBlocks, ModerateOutlierStaysLocal) {
    const DType t = GetParam();
    auto x = gaussian(4 * kQkK, 6);
    const auto base = rel_rmse(x, round_trip(t, x));
    for (int64_t blk = 0; blk < 4; ++blk) x[size_t(blk * kQkK + 100)] = 20.f;
    const auto y = round_trip(t, x);
    double worst = 0;
    for (int64_t blk = 0; blk < 4; ++blk) {
        const std::vector<float> xb(x.begin() + blk * kQkK, x.begin() + (blk + 1) * kQkK);
        const std::vector<float> yb(y.begin() + blk * kQkK, y.begin() + (blk + 1) * kQkK);
        worst = std::max(worst, rel_rmse_outside(t, xb, yb, 100));
    }
    EXPECT_LE(worst, 1.5 * base) << name(t) << ": outlier-free error " << base;
}

// Tiny inputs: the fitters must not divide by ~0 (inf, NaN, UB in float->int); scales underflow to f16 zero
// or subnormals, so the output is near zero but finite.
TEST_P(QuantEdge, TinyValues) {
    const DType t = GetParam();
    for (float scale : {1e-12f, 1e-33f}) {
        const auto x = gaussian(kQkK, 8, scale);
        for (float v : round_trip(t, x)) {
            ASSERT_TRUE(std::isfinite(v)) << name(t) << " scale " << scale;
            ASSERT_LE(std::fabs(v), 10.f * scale) << name(t) << " scale " << scale;
        }
    }
}

// One block alone gives the same bytes as that block inside a long row: blocks are independent.
TEST_P(QuantEdge, OneBlockEqualsManyBlocks) {
    const DType t = GetParam();
    const int64_t be = info(t).block_elems, bb = info(t).block_bytes;
    const auto x = gaussian(40 * kQkK, 77);
    const auto all = quantized(t, x);
    const int64_t nb = int64_t(x.size()) / be;
    for (int64_t blk : {int64_t(0), nb / 2, nb - 1}) {
        std::vector<float> one(x.begin() + blk * be, x.begin() + (blk + 1) * be);
        const auto q = quantized(t, one);
        EXPECT_EQ(std::memcmp(q.data(), all.data() + blk * bb, size_t(bb)), 0) << name(t) << " block " << blk;
    }
}

INSTANTIATE_TEST_SUITE_P(All, QuantEdge, testing::ValuesIn(kQuantTypes), type_name);
INSTANTIATE_TEST_SUITE_P(KQuants, QuantSubBlocks,
                         testing::Values(DType::q2_k, DType::q3_k, DType::q4_k, DType::q5_k, DType::q6_k,
                                         DType::iq4_xs),
                         type_name);

TEST(QuantQuantize, PlainTypes) {
    const std::vector<float> x = {1.f, -2.5f, 3.14159f, 1e-8f, 65504.f, 70000.f, -0.f, 0.1f};
    const auto f32 = round_trip(DType::f32, x);
    EXPECT_EQ(std::memcmp(f32.data(), x.data(), x.size() * 4), 0);
    const auto f16 = quantized(DType::f16, x);
    const auto bf16 = quantized(DType::bf16, x);
    for (size_t i = 0; i < x.size(); ++i) {
        uint16_t h, b;
        std::memcpy(&h, f16.data() + 2 * i, 2);
        std::memcpy(&b, bf16.data() + 2 * i, 2);
        EXPECT_EQ(h, f32_to_f16(x[i]));
        EXPECT_EQ(b, f32_to_bf16(x[i]));
    }
}

}  // namespace
}  // namespace loom::kernels::ref
