// Harness cases of the matmul family: every weight type with a dequantizer × decode- and prefill-sized shapes.
// Paired mode: the portable variant runs the reference's integer dots (bit-exact), the SIMD ones differ in the
// order of f32 additions and, on prefill-sized jobs, round per product (fast_tol). f32 mode: the reference sums
// in double, the CPU in f32.
#include "unit/kernels/matmul_testing.h"
#include "unit/kernels/op_cases.h"

namespace loom::kernels::testing {
namespace {

using testing_data::fast_tol;
using testing_data::kMatmulWeightTypes;
using testing_data::n_in_grid;
using testing_data::random_acts;

std::string dims(DType t, int64_t n_tok, int64_t n_out, int64_t n_in) {
    return std::string(name(t)) + " n_tok=" + std::to_string(n_tok) + " n_out=" + std::to_string(n_out) +
           " n_in=" + std::to_string(n_in);
}

OpCase<MatmulArgs> matmul_case(DType t, int64_t n_tok, int64_t n_out, int64_t n_in, uint32_t seed, MatmulMode mode,
                               bool rows_alone) {
    std::string label =
        dims(t, n_tok, n_out, n_in) + " w_seed=" + std::to_string(seed) + " x_seed=" + std::to_string(seed + 1);
    if (mode == MatmulMode::f32) label += " mode=f32";
    if (rows_alone) label += " rows_alone";
    OpCase<MatmulArgs> c{label, [=](CaseData& d) {
                             MatmulArgs a;
                             a.w = d.quantized(t, n_out, n_in, seed);
                             a.x = d.values({n_tok, n_in}, random_acts(n_tok, n_in, seed + 1));
                             a.y = d.output(DType::f32, {n_tok, n_out});
                             a.mode = mode;
                             a.rows_alone = rows_alone;
                             return a;
                         }};
    // f32 mode: f32 sums against the reference's double ones.
    c.tol = within_nmse(mode == MatmulMode::f32 ? 1e-10 : fast_tol(t));
    if (mode == MatmulMode::paired) c.portable = bit_exact();
    return c;
}

// Token t routes its slot s to expert (7i + i/3) mod 4 for i = t·n_used + s: expert 4 is never used.
std::vector<int32_t> spread_ids(int64_t n_tok, int64_t n_used) {
    std::vector<int32_t> ids(size_t(n_tok * n_used));
    for (size_t i = 0; i < ids.size(); ++i) ids[i] = int32_t((i * 7 + i / 3) % 4);
    return ids;
}

// Expert 2 for every token, then experts 0 and 3 (8 and 29 slots): prefill- and decode-sized experts in one call.
std::vector<int32_t> mixed_ids(int64_t n_tok) {
    std::vector<int32_t> ids(size_t(n_tok * 2));
    for (int64_t t = 0; t < n_tok; ++t) ids[size_t(2 * t)] = 2, ids[size_t(2 * t + 1)] = int32_t(t % 5 == 0 ? 0 : 3);
    return ids;
}

struct IdShape {
    int64_t n_expert, n_out, n_in, n_tok, n_used, n_x;
    bool mixed;  // mixed_ids, else spread_ids
};

OpCase<MatmulIdArgs> matmul_id_case(DType t, IdShape sh, MatmulMode mode, ExpertRounding rounding) {
    const std::string label = dims(t, sh.n_tok, sh.n_out, sh.n_in) + " n_expert=" + std::to_string(sh.n_expert) +
                              " n_used=" + std::to_string(sh.n_used) + " n_x=" + std::to_string(sh.n_x) +
                              (sh.mixed ? " ids=mixed" : " ids=spread") + (mode == MatmulMode::f32 ? " mode=f32" : "") +
                              (rounding == ExpertRounding::per_matrix ? " per_matrix" : " per_row");
    OpCase<MatmulIdArgs> c{
        label, [=](CaseData& d) {
            MatmulIdArgs a;
            a.w = d.quantized(t, sh.n_expert * sh.n_out, sh.n_in, 5);
            a.w = TensorView::dense(a.w.data, t, {sh.n_expert, sh.n_out, sh.n_in});
            a.x = d.values({sh.n_tok, sh.n_x, sh.n_in}, random_acts(sh.n_tok * sh.n_x, sh.n_in, 11));
            a.ids = d.ids({sh.n_tok, sh.n_used}, sh.mixed ? mixed_ids(sh.n_tok) : spread_ids(sh.n_tok, sh.n_used));
            a.y = d.output(DType::f32, {sh.n_tok, sh.n_used, sh.n_out});
            a.mode = mode;
            a.rounding = rounding;
            return a;
        }};
    c.tol = within_nmse(mode == MatmulMode::f32 ? 1e-10 : fast_tol(t));
    if (mode == MatmulMode::paired) c.portable = bit_exact();
    return c;
}

// Types with a dequantizer but no paired dot (activation formats): every implementation dequantizes the rows and
// takes the f32 path, where the reference sums in double.
const DType kF32PathTypes[] = {DType::q8_1, DType::q8_k};

}  // namespace

std::vector<OpCase<MatmulArgs>> matmul_cases() {
    std::vector<OpCase<MatmulArgs>> v;
    for (DType t : kMatmulWeightTypes) {
        for (int64_t n_in : n_in_grid(t))
            for (int64_t n_tok : {1, 7, 33})
                for (int64_t n_out : {1, 7, 64})
                    v.push_back(matmul_case(t, n_tok, n_out, n_in, uint32_t(n_in), MatmulMode::paired, false));
        const int64_t n_in = n_in_grid(t).back();
        // Prefill-sized: several row and token chunks per call, n_tok not a multiple of any tile.
        v.push_back(matmul_case(t, 131, 150, info(t).block_elems == 256 ? 512 : 320, 99, MatmulMode::paired, false));
        // Rows of several sequences decoded together, each rounded as a call of its own.
        v.push_back(matmul_case(t, 9, 40, n_in, 3, MatmulMode::paired, true));
        for (int64_t n_tok : {1, 33}) v.push_back(matmul_case(t, n_tok, 64, n_in, 7, MatmulMode::f32, false));
    }
    for (DType t : kF32PathTypes)
        for (int64_t n_tok : {1, 33})
            for (MatmulMode mode : {MatmulMode::paired, MatmulMode::f32}) {
                OpCase<MatmulArgs> c = matmul_case(t, n_tok, 64, 512, 9, mode, false);
                c.tol = within_nmse(1e-10);
                c.portable.reset();
                v.push_back(c);
            }
    return v;
}

std::vector<OpCase<MatmulIdArgs>> matmul_id_cases() {
    std::vector<OpCase<MatmulIdArgs>> v;
    for (DType t : kMatmulWeightTypes) {
        const bool k = info(t).block_elems == 256;
        for (ExpertRounding r : {ExpertRounding::per_row, ExpertRounding::per_matrix}) {
            for (int64_t n_x : {1, 3})
                for (MatmulMode mode : {MatmulMode::paired, MatmulMode::f32})
                    v.push_back(matmul_id_case(t, {5, 24, k ? 256 : 64, 9, 3, n_x, false}, mode, r));
            v.push_back(matmul_id_case(t, {4, 40, k ? 256 : 96, 37, 2, 1, true}, MatmulMode::paired, r));
        }
    }
    return v;
}

std::vector<OpCase<GetRowsArgs>> get_rows_cases() {
    std::vector<DType> types(std::begin(kMatmulWeightTypes), std::end(kMatmulWeightTypes));
    types.insert(types.end(), std::begin(kF32PathTypes), std::end(kF32PathTypes));
    std::vector<OpCase<GetRowsArgs>> v;
    for (DType t : types) {
        const int64_t d = info(t).block_elems == 256 ? 512 : 96;
        v.push_back({std::string(name(t)) + " table=[13, " + std::to_string(d) + "] seed=3 ids={12,0,5,5,7,1,12}",
                     [=](CaseData& c) {
                         GetRowsArgs a;
                         a.table = c.quantized(t, 13, d, 3);
                         a.ids = c.ids({7}, {12, 0, 5, 5, 7, 1, 12});
                         a.y = c.output(DType::f32, {7, d});
                         return a;
                     }});
    }
    return v;
}

TEST(OpHarness, Matmul) { expect_matches_ref("matmul", &OpTable::matmul, matmul_cases()); }
TEST(OpHarness, MatmulId) { expect_matches_ref("matmul_id", &OpTable::matmul_id, matmul_id_cases()); }
TEST(OpHarness, GetRows) { expect_matches_ref("get_rows", &OpTable::get_rows, get_rows_cases()); }

}  // namespace loom::kernels::testing
