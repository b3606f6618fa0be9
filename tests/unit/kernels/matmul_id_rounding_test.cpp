// Expert matmul rounding (ExpertRounding): the default follows llama.cpp's CPU mul_mat_id, which computes each
// routed row alone except that an expert with 8+ rows of a K-quant type its tiled GEMM takes (Q2_K..Q6_K, IQ4_XS,
// Q4_K when not repacked) goes through that GEMM; per_row computes every row alone always. Checked bit for bit
// against dense matmul calls of the same rows on the AVX2 variant (whose recipes are llama.cpp's), with and
// without packed weights.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/cpu_features.h"
#include "core/half.h"
#include "core/thread_pool.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/cpu/weight_pack.h"
#include "unit/kernels/matmul_testing.h"

namespace loom::kernels {
namespace {

using namespace testing_data;

// Expert 0 gets 10 rows (enough for the tiled GEMM), expert 1 gets 3, expert 2 none.
constexpr int64_t kTok = 13, kUsed = 1, kExperts = 3;
std::vector<int32_t> routing() {
    std::vector<int32_t> ids(kTok);
    for (int64_t t = 0; t < kTok; ++t) ids[size_t(t)] = t % 4 == 1 ? 1 : 0;
    return ids;
}

bool tiled_type(DType t, int64_t n_out) {
    return t == DType::q2_k || t == DType::q3_k || t == DType::q5_k || t == DType::q6_k || t == DType::iq4_xs ||
           (t == DType::q4_k && n_out % 8 != 0);
}

std::vector<float> dense(const cpu::MatmulKernels& k, Stream& s, const TensorView& w, const std::vector<float>& x,
                         int64_t n_tok) {
    std::vector<float> y(static_cast<size_t>(n_tok * w.dim(0)));
    MatmulArgs a;
    a.w = w;
    a.x = TensorView::dense(x.data(), DType::f32, {n_tok, w.dim(1)});
    a.y = TensorView::dense(y.data(), DType::f32, {n_tok, w.dim(0)});
    EXPECT_TRUE(cpu::matmul_with(k, a, s).ok());
    return y;
}

TEST(MatmulIdRounding, FollowsLlamaCppMulMatId) {
    if (!cpu_features().avx2_kernels() || !cpu::avx2_matmul_kernels()) GTEST_SKIP() << "no AVX2 on this CPU";
    const cpu::MatmulKernels& k = *cpu::avx2_matmul_kernels();
    ThreadPool pool(2);
    Stream s;
    s.pool = &pool;
    const std::vector<int32_t> ids = routing();
    for (DType t : {DType::q6_k, DType::q5_k, DType::q3_k, DType::q4_k, DType::q8_0, DType::q4_0, DType::f16}) {
        for (int64_t n_out : {int64_t(20), int64_t(24)}) {  // Q4_K: not repacked, repacked
            const int64_t n_in = 512;
            const Matrix m = random_matrix(t, kExperts * n_out, n_in, uint32_t(n_out));
            const std::vector<float> x = random_acts(kTok, n_in, 3);
            const TensorView w3 = TensorView::dense(m.bytes.data(), t, {kExperts, n_out, n_in});
            auto packed = cpu::pack_weight_with(k, w3, s);
            ASSERT_TRUE(packed.ok());
            for (bool use_packed : {false, true}) {
                if (use_packed && *packed == nullptr) continue;
                for (ExpertRounding r : {ExpertRounding::mul_mat_id, ExpertRounding::per_row}) {
                    std::vector<float> y(static_cast<size_t>(kTok * n_out), NAN);
                    MatmulIdArgs a;
                    a.w = w3;
                    if (use_packed) a.w.packed = packed->get();
                    a.x = TensorView::dense(x.data(), DType::f32, {kTok, 1, n_in});
                    a.ids = TensorView::dense(ids.data(), DType::i32, {kTok, kUsed});
                    a.y = TensorView::dense(y.data(), DType::f32, {kTok, kUsed, n_out});
                    a.rounding = r;
                    ASSERT_TRUE(cpu::matmul_id_with(k, a, s).ok());
                    for (int32_t e : {0, 1}) {
                        std::vector<float> rows;
                        std::vector<int64_t> where;
                        for (int64_t tok = 0; tok < kTok; ++tok)
                            if (ids[size_t(tok)] == e) {
                                rows.insert(rows.end(), x.begin() + tok * n_in, x.begin() + (tok + 1) * n_in);
                                where.push_back(tok);
                            }
                        const int64_t n = int64_t(where.size());
                        const TensorView we =
                            TensorView::dense(m.bytes.data() + e * n_out * row_bytes(t, n_in), t, {n_out, n_in});
                        // One call of all the expert's rows where llama.cpp batches them, else one call per row.
                        const bool batched = r == ExpertRounding::mul_mat_id && tiled_type(t, n_out) && n >= 8;
                        std::vector<float> want;
                        if (batched) {
                            want = dense(k, s, we, rows, n);
                        } else {
                            for (int64_t i = 0; i < n; ++i) {
                                const std::vector<float> one(rows.begin() + i * n_in, rows.begin() + (i + 1) * n_in);
                                const std::vector<float> y1 = dense(k, s, we, one, 1);
                                want.insert(want.end(), y1.begin(), y1.end());
                            }
                        }
                        for (int64_t i = 0; i < n; ++i)
                            for (int64_t o = 0; o < n_out; ++o)
                                ASSERT_EQ(f32_to_bits(y[size_t(where[size_t(i)] * n_out + o)]),
                                          f32_to_bits(want[size_t(i * n_out + o)]))
                                    << name(t) << " n_out=" << n_out << " packed=" << use_packed
                                    << " per_row=" << (r == ExpertRounding::per_row) << " expert " << e << " row " << i;
                    }
                }
            }
        }
    }
}

}  // namespace
}  // namespace loom::kernels
