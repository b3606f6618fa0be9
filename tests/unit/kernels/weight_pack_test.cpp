// Load-time packed weight layouts (kernels/cpu/weight_pack.h): the packed form keeps every value, the CPU matmul
// gives the same bits with and without it (so llama.cpp's bits, ARCHITECTURE.md), and a packed form that does not
// describe the view it rides on is ignored.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <tuple>
#include <vector>

#include "core/cpu_features.h"
#include "core/half.h"
#include "core/packed_weight.h"
#include "core/thread_pool.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/cpu/weight_pack.h"
#include "kernels/ref/quant.h"
#include "unit/kernels/matmul_testing.h"

namespace loom::kernels {
namespace {

using namespace testing_data;

bool have_avx2() { return cpu_features().avx2_kernels() && cpu::avx2_matmul_kernels(); }

// The variants with packed tiles that this CPU runs (AVX2, and AVX-512 where present).
std::vector<const cpu::MatmulKernels*> packing_variants() {
    std::vector<const cpu::MatmulKernels*> v;
    if (have_avx2()) v.push_back(cpu::avx2_matmul_kernels());
    if (have_avx2() && cpu_features().avx512_kernels() && cpu::avx512_matmul_kernels())
        v.push_back(cpu::avx512_matmul_kernels());
    return v;
}

std::vector<float> run(const cpu::MatmulKernels& k, Stream& s, const TensorView& w, const std::vector<float>& x,
                       int64_t n_tok, bool rows_alone = false) {
    const int64_t n_out = w.dim(0), n_in = w.dim(1);
    std::vector<float> y(static_cast<size_t>(n_tok * n_out), NAN);
    MatmulArgs a;
    a.w = w;
    a.x = TensorView::dense(x.data(), DType::f32, {n_tok, n_in});
    a.y = TensorView::dense(y.data(), DType::f32, {n_tok, n_out});
    a.rows_alone = rows_alone;
    EXPECT_TRUE(cpu::matmul_with(k, a, s).ok());
    return y;
}

std::unique_ptr<PackedWeight> pack(const cpu::MatmulKernels& k, const TensorView& w, Stream& s) {
    auto p = cpu::pack_weight_with(k, w, s);
    EXPECT_TRUE(p.ok());
    return p.ok() ? std::move(p).value() : nullptr;
}

// Every value of every layout read back from the packed form equals ref dequantize's, bit for bit.
TEST(WeightPack, EveryLayoutKeepsEveryValue) {
    for (const cpu::PackedFormat& f : cpu::packed_formats()) {
        const int64_t n_out = 24, n_in = 3 * std::max<int64_t>(f.block_values, 256);
        const Matrix m = random_matrix(f.dtype, n_out, n_in, 5);
        std::vector<uint8_t> packed(size_t(f.row_stride(n_in) * n_out));
        f.pack(m.bytes.data(), row_bytes(f.dtype, n_in), n_in, 0, n_out, packed.data());
        std::vector<float> want(static_cast<size_t>(n_in));
        for (int64_t o = 0; o < n_out; ++o) {
            ASSERT_TRUE(
                ref::dequantize_row(f.dtype, m.bytes.data() + o * row_bytes(f.dtype, n_in), want.data(), n_in).ok());
            for (int64_t i = 0; i < n_in; ++i)
                ASSERT_EQ(f32_to_bits(f.value(packed.data(), n_in, o, i)), f32_to_bits(want[size_t(i)]))
                    << name(f.dtype) << " row " << o << " value " << i;
        }
    }
}

TEST(WeightPack, OnlyWhereAVariantHasTheLayout) {
    Stream s;
    const Matrix q4k = random_matrix(DType::q4_k, 16, 256, 1), odd = random_matrix(DType::q4_k, 12, 256, 2);
    const Matrix q80 = random_matrix(DType::q8_0, 16, 256, 3);
    EXPECT_EQ(pack(cpu::portable_matmul_kernels(), q4k.view(16), s), nullptr);  // no packed tile there
    if (!have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
    const cpu::MatmulKernels& k = *cpu::avx2_matmul_kernels();
    auto p = pack(k, q4k.view(16), s);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->layout, PackedLayout::q4_k_x8);
    EXPECT_EQ(p->bytes, size_t(16 / 8 * 1184));
    EXPECT_TRUE(p->describes(q4k.view(16)));
    EXPECT_FALSE(p->describes(q4k.view(8)));
    EXPECT_EQ(pack(k, odd.view(12), s), nullptr);  // rows not in groups of 8
    EXPECT_EQ(pack(k, q80.view(16), s), nullptr);  // no layout for the type
    if (cpu_features().avx512_kernels() && cpu::avx512_matmul_kernels()) {
        const cpu::MatmulKernels& k512 = *cpu::avx512_matmul_kernels();
        const Matrix q40 = random_matrix(DType::q4_0, 16, 256, 5);
        for (const Matrix* m : {&q40, &q4k}) {  // its own tiles of the packed layouts
            auto p4 = pack(k512, m->view(16), s);
            ASSERT_NE(p4, nullptr);
            EXPECT_EQ(p4->layout, m == &q40 ? PackedLayout::q4_0_x8 : PackedLayout::q4_k_x8);
        }
        EXPECT_EQ(pack(k512, q80.view(16), s), nullptr);  // the GGUF layout for its own Q8_0 tile
        const Matrix q6k = random_matrix(DType::q6_k, 16, 256, 4);
        auto p6 = pack(k512, q6k.view(16), s);  // has none of its own: the packed AVX2 tile
        ASSERT_NE(p6, nullptr);
        EXPECT_EQ(p6->layout, PackedLayout::q6_k_x8);
    }
}

// Same bits as the AVX2 row-major tiles, for every layout of every variant (AVX2, AVX-512), over row counts (one
// group, several, an odd group left to the AVX2 tile by the 16-row AVX-512 tiles, tasks split at 8-row multiples by
// 3 threads), token counts on both sides of every recipe switch (Q4_K: groups of 4 batched, the n % 4 tail single;
// Q6_K: below and from 8 tokens; the AVX-512 tiles' 8 tokens), rows alone, and row lengths of 1..8 super-blocks.
TEST(WeightPack, EveryLayoutSameBitsAsRowMajor) {
    if (!have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
    const cpu::MatmulKernels& row_major = *cpu::avx2_matmul_kernels();
    ThreadPool pool(3);
    Stream s;
    s.pool = &pool;
    int n_packed = 0;
    for (const cpu::MatmulKernels* k : packing_variants())
        for (const cpu::PackedFormat& f : cpu::packed_formats())
            for (int64_t n_in : {256, 768, 2048})
                for (int64_t n_out : {8, 40, 136}) {
                    const Matrix m = random_matrix(f.dtype, n_out, n_in, uint32_t(n_in + n_out));
                    TensorView plain = m.view(n_out), packed = plain;
                    const auto p = pack(*k, plain, s);
                    if (p == nullptr) {  // the variant keeps the GGUF layout for this type; AVX2 packs every layout
                        ASSERT_NE(k, &row_major) << name(f.dtype);
                        continue;
                    }
                    ASSERT_EQ(p->layout, f.layout);
                    ++n_packed;
                    packed.packed = p.get();
                    for (int64_t n_tok : {1, 2, 3, 4, 5, 7, 8, 9, 13, 33, 70}) {
                        const std::vector<float> x = random_acts(n_tok, n_in, uint32_t(n_tok));
                        for (bool alone : {false, true}) {
                            const std::vector<float> want = run(row_major, s, plain, x, n_tok, alone);
                            const std::vector<float> got = run(*k, s, packed, x, n_tok, alone);
                            for (size_t i = 0; i < got.size(); ++i)
                                ASSERT_EQ(f32_to_bits(got[i]), f32_to_bits(want[i]))
                                    << k->name << " " << name(f.dtype) << " n_out=" << n_out << " n_in=" << n_in
                                    << " n_tok=" << n_tok << " alone=" << alone << " output " << i << ": " << got[i]
                                    << " vs " << want[i];
                        }
                    }
                }
    EXPECT_GE(n_packed, int(cpu::packed_formats().size()) * 9);  // every layout at least on AVX2
}

// 3-D expert tensors pack as one slab per expert (rows of every expert one group after another): matmul_id on the
// packed form gives the row-major tiles' bits, rounded per row (llama.cpp's mul_mat_id) and per matrix.
TEST(WeightPack, ExpertSlabsSameBitsAsRowMajor) {
    if (!have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
    const cpu::MatmulKernels& row_major = *cpu::avx2_matmul_kernels();
    ThreadPool pool(3);
    Stream s;
    s.pool = &pool;
    const int64_t n_expert = 6, n_out = 24, n_in = 512, n_tok = 11, n_used = 3;
    std::vector<int32_t> ids(static_cast<size_t>(n_tok * n_used));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 5 + i / 3) % n_expert);
    const std::vector<float> x = random_acts(n_tok, n_in, 7);
    for (const cpu::MatmulKernels* k : packing_variants())
        for (const cpu::PackedFormat& f : cpu::packed_formats()) {
            const Matrix m = random_matrix(f.dtype, n_expert * n_out, n_in, 17);
            TensorView plain = TensorView::dense(m.bytes.data(), f.dtype, {n_expert, n_out, n_in}), packed = plain;
            const auto p = pack(*k, plain, s);
            if (p == nullptr) continue;  // the variant keeps the GGUF layout for this type
            ASSERT_EQ(p->n_out, n_expert * n_out);
            packed.packed = p.get();
            for (ExpertRounding rounding : {ExpertRounding::per_row, ExpertRounding::per_matrix}) {
                std::vector<float> want(static_cast<size_t>(n_tok * n_used * n_out)), got(want.size());
                for (auto [w, y, kernels] : {std::tuple{plain, &want, &row_major}, std::tuple{packed, &got, k}}) {
                    MatmulIdArgs a;
                    a.w = w;
                    a.x = TensorView::dense(x.data(), DType::f32, {n_tok, 1, n_in});
                    a.ids = TensorView::dense(ids.data(), DType::i32, {n_tok, n_used});
                    a.y = TensorView::dense(y->data(), DType::f32, {n_tok, n_used, n_out});
                    a.rounding = rounding;
                    ASSERT_TRUE(cpu::matmul_id_with(*kernels, a, s).ok());
                }
                for (size_t i = 0; i < got.size(); ++i)
                    ASSERT_EQ(f32_to_bits(got[i]), f32_to_bits(want[i]))
                        << k->name << " " << name(f.dtype) << " per_row=" << (rounding == ExpertRounding::per_row)
                        << " output " << i;
            }
        }
}

// Codes at their edges (every byte one pattern: codes 0 or at their maximum, Q4_K's scales and mins 63, Q6_K's
// scales ±1 or −128) against ±1 activations, every block's f16 scales 1/16: the int16 sums reach their bounds
// (Q4_0, Q4_K: ±30720, Q6_K: ±32004) without wrapping, for both recipes.
TEST(WeightPack, ExtremeCodesSameBits) {
    if (!have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
    const cpu::MatmulKernels& row_major = *cpu::avx2_matmul_kernels();
    struct Scales {
        DType type;
        size_t block_bytes;
        std::vector<size_t> f16_at;
    };
    const Scales kScales[] = {{DType::q4_0, 18, {0}},
                              {DType::q5_0, 22, {0}},
                              {DType::q4_k, 144, {0, 2}},
                              {DType::q6_k, 210, {208}}};
    const int64_t n_in = 512, n_out = 16;
    for (const cpu::MatmulKernels* k : packing_variants())
        for (const Scales& t : kScales)
            for (uint8_t pattern :
                 {uint8_t(0xff), uint8_t(0x00), uint8_t(0x0f), uint8_t(0xf0), uint8_t(0x3f), uint8_t(0x80)}) {
                std::vector<uint8_t> w(static_cast<size_t>(row_bytes(t.type, n_in) * n_out), pattern);
                for (size_t b = 0; b < w.size(); b += t.block_bytes)
                    for (size_t at : t.f16_at) {
                        const uint16_t h = 0x2c00;  // 1/16
                        std::memcpy(&w[b + at], &h, 2);
                    }
                for (int64_t n_tok : {5, 9})
                    for (float sign : {1.f, -1.f}) {
                        std::vector<float> x(static_cast<size_t>(n_tok * n_in), sign);
                        for (size_t i = 0; i < x.size(); i += 97) x[i] = -sign * 0.5f;
                        Stream s;
                        TensorView plain = TensorView::dense(w.data(), t.type, {n_out, n_in}), packed = plain;
                        const auto p = pack(*k, plain, s);
                        if (p == nullptr) {  // the variant keeps the GGUF layout; AVX2 packs every layout
                            ASSERT_NE(k, &row_major) << name(t.type);
                            continue;
                        }
                        packed.packed = p.get();
                        const std::vector<float> want = run(row_major, s, plain, x, n_tok);
                        const std::vector<float> got = run(*k, s, packed, x, n_tok);
                        EXPECT_EQ(std::memcmp(got.data(), want.data(), got.size() * 4), 0)
                            << k->name << " " << name(t.type) << " pattern " << int(pattern) << " tokens " << n_tok
                            << " sign " << sign;
                    }
            }
}

// A packed form rides along with copies of a view; where it does not describe the view (another matrix's data, a
// row subset), matmul reads the view's own data.
TEST(WeightPack, IgnoredWhereItDoesNotDescribeTheView) {
    if (!have_avx2()) GTEST_SKIP() << "no AVX2 on this CPU";
    const cpu::MatmulKernels& k = *cpu::avx2_matmul_kernels();
    Stream s;
    const Matrix a = random_matrix(DType::q4_k, 16, 512, 1), b = random_matrix(DType::q4_k, 16, 512, 2);
    const auto pa = pack(k, a.view(16), s);
    ASSERT_NE(pa, nullptr);
    const std::vector<float> x = random_acts(3, 512, 9);
    TensorView bv = b.view(16);
    const std::vector<float> want = run(k, s, bv, x, 3);
    bv.packed = pa.get();
    EXPECT_EQ(std::memcmp(run(k, s, bv, x, 3).data(), want.data(), want.size() * 4), 0);
    TensorView first8 = a.view(8);
    const std::vector<float> want8 = run(k, s, first8, x, 3);
    first8.packed = pa.get();
    EXPECT_EQ(std::memcmp(run(k, s, first8, x, 3).data(), want8.data(), want8.size() * 4), 0);
}

}  // namespace
}  // namespace loom::kernels
