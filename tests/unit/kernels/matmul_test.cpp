// The matmul family (matmul, matmul_id, get_rows) on every weight type and every CPU variant (portable, avx2 and
// avx512 where the CPU has them), and the reference, against double-precision math written here independently:
//   (a) fast paired == ref paired up to f32 summation order (same integers), portable bit-exact: the harness's
//       cases (op_cases_matmul.cpp), with prefill-sized and rows_alone calls;
//   (b) ref paired == Σ dequant(w)·dequant(quant(x)) in double;
//   (c) ref f32 mode == Σ dequant(w)·x in double, and every variant's f32 mode against it;
// plus matmul_id against a loop of matmul, get_rows against dequantize_row, bit-exact AVX2 activation packers,
// and argument errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/half.h"
#include "core/thread_pool.h"
#include "formats/quant_layout.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/cpu/x86/avx2/matmul_avx2.h"
#include "kernels/ref/quant.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/registry.h"
#include "unit/kernels/matmul_testing.h"
#include "unit/kernels/op_harness.h"

namespace loom::kernels {
namespace {

using namespace testing_data;

std::vector<float> dequant_rows(DType t, const uint8_t* src, int64_t rows, int64_t cols) {
    std::vector<float> y(static_cast<size_t>(rows * cols));
    for (int64_t r = 0; r < rows; ++r)
        EXPECT_TRUE(ref::dequantize_row(t, src + r * row_bytes(t, cols), y.data() + r * cols, cols).ok());
    return y;
}

// What the paired mode sees of an activation row: quantized to the partner type, decoded back.
std::vector<float> paired_view(DType w, const float* x, int64_t n) {
    const DType act = paired_act_type(w);
    std::vector<uint8_t> q(static_cast<size_t>(row_bytes(act, n)));
    EXPECT_TRUE(ref::quantize_activations(act, x, q.data(), n).ok());
    return dequant_rows(act, q.data(), 1, n);
}

// Σ(got − want)² / Σ want².
double nmse(const std::vector<float>& got, const std::vector<float>& want) {
    double num = 0, den = 0;
    for (size_t i = 0; i < want.size(); ++i) {
        const double d = double(got[i]) - double(want[i]);
        num += d * d;
        den += double(want[i]) * double(want[i]);
    }
    return den > 0 ? num / den : num;
}

// y[t, o] = Σ_i w[o, i]·x[t, i] in double.
std::vector<float> matmul_double(const std::vector<float>& w, const std::vector<float>& x, int64_t n_out, int64_t n_tok,
                                 int64_t n_in) {
    std::vector<float> y(static_cast<size_t>(n_tok * n_out));
    for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t o = 0; o < n_out; ++o) {
            double s = 0;
            for (int64_t i = 0; i < n_in; ++i) s += double(w[size_t(o * n_in + i)]) * double(x[size_t(t * n_in + i)]);
            y[size_t(t * n_out + o)] = float(s);
        }
    return y;
}

// ---- implementations under test -------------------------------------------------------------------------------

struct Impl {
    std::string name;
    std::function<Status(const MatmulArgs&, Stream&)> matmul;
    std::function<Status(const MatmulIdArgs&, Stream&)> matmul_id;
    std::function<Status(const GetRowsArgs&, Stream&)> get_rows;
    bool exact_with_ref;  // same arithmetic as ref::matmul in paired mode
};

Impl variant(const cpu::MatmulKernels& k, bool exact) {
    return {std::string("cpu ") + k.name, [&k](const MatmulArgs& a, Stream& s) { return cpu::matmul_with(k, a, s); },
            [&k](const MatmulIdArgs& a, Stream& s) { return cpu::matmul_id_with(k, a, s); },
            [&k](const GetRowsArgs& a, Stream& s) { return cpu::get_rows_with(k, a, s); }, exact};
}

// ref, then every CPU variant this machine runs (kernels::variants; the portable one computes ref's bits).
std::vector<Impl> impls() {
    std::vector<Impl> v{{"ref", ref::matmul, ref::matmul_id, ref::get_rows, true}};
    for (const OpTable& t : variants(Backend::cpu))
        v.push_back({t.variant, t.matmul, t.matmul_id, t.get_rows, testing::is_portable(t)});
    return v;
}

const auto& kWeightTypes = kMatmulWeightTypes;
// ref paired vs double on the decoded operands. Q4_1/Q5_1 meet Q8_1's s, which is rounded to f16 (with the
// unrounded d): an approximation in the format itself, about 2^-11 of the offset term.
double ref_vs_double_tol(DType t) { return t == DType::q4_1 || t == DType::q5_1 ? 1e-5 : 1e-10; }

struct MatmulRun {
    std::vector<float> y;
    Status status;
};

MatmulRun run_matmul(const Impl& impl, Stream& s, const TensorView& w, const std::vector<float>& x, int64_t n_tok,
                     MatmulMode mode, bool rows_alone = false) {
    const int64_t n_in = w.dim(1), n_out = w.dim(0);
    MatmulRun r{std::vector<float>(static_cast<size_t>(n_tok * n_out), NAN), Ok{}};
    MatmulArgs a;
    a.w = w;
    a.x = TensorView::dense(x.data(), DType::f32, {n_tok, n_in});
    a.y = TensorView::dense(r.y.data(), DType::f32, {n_tok, n_out});
    a.mode = mode;
    a.rows_alone = rows_alone;
    r.status = impl.matmul(a, s);
    return r;
}

std::string case_name(const Impl& impl, DType t, int64_t n_tok, int64_t n_out, int64_t n_in) {
    return impl.name + " " + std::string(name(t)) + " n_tok=" + std::to_string(n_tok) +
           " n_out=" + std::to_string(n_out) + " n_in=" + std::to_string(n_in);
}

class MatmulTypes : public ::testing::TestWithParam<DType> {};
std::string type_name(const ::testing::TestParamInfo<DType>& p) { return std::string(name(p.param)); }

// (b) over the shape grid; (a) on the same grid is the harness's (op_cases_matmul.cpp).
TEST_P(MatmulTypes, PairedReferenceMatchesDouble) {
    const DType t = GetParam();
    for (int64_t n_in : n_in_grid(t)) {
        const Matrix w = random_matrix(t, 64, n_in, uint32_t(n_in));
        const std::vector<float> x = random_acts(33, n_in, uint32_t(n_in) + 1);
        const std::vector<float> wd = dequant_rows(t, w.bytes.data(), 64, n_in);
        std::vector<float> xq;
        for (int64_t r = 0; r < 33; ++r) {
            const auto row = paired_view(t, x.data() + r * n_in, n_in);
            xq.insert(xq.end(), row.begin(), row.end());
        }
        for (int64_t n_tok : {1, 7, 33}) {
            for (int64_t n_out : {1, 7, 64}) {
                const TensorView wv = w.view(n_out);
                Stream ref_stream;
                const MatmulRun want = run_matmul(impls()[0], ref_stream, wv, x, n_tok, MatmulMode::paired);
                ASSERT_TRUE(want.status.ok()) << want.status.error().message();
                // (b) the reference against double math on the decoded operands.
                const auto exact = matmul_double(wd, xq, n_out, n_tok, n_in);
                EXPECT_LE(nmse(want.y, exact), ref_vs_double_tol(t)) << case_name(impls()[0], t, n_tok, n_out, n_in);
            }
        }
    }
}

// (c) f32 mode: the reference against double math, every variant against the reference.
TEST_P(MatmulTypes, F32ModeMatchesDouble) {
    const DType t = GetParam();
    ThreadPool pool(2);
    Stream s;
    s.pool = &pool;
    for (int64_t n_in : n_in_grid(t)) {
        const Matrix w = random_matrix(t, 64, n_in, uint32_t(n_in) + 7);
        const std::vector<float> x = random_acts(33, n_in, uint32_t(n_in) + 8);
        const std::vector<float> wd = dequant_rows(t, w.bytes.data(), 64, n_in);
        for (int64_t n_tok : {1, 33}) {
            for (int64_t n_out : {7, 64}) {
                const auto exact = matmul_double(wd, x, n_out, n_tok, n_in);
                for (const Impl& impl : impls()) {
                    const MatmulRun got = run_matmul(impl, s, w.view(n_out), x, n_tok, MatmulMode::f32);
                    ASSERT_TRUE(got.status.ok()) << got.status.error().message();
                    // ref sums in double; the CPU variants in f32.
                    EXPECT_LE(nmse(got.y, exact), impl.name == "ref" ? 1e-13 : 1e-10)
                        << case_name(impl, t, n_tok, n_out, n_in);
                }
            }
        }
    }
}

// matmul_id equals one matmul per (token, slot) with the routed expert's matrix; rounded per row it is that
// one-token call's result bit for bit.
TEST_P(MatmulTypes, MatmulIdMatchesPerSlotMatmul) {
    const DType t = GetParam();
    const int64_t n_expert = 5, n_out = 24, n_in = info(t).block_elems == 256 ? 256 : 64, n_tok = 9, n_used = 3;
    const Matrix w = random_matrix(t, n_expert * n_out, n_in, 5);
    std::vector<int32_t> ids(static_cast<size_t>(n_tok * n_used));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7 + i / 3) % 4);  // expert 4 is never used
    ThreadPool pool(2);
    Stream s;
    s.pool = &pool;
    for (const int64_t n_x : {int64_t(1), n_used}) {
        const std::vector<float> x = random_acts(n_tok * n_x, n_in, 11);
        for (MatmulMode mode : {MatmulMode::paired, MatmulMode::f32}) {
            for (const Impl& impl : impls()) {
                std::vector<float> y(static_cast<size_t>(n_tok * n_used * n_out), NAN);
                MatmulIdArgs a;
                a.w = TensorView::dense(w.bytes.data(), t, {n_expert, n_out, n_in});
                a.x = TensorView::dense(x.data(), DType::f32, {n_tok, n_x, n_in});
                a.ids = TensorView::dense(ids.data(), DType::i32, {n_tok, n_used});
                a.y = TensorView::dense(y.data(), DType::f32, {n_tok, n_used, n_out});
                a.mode = mode;
                a.rounding = ExpertRounding::per_row;
                const Status st = impl.matmul_id(a, s);
                ASSERT_TRUE(st.ok()) << st.error().message();
                for (int64_t tk = 0; tk < n_tok; ++tk) {
                    for (int64_t u = 0; u < n_used; ++u) {
                        const int32_t e = ids[size_t(tk * n_used + u)];
                        const float* xr = x.data() + (tk * n_x + (n_x == 1 ? 0 : u)) * n_in;
                        const std::vector<float> xrow(xr, xr + n_in);
                        TensorView we =
                            TensorView::dense(w.bytes.data() + e * n_out * row_bytes(t, n_in), t, {n_out, n_in});
                        const MatmulRun want = run_matmul(impl, s, we, xrow, 1, mode);
                        const std::vector<float> got(y.begin() + (tk * n_used + u) * n_out,
                                                     y.begin() + (tk * n_used + u + 1) * n_out);
                        // Per row: the same impl's one-token call, so the same bits.
                        EXPECT_EQ(std::memcmp(got.data(), want.y.data(), got.size() * 4), 0)
                            << impl.name << " " << name(t) << " token " << tk << " slot " << u << " n_x=" << n_x;
                    }
                }
            }
        }
    }
}

// Rounded per matrix (ExpertRounding::per_matrix), an expert with many slots takes the prefill path while the
// others take the decode path, in one call.
TEST_P(MatmulTypes, MatmulIdMixesPrefillAndDecodeSizedExperts) {
    const DType t = GetParam();
    const int64_t n_expert = 4, n_out = 40, n_in = info(t).block_elems == 256 ? 256 : 96, n_tok = 37, n_used = 2;
    const Matrix w = random_matrix(t, n_expert * n_out, n_in, 21);
    std::vector<int32_t> ids(static_cast<size_t>(n_tok * n_used));
    for (int64_t tk = 0; tk < n_tok; ++tk) {
        ids[size_t(tk * n_used)] = 2;                                 // expert 2: every token (37 slots)
        ids[size_t(tk * n_used + 1)] = int32_t(tk % 5 == 0 ? 0 : 3);  // experts 0 and 3: 8 and 29 slots
    }
    const std::vector<float> x = random_acts(n_tok, n_in, 22);
    ThreadPool pool(2);
    Stream s;
    s.pool = &pool;
    for (const Impl& impl : impls()) {
        std::vector<float> y(static_cast<size_t>(n_tok * n_used * n_out), NAN);
        MatmulIdArgs a;
        a.w = TensorView::dense(w.bytes.data(), t, {n_expert, n_out, n_in});
        a.x = TensorView::dense(x.data(), DType::f32, {n_tok, 1, n_in});
        a.ids = TensorView::dense(ids.data(), DType::i32, {n_tok, n_used});
        a.y = TensorView::dense(y.data(), DType::f32, {n_tok, n_used, n_out});
        a.rounding = ExpertRounding::per_matrix;
        ASSERT_TRUE(impl.matmul_id(a, s).ok());
        // Against the reference, one slot at a time.
        std::vector<float> want(y.size());
        for (int64_t tk = 0; tk < n_tok; ++tk) {
            for (int64_t u = 0; u < n_used; ++u) {
                const int32_t e = ids[size_t(tk * n_used + u)];
                const std::vector<float> xrow(x.begin() + tk * n_in, x.begin() + (tk + 1) * n_in);
                Stream rs;
                const MatmulRun r =
                    run_matmul(impls()[0], rs,
                               TensorView::dense(w.bytes.data() + e * n_out * row_bytes(t, n_in), t, {n_out, n_in}),
                               xrow, 1, MatmulMode::paired);
                std::copy(r.y.begin(), r.y.end(), want.begin() + (tk * n_used + u) * n_out);
            }
        }
        EXPECT_LE(nmse(y, want), impl.exact_with_ref ? 0.0 : fast_tol(t)) << impl.name << " " << name(t);
    }
}

// get_rows decodes exactly what dequantize_row does, ids repeated and in any order.
TEST_P(MatmulTypes, GetRowsMatchesDequantize) {
    const DType t = GetParam();
    const int64_t n_rows = 13, d = info(t).block_elems == 256 ? 512 : 96;
    const Matrix table = random_matrix(t, n_rows, d, 3);
    const std::vector<int32_t> ids = {12, 0, 5, 5, 7, 1, 12};
    const auto want_all = dequant_rows(t, table.bytes.data(), n_rows, d);
    ThreadPool pool(2);
    Stream s;
    s.pool = &pool;
    for (const Impl& impl : impls()) {
        std::vector<float> y(ids.size() * size_t(d), NAN);
        GetRowsArgs a;
        a.table = table.view(n_rows);
        a.ids = TensorView::dense(ids.data(), DType::i32, {int64_t(ids.size())});
        a.y = TensorView::dense(y.data(), DType::f32, {int64_t(ids.size()), d});
        ASSERT_TRUE(impl.get_rows(a, s).ok());
        for (size_t i = 0; i < ids.size(); ++i)
            EXPECT_EQ(std::memcmp(y.data() + i * size_t(d), want_all.data() + size_t(ids[i]) * size_t(d),
                                  size_t(d) * 4),
                      0)
                << impl.name << " " << name(t) << " row " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(All, MatmulTypes, ::testing::ValuesIn(kWeightTypes), type_name);

// Blocks whose codes are all at an extreme, against activations all ±1 (quantized to ±127): every partial
// integer sum in a kernel reaches its largest magnitude, so a narrow accumulator would overflow here.
TEST_P(MatmulTypes, ExtremeCodesDoNotOverflow) {
    const DType t = GetParam();
    if (!info(t).quantized) GTEST_SKIP() << "no integer codes";
    const int64_t n_in = info(t).block_elems == 256 ? 512 : 64, n_out = 7, n_tok = 3;  // 4-row and 3-row tiles
    const int64_t rb = row_bytes(t, n_in), bb = info(t).block_bytes;
    // The f16 scale fields per type (offsets in the block) keep small finite values; all else is the pattern.
    std::vector<int> f16_at;
    switch (t) {
        case DType::q4_1:
        case DType::q5_1:
        case DType::q4_k:
        case DType::q5_k: f16_at = {0, 2}; break;
        case DType::q2_k: f16_at = {80, 82}; break;
        case DType::q3_k: f16_at = {108}; break;
        case DType::q6_k: f16_at = {208}; break;
        default: f16_at = {0}; break;
    }
    for (uint8_t pattern : {uint8_t(0xff), uint8_t(0x00), uint8_t(0x81), uint8_t(0x7f), uint8_t(0x88)}) {
        std::vector<uint8_t> w(static_cast<size_t>(rb * n_out), pattern);
        for (int64_t b = 0; b < n_out * rb / bb; ++b)
            for (int off : f16_at) {
                const uint16_t h = 0x2c00;  // 1/16
                std::memcpy(&w[size_t(b * bb + off)], &h, 2);
            }
        for (int mix = 0; mix < 3; ++mix) {  // all +1, all −1, and a pattern of both signs
            const float sign = mix == 1 ? -1.f : 1.f;
            std::vector<float> x(static_cast<size_t>(n_tok * n_in));
            for (size_t i = 0; i < x.size(); ++i) x[i] = (mix == 2 && i % 3 == 2 ? -sign : sign);
            const TensorView wv = TensorView::dense(w.data(), t, {n_out, n_in});
            Stream rs;
            const MatmulRun want = run_matmul(impls()[0], rs, wv, x, n_tok, MatmulMode::paired);
            for (const Impl& impl : impls()) {
                Stream s;
                const MatmulRun got = run_matmul(impl, s, wv, x, n_tok, MatmulMode::paired);
                ASSERT_TRUE(got.status.ok());
                EXPECT_LE(nmse(got.y, want.y), impl.exact_with_ref ? 0.0 : fast_tol(t))
                    << impl.name << " " << name(t) << " pattern " << int(pattern) << " activations " << mix;
            }
        }
    }
}

// ---- AVX-512: the AVX2 variant's bits ------------------------------------------------------------------------

MatmulRun run_variant(const cpu::MatmulKernels& k, Stream& s, const TensorView& w, const std::vector<float>& x,
                      int64_t n_tok, bool rows_alone) {
    return run_matmul(variant(k, false), s, w, x, n_tok, MatmulMode::paired, rows_alone);
}

// The AVX-512 tiles exist to be faster, not different: every output equals the AVX2 variant's bit for bit (which
// are llama.cpp's AVX2 bits), over row counts that fill 8- and 16-row groups and leave remainders, token counts on
// both sides of every recipe switch (1, 4-token groups, 8+), split row ranges (3 threads), and decode rows alone.
TEST(MatmulAvx512, SameBitsAsAvx2) {
    if (!cpu_features().avx2_kernels() || !cpu_features().avx512_kernels()) GTEST_SKIP() << "no AVX-512 on this CPU";
    const cpu::MatmulKernels& k2 = *cpu::avx2_matmul_kernels();
    const cpu::MatmulKernels& k5 = *cpu::avx512_matmul_kernels();
    ThreadPool pool(3);
    Stream s;
    s.pool = &pool;
    for (DType t : kWeightTypes)
        for (int64_t n_in : n_in_grid(t))
            for (int64_t n_out : {16, 40, 67}) {
                const Matrix w = random_matrix(t, n_out, n_in, uint32_t(n_in + n_out));
                for (int64_t n_tok : {1, 2, 3, 4, 5, 8, 9, 13, 33}) {
                    const std::vector<float> x = random_acts(n_tok, n_in, uint32_t(n_tok));
                    for (bool alone : {false, true}) {
                        const MatmulRun want = run_variant(k2, s, w.view(n_out), x, n_tok, alone);
                        const MatmulRun got = run_variant(k5, s, w.view(n_out), x, n_tok, alone);
                        ASSERT_TRUE(got.status.ok() && want.status.ok());
                        for (size_t i = 0; i < got.y.size(); ++i)
                            ASSERT_EQ(f32_to_bits(got.y[i]), f32_to_bits(want.y[i]))
                                << name(t) << " n_out=" << n_out << " n_tok=" << n_tok << " n_in=" << n_in
                                << " alone=" << alone << " output " << i << ": " << got.y[i] << " vs " << want.y[i];
                    }
                }
            }
}

// Extreme codes (every bit pattern's edge: −128, 127, 0, 15, 31) meet ±1 activations without overflow and with
// the AVX2 variant's bits.
TEST(MatmulAvx512, ExtremeCodesSameBitsAsAvx2) {
    if (!cpu_features().avx2_kernels() || !cpu_features().avx512_kernels()) GTEST_SKIP() << "no AVX-512 on this CPU";
    for (DType t : {DType::q4_0, DType::q5_0, DType::q8_0, DType::iq4_nl, DType::q4_k}) {
        const int64_t n_in = t == DType::q4_k ? 512 : 96, n_out = 40, n_tok = 5, bb = info(t).block_bytes;
        for (uint8_t pattern : {uint8_t(0xff), uint8_t(0x00), uint8_t(0x80), uint8_t(0x81), uint8_t(0x7f)}) {
            std::vector<uint8_t> w(static_cast<size_t>(row_bytes(t, n_in) * n_out), pattern);
            for (size_t b = 0; b < w.size(); b += size_t(bb)) {
                const uint16_t h = 0x2c00;  // 1/16 (d, and Q4_K's dmin)
                std::memcpy(&w[b], &h, 2);
                if (t == DType::q4_k) std::memcpy(&w[b + 2], &h, 2);
            }
            std::vector<float> x(static_cast<size_t>(n_tok * n_in));
            for (size_t i = 0; i < x.size(); ++i) x[i] = i % 3 == 2 ? -1.f : 1.f;
            const TensorView wv = TensorView::dense(w.data(), t, {n_out, n_in});
            Stream s;
            const MatmulRun want = run_variant(*cpu::avx2_matmul_kernels(), s, wv, x, n_tok, false);
            const MatmulRun got = run_variant(*cpu::avx512_matmul_kernels(), s, wv, x, n_tok, false);
            ASSERT_TRUE(got.status.ok() && want.status.ok());
            EXPECT_EQ(std::memcmp(got.y.data(), want.y.data(), got.y.size() * 4), 0)
                << name(t) << " pattern " << int(pattern);
        }
    }
}

// ---- the op table ----------------------------------------------------------------------------------------------

TEST(Matmul, CpuTableHasTheFamilyAtItsWidestVariant) {
    const OpTable* t = op_table(Backend::cpu);
    ASSERT_NE(t, nullptr);
    EXPECT_NE(t->matmul, nullptr);
    EXPECT_NE(t->matmul_id, nullptr);
    EXPECT_NE(t->get_rows, nullptr);
    // Through the table, results equal the widest kernels' own for this CPU.
    const CpuFeatures& f = cpu_features();
    const cpu::MatmulKernels& widest = !f.avx2_kernels()    ? cpu::portable_matmul_kernels()
                                       : f.avx512_kernels() ? *cpu::avx512_matmul_kernels()
                                                            : *cpu::avx2_matmul_kernels();
    const Matrix w = random_matrix(DType::q4_0, 16, 64, 1);
    const std::vector<float> x = random_acts(3, 64, 2);
    Stream s;
    const Impl table_impl{"cpu table", t->matmul, t->matmul_id, t->get_rows, false};
    const MatmulRun got = run_matmul(table_impl, s, w.view(16), x, 3, MatmulMode::paired);
    ASSERT_TRUE(got.status.ok());
    const MatmulRun want = run_matmul(variant(widest, false), s, w.view(16), x, 3, MatmulMode::paired);
    EXPECT_EQ(std::memcmp(got.y.data(), want.y.data(), got.y.size() * 4), 0) << widest.name;
}

TEST(Matmul, TypesWithoutAnIntegerPathUseF32) {
    // q8_k has a dequantizer but no paired dot: paired mode falls back to the f32 path everywhere.
    const Matrix w = random_matrix(DType::q8_k, 5, 256, 4);
    const std::vector<float> x = random_acts(2, 256, 5);
    const auto exact = matmul_double(dequant_rows(DType::q8_k, w.bytes.data(), 5, 256), x, 5, 2, 256);
    for (const Impl& impl : impls()) {
        Stream s;
        const MatmulRun got = run_matmul(impl, s, w.view(5), x, 2, MatmulMode::paired);
        ASSERT_TRUE(got.status.ok()) << impl.name;
        EXPECT_LE(nmse(got.y, exact), 1e-10) << impl.name;
    }
}

TEST(Matmul, StridedRowsAndRank3Activations) {
    // x and y as [2, 3, n] views, x with padded rows: the outer shape is kept and strides are honoured.
    const int64_t n_in = 64, n_out = 8;
    const Matrix w = random_matrix(DType::q8_0, n_out, n_in, 6);
    std::vector<float> packed = random_acts(6, n_in, 7);
    std::vector<float> padded(static_cast<size_t>(6 * (n_in + 8)), 1e30f);
    for (int64_t r = 0; r < 6; ++r)
        std::memcpy(padded.data() + r * (n_in + 8), packed.data() + r * n_in, size_t(n_in) * 4);
    for (const Impl& impl : impls()) {
        Stream s;
        const MatmulRun want = run_matmul(impl, s, w.view(n_out), packed, 6, MatmulMode::paired);
        std::vector<float> y(static_cast<size_t>(6 * n_out), NAN);
        MatmulArgs a;
        a.w = w.view(n_out);
        a.x = TensorView::dense(padded.data(), DType::f32, {2, 3, n_in});
        a.x.stride[1] = (n_in + 8) * 4;
        a.x.stride[0] = 3 * a.x.stride[1];
        a.y = TensorView::dense(y.data(), DType::f32, {2, 3, n_out});
        ASSERT_TRUE(impl.matmul(a, s).ok()) << impl.name;
        EXPECT_EQ(std::memcmp(y.data(), want.y.data(), y.size() * 4), 0) << impl.name;
    }
}

// ---- errors: bad arguments are Errors, never crashes -----------------------------------------------------------

TEST(MatmulErrors, ShapesTypesAndIds) {
    const Matrix w = random_matrix(DType::q4_0, 4, 64, 1);
    std::vector<float> x(64 * 2, 1.f), y(16, 0.f), big(4096, 0.f);
    for (const Impl& impl : impls()) {
        Stream s;
        auto args = [&] {
            MatmulArgs a;
            a.w = w.view(4);
            a.x = TensorView::dense(x.data(), DType::f32, {2, 64});
            a.y = TensorView::dense(y.data(), DType::f32, {2, 4});
            return a;
        };
        ASSERT_TRUE(impl.matmul(args(), s).ok()) << impl.name;
        {
            MatmulArgs a = args();
            a.x = TensorView::dense(x.data(), DType::f32, {4, 32});  // n_in mismatch
            const Status st = impl.matmul(a, s);
            ASSERT_FALSE(st.ok()) << impl.name;
            EXPECT_NE(st.error().message().find("x has shape [4, 32]"), std::string::npos) << st.error().message();
        }
        {
            MatmulArgs a = args();
            a.y = TensorView::dense(y.data(), DType::f32, {2, 5});
            EXPECT_FALSE(impl.matmul(a, s).ok()) << impl.name;
        }
        {
            MatmulArgs a = args();
            a.x.dtype = DType::f16;
            EXPECT_FALSE(impl.matmul(a, s).ok()) << impl.name;
        }
        {
            MatmulArgs a = args();
            a.w.shape[1] = 48;  // not a whole number of blocks
            a.x = TensorView::dense(x.data(), DType::f32, {2, 48});
            const Status st = impl.matmul(a, s);
            ASSERT_FALSE(st.ok()) << impl.name;
            EXPECT_NE(st.error().message().find("block size"), std::string::npos) << st.error().message();
        }
        {
            MatmulArgs a = args();
            a.w.dtype = DType::iq2_xxs;  // no dequantizer
            const Status st = impl.matmul(a, s);
            ASSERT_FALSE(st.ok()) << impl.name;
            EXPECT_EQ(st.error().code(), ErrorCode::unsupported);
        }
        {
            MatmulArgs a = args();
            a.w = TensorView{};
            EXPECT_FALSE(impl.matmul(a, s).ok()) << impl.name;
        }

        // matmul_id: ids out of range (negative and >= n_expert), and mismatched shapes.
        std::vector<int32_t> ids = {0, 1, 1, 0};
        auto id_args = [&] {
            MatmulIdArgs a;
            a.w = TensorView::dense(w.bytes.data(), DType::q4_0, {2, 2, 64});
            a.x = TensorView::dense(x.data(), DType::f32, {2, 1, 64});
            a.ids = TensorView::dense(ids.data(), DType::i32, {2, 2});
            a.y = TensorView::dense(big.data(), DType::f32, {2, 2, 2});
            return a;
        };
        ASSERT_TRUE(impl.matmul_id(id_args(), s).ok()) << impl.name;
        for (int32_t bad : {-1, 2, 1000000}) {
            ids[3] = bad;
            const Status st = impl.matmul_id(id_args(), s);
            ASSERT_FALSE(st.ok()) << impl.name << " id " << bad;
            EXPECT_EQ(st.error().code(), ErrorCode::out_of_range);
            EXPECT_NE(st.error().message().find(std::to_string(bad)), std::string::npos) << st.error().message();
        }
        ids[3] = 0;
        {
            MatmulIdArgs a = id_args();
            a.x = TensorView::dense(big.data(), DType::f32, {2, 3, 64});  // n_x neither 1 nor n_used
            EXPECT_FALSE(impl.matmul_id(a, s).ok()) << impl.name;
        }
        {
            MatmulIdArgs a = id_args();
            a.y = TensorView::dense(big.data(), DType::f32, {2, 2, 3});
            EXPECT_FALSE(impl.matmul_id(a, s).ok()) << impl.name;
        }
        {
            MatmulIdArgs a = id_args();
            a.ids.dtype = DType::f32;
            EXPECT_FALSE(impl.matmul_id(a, s).ok()) << impl.name;
        }

        // get_rows: ids out of range, y of the wrong shape.
        std::vector<int32_t> rows = {3, 0};
        auto gr_args = [&] {
            GetRowsArgs a;
            a.table = w.view(4);
            a.ids = TensorView::dense(rows.data(), DType::i32, {2});
            a.y = TensorView::dense(big.data(), DType::f32, {2, 64});
            return a;
        };
        ASSERT_TRUE(impl.get_rows(gr_args(), s).ok()) << impl.name;
        rows[1] = 4;
        {
            const Status st = impl.get_rows(gr_args(), s);
            ASSERT_FALSE(st.ok()) << impl.name;
            EXPECT_EQ(st.error().code(), ErrorCode::out_of_range);
        }
        rows[1] = -3;
        EXPECT_FALSE(impl.get_rows(gr_args(), s).ok()) << impl.name;
        rows[1] = 0;
        {
            GetRowsArgs a = gr_args();
            a.y = TensorView::dense(big.data(), DType::f32, {2, 32});
            EXPECT_FALSE(impl.get_rows(a, s).ok()) << impl.name;
        }
    }
}

// ---- AVX2 activation packers: the reference's integers and scales, bit for bit -----------------------------------

// Rows that hit the rounding edge cases: exact halves after scaling, ties for the largest magnitude with
// opposite signs, all-zero blocks, tiny values.
std::vector<float> tricky_row(int64_t n, uint32_t seed) {
    std::vector<float> x = gaussian(n, seed);
    for (int64_t b = 0; b < n / 32; ++b) {
        float* p = x.data() + 32 * b;
        switch (b % 6) {
            case 0:  // amax 127: d = 1, so x·(1/d) = x and halves are exact ties
                for (int j = 0; j < 32; ++j) p[j] = float(j % 2 ? -1 : 1) * (float(j) + 0.5f);
                p[31] = 127.f;
                break;
            case 1: std::fill(p, p + 32, 0.f); break;
            case 2: p[3] = -9.f, p[20] = 9.f; break;  // equal magnitudes, opposite signs
            case 3:
                for (int j = 0; j < 32; ++j) p[j] *= 1e-30f;
                break;
            default: break;
        }
    }
    return x;
}

// Activations are quantized as llama.cpp's x86 CPU backend does: id = 127/amax, ties to even (an exact
// x.5 with amax = 127 rounds to the even neighbour), unlike the reference rule used for weights.
TEST(QuantizeActivations, Q8FollowsGgmlX86Rule) {
    std::vector<float> x(32, 0.f);
    const float halves[] = {0.5f, 1.5f, 2.5f, -0.5f, -1.5f, -2.5f};
    for (int j = 0; j < 6; ++j) x[size_t(j)] = halves[j];
    x[31] = 127.f;
    std::vector<uint8_t> act(size_t(row_bytes(DType::q8_0, 32))), wgt(act.size());
    ASSERT_TRUE(ref::quantize_activations(DType::q8_0, x.data(), act.data(), 32).ok());
    ASSERT_TRUE(ref::quantize_row(DType::q8_0, x.data(), wgt.data(), 32).ok());
    const auto* qa = reinterpret_cast<const int8_t*>(act.data() + 2);  // after the f16 scale
    const auto* qw = reinterpret_cast<const int8_t*>(wgt.data() + 2);
    const int even[] = {0, 2, 2, 0, -2, -2}, away[] = {1, 2, 3, -1, -2, -3};
    for (int j = 0; j < 6; ++j) {
        EXPECT_EQ(qa[j], even[j]) << "activation " << halves[j];
        EXPECT_EQ(qw[j], away[j]) << "weight " << halves[j];
    }
}

TEST(MatmulAvx2Pack, Q8IntegersAndScalesMatchReference) {
    if (!cpu_features().avx2_kernels()) GTEST_SKIP() << "no AVX2 on this CPU";
    for (int64_t n : {int64_t(32), int64_t(256), int64_t(2048)}) {
        for (uint32_t seed = 0; seed < 4; ++seed) {
            const std::vector<float> x = seed == 0 ? tricky_row(n, 1) : random_acts(1, n, seed);
            const int64_t nb = n / 32;
            alignas(64) static uint8_t packed[1 << 16];
            for (bool q8_1 : {false, true}) {
                const DType t = q8_1 ? DType::q8_1 : DType::q8_0;
                std::vector<uint8_t> want(static_cast<size_t>(row_bytes(t, n)));
                ASSERT_TRUE(ref::quantize_activations(t, x.data(), want.data(), n).ok());
                (q8_1 ? cpu::avx2::pack_a8_q8_1 : cpu::avx2::pack_a8_q8_0)(x.data(), packed, n);
                const auto* d = reinterpret_cast<const float*>(packed + 32 * nb);
                const auto* s = d + nb;
                const auto* sum = reinterpret_cast<const int32_t*>(s + nb);
                for (int64_t b = 0; b < nb; ++b) {
                    const uint8_t* blk = want.data() + b * info(t).block_bytes;
                    const int off = q8_1 ? 4 : 2;
                    EXPECT_EQ(std::memcmp(packed + 32 * b, blk + off, 32), 0)
                        << name(t) << " block " << b << " seed " << seed;
                    uint16_t dh, sh;
                    std::memcpy(&dh, blk, 2);
                    EXPECT_EQ(f32_to_bits(d[b]), f32_to_bits(f16_to_f32(dh))) << name(t) << " block " << b;
                    int isum = 0;
                    for (int j = 0; j < 32; ++j) isum += int8_t(blk[off + j]);
                    EXPECT_EQ(sum[b], isum);
                    if (q8_1) {
                        std::memcpy(&sh, blk + 2, 2);
                        EXPECT_EQ(f32_to_bits(s[b]), f32_to_bits(f16_to_f32(sh))) << "q8_1 s, block " << b;
                    }
                }
            }
        }
    }
}

TEST(MatmulAvx2Pack, Q8KIntegersAndScalesMatchReference) {
    if (!cpu_features().avx2_kernels()) GTEST_SKIP() << "no AVX2 on this CPU";
    for (uint32_t seed = 0; seed < 4; ++seed) {
        const int64_t n = 1024, nb = n / 256;
        std::vector<float> x = seed == 0 ? tricky_row(n, 3) : random_acts(1, n, seed + 10);
        if (seed == 1) {  // max −127 exactly: iscale = 1, and x.5 values are ties (half to even here)
            for (int j = 0; j < 256; ++j) x[size_t(j)] = float(j % 50) + 0.5f;
            x[17] = -127.f;
        }
        std::vector<uint8_t> want(static_cast<size_t>(row_bytes(DType::q8_k, n)));
        ASSERT_TRUE(ref::quantize_row(DType::q8_k, x.data(), want.data(), n).ok());
        alignas(64) static uint8_t packed[1 << 14];
        cpu::avx2::pack_a8k(x.data(), packed, n);
        for (int64_t b = 0; b < nb; ++b) {
            formats::BlockQ8_K blk;
            std::memcpy(&blk, want.data() + b * int64_t(sizeof(blk)), sizeof(blk));
            EXPECT_EQ(std::memcmp(packed + 256 * b, blk.qs, 256), 0) << "block " << b << " seed " << seed;
            float d;
            std::memcpy(&d, packed + 256 * nb + 4 * b, 4);
            EXPECT_EQ(f32_to_bits(d), f32_to_bits(blk.d)) << "block " << b;
            EXPECT_EQ(std::memcmp(packed + 260 * nb + 32 * b, blk.bsums, 32), 0) << "block " << b;
        }
    }
}

// The AVX2 weight decoders of the f32 path give the reference dequantizer's floats, bit for bit.
TEST(MatmulAvx2Pack, WeightDecodersMatchReference) {
    if (!cpu_features().avx2_kernels()) GTEST_SKIP() << "no AVX2 on this CPU";
    const cpu::MatmulKernels& k = *cpu::avx2_matmul_kernels();
    for (DType t : kWeightTypes) {
        const cpu::TypeKernels* tk = k.find(t);
        if (!tk || !tk->dequant_f32) continue;
        const int64_t n = 1024, blk = info(t).block_elems;
        const Matrix w = random_matrix(t, 1, n, 8);
        const auto want = dequant_rows(t, w.bytes.data(), 1, n);
        std::vector<float> got(static_cast<size_t>(n), NAN);
        // Two ranges: the whole row, and a middle slice (the k panels of the f32 path).
        tk->dequant_f32(w.bytes.data(), 0, n, got.data());
        // The claim is bit equality: compare the floats' bytes (NaN payloads and signed zeros included).
        // NOLINTNEXTLINE(bugprone-suspicious-memory-comparison)
        EXPECT_EQ(std::memcmp(got.data(), want.data(), size_t(n) * 4), 0) << name(t);
        const int64_t k0 = blk == 256 ? 256 : 64, k1 = blk == 256 ? 768 : 96;
        std::fill(got.begin(), got.end(), NAN);
        tk->dequant_f32(w.bytes.data(), k0, k1, got.data());
        EXPECT_EQ(std::memcmp(got.data(), want.data() + k0, size_t(k1 - k0) * 4), 0) << name(t) << " slice";
    }
}

TEST(MatmulAvx2Pack, HalfRoundingMatchesReference) {
    if (!cpu_features().avx2_kernels()) GTEST_SKIP() << "no AVX2 on this CPU";
    std::vector<float> x = gaussian(37, 5, 1000.f);
    x[0] = 65519.f, x[1] = 65520.f, x[2] = 1e-7f, x[3] = -0.f, x[4] = 3e38f, x[5] = INFINITY;
    x[6] = bits_to_f32(0x3f808000u);  // a bf16 tie
    std::vector<float> f16(x.size()), bf16(x.size());
    cpu::avx2::pack_af_f16(x.data(), reinterpret_cast<uint8_t*>(f16.data()), int64_t(x.size()));
    cpu::avx2::pack_af_bf16(x.data(), reinterpret_cast<uint8_t*>(bf16.data()), int64_t(x.size()));
    for (size_t i = 0; i < x.size(); ++i) {
        EXPECT_EQ(f32_to_bits(f16[i]), f32_to_bits(f16_to_f32(f32_to_f16(x[i])))) << "f16 " << x[i];
        EXPECT_EQ(f32_to_bits(bf16[i]), f32_to_bits(bf16_to_f32(f32_to_bf16(x[i])))) << "bf16 " << x[i];
    }
}

}  // namespace
}  // namespace loom::kernels
