// The harness covers the op tables: every slot registered in any variant of any backend has cases, so an op
// added to OpTable and registered without cases fails here, and the list of variants is what the registry lists.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <span>
#include <string>
#include <type_traits>

#include <gtest/gtest-spi.h>

#include "core/cpu_features.h"
#include "unit/kernels/op_cases.h"

namespace loom::kernels::testing {
namespace {

struct Coverage {
    const char* op;
    size_t offset;   // of the slot in OpTable
    size_t n_cases;  // harness cases; pack_weight: 1, see below
};

std::vector<Coverage> coverage() {
    return {
        {"matmul", offsetof(OpTable, matmul), matmul_cases().size()},
        {"matmul_id", offsetof(OpTable, matmul_id), matmul_id_cases().size()},
        {"get_rows", offsetof(OpTable, get_rows), get_rows_cases().size()},
        {"norm", offsetof(OpTable, norm), norm_cases().size()},
        {"rope", offsetof(OpTable, rope), rope_cases().size()},
        {"softmax", offsetof(OpTable, softmax), softmax_cases().size()},
        {"attention", offsetof(OpTable, attention), attention_cases().size()},
        {"unary", offsetof(OpTable, unary), unary_cases().size()},
        {"binary", offsetof(OpTable, binary), binary_cases().size()},
        {"scale", offsetof(OpTable, scale), scale_cases().size()},
        {"glu", offsetof(OpTable, glu), glu_cases().size()},
        {"top_k", offsetof(OpTable, top_k), top_k_cases().size()},
        {"moe_route", offsetof(OpTable, moe_route), moe_route_cases().size()},
        {"weighted_sum", offsetof(OpTable, weighted_sum), weighted_sum_cases().size()},
        {"conv1d", offsetof(OpTable, conv1d), conv1d_cases().size()},
        {"delta_net", offsetof(OpTable, delta_net), delta_net_cases().size()},
        // Not an op with Args: weight_pack_test.cpp checks every packed layout against the reference's values.
        {"pack_weight", offsetof(OpTable, pack_weight), 1},
    };
}

// OpTable is its backend and name, then function pointers only (the slots).
constexpr size_t kFirstSlot = offsetof(OpTable, matmul);
constexpr size_t kSlotBytes = sizeof(OpFn<MatmulArgs>);
static_assert(std::is_standard_layout_v<OpTable>);
static_assert((sizeof(OpTable) - kFirstSlot) % kSlotBytes == 0);

TEST(OpHarnessCoverage, EverySlotHasCases) {
    const std::vector<Coverage> cov = coverage();
    EXPECT_EQ(cov.size(), (sizeof(OpTable) - kFirstSlot) / kSlotBytes)
        << "OpTable has a slot that coverage() does not list: give the new op harness cases (op_cases_*.cpp) and a row";
    for (const Coverage& c : cov) EXPECT_GT(c.n_cases, 0u) << c.op << ": no harness cases";
    std::vector<const OpTable*> tables{op_table(Backend::ref)};
    for (Backend b : {Backend::cpu, Backend::cuda})
        for (const OpTable& t : variants(b)) tables.push_back(&t);
    for (const OpTable* t : tables)
        for (size_t off = kFirstSlot; off < sizeof(OpTable); off += kSlotBytes) {
            uintptr_t fn = 0;
            std::memcpy(&fn, reinterpret_cast<const uint8_t*>(t) + off, kSlotBytes);
            if (fn == 0) continue;
            const auto it = std::find_if(cov.begin(), cov.end(), [&](const Coverage& c) { return c.offset == off; });
            EXPECT_TRUE(it != cov.end() && it->n_cases > 0)
                << t->variant << ": the OpTable slot at byte " << off << " is registered but has no harness cases";
        }
}

TEST(OpHarnessCoverage, ReferenceIsComplete) {
    // The oracle implements every op (pack_weight is a backend's own layout, not an op).
    const OpTable& ref = *op_table(Backend::ref);
    for (const Coverage& c : coverage()) {
        if (std::string(c.op) == "pack_weight") continue;
        uintptr_t fn = 0;
        std::memcpy(&fn, reinterpret_cast<const uint8_t*>(&ref) + c.offset, kSlotBytes);
        EXPECT_NE(fn, 0u) << "ref has no " << c.op;
    }
}

TEST(OpHarnessCoverage, CpuVariantsFollowTheFeatures) {
    // Narrowest first, the widest is the table the backend hands out, and every ISA the CPU runs is listed.
    const std::span<const OpTable> v = variants(Backend::cpu);
    ASSERT_FALSE(v.empty());
    EXPECT_STREQ(v.front().variant, "cpu portable");
    EXPECT_EQ(&v.back(), op_table(Backend::cpu));
    const CpuFeatures& f = cpu_features();
    EXPECT_EQ(v.size(), size_t(1 + f.avx2_kernels() + (f.avx2_kernels() && f.avx512_kernels()))) << f.describe();
    for (const OpTable& t : v) {
        EXPECT_EQ(t.backend, Backend::cpu) << t.variant;
        EXPECT_NE(t.pack_weight, nullptr) << t.variant;
    }
    EXPECT_EQ(variants(Backend::ref).size(), 1u);
}

std::vector<uint8_t> bytes(const std::vector<float>& f) {
    std::vector<uint8_t> b(f.size() * 4);
    std::memcpy(b.data(), f.data(), b.size());
    return b;
}

// Each tolerance passes at its bound and fails past it, naming the case, the shape and the worst element.
TEST(OpHarnessCompare, FailsPastEachToleranceAndNamesTheElement) {
    const std::vector<float> want = {1.f, 2.f, 3.f, 4.f};
    std::vector<float> got = want;
    got[2] = std::nextafter(3.f, 4.f);  // 1 ulp, 2.4e-7 absolute
    const TensorView v = TensorView::dense(got.data(), DType::f32, {2, 2});
    expect_close("same", v, bytes(want), bytes(want), bit_exact());
    EXPECT_NONFATAL_FAILURE(expect_close("case q", v, bytes(got), bytes(want), bit_exact()),
                            "case q [2, 2]: not bit-exact, first difference at element 2");
    expect_close("1 ulp", v, bytes(got), bytes(want), within_ulp(1));
    EXPECT_NONFATAL_FAILURE(expect_close("case u", v, bytes(got), bytes(want), within_ulp(0)),
                            "case u [2, 2]: error 1, expected within 0 ulp; worst element 2");
    expect_close("abs", v, bytes(got), bytes(want), within_abs(3e-7));
    EXPECT_NONFATAL_FAILURE(expect_close("case a", v, bytes(got), bytes(want), within_abs(1e-7)), "worst element 2");
    got[2] = NAN;  // an unwritten output fails every tolerance
    for (const Tol& t : {within_ulp(1000), within_abs(1e9), within_nmse(1e9)})
        EXPECT_NONFATAL_FAILURE(expect_close("case n", v, bytes(got), bytes(want), t), "case n [2, 2]: error");
    got[2] = 3.03f;  // nmse 9e-4 / 30
    expect_close("nmse", v, bytes(got), bytes(want), within_nmse(4e-5));
    EXPECT_NONFATAL_FAILURE(expect_close("case m", v, bytes(got), bytes(want), within_nmse(2e-5)), "nmse within");
    // i32 outputs are compared exactly whatever the tolerance.
    const std::vector<int32_t> ids = {0, 1}, other = {0, 2};
    std::vector<uint8_t> bi(8), bo(8);
    std::memcpy(bi.data(), ids.data(), 8);
    std::memcpy(bo.data(), other.data(), 8);
    EXPECT_NONFATAL_FAILURE(expect_close("case i", TensorView::dense(ids.data(), DType::i32, {2}), bo, bi,
                                         within_abs(5)),
                            "first difference at element 1: 2 vs ref 1");
}

// Every run starts from the built bytes: outputs NaN again, updated state back to its built values.
TEST(OpHarnessCompare, CaseDataResetsEveryBuffer) {
    CaseData d;
    const TensorView state = d.compared(d.values({2}, {1.f, 2.f}));
    const TensorView out = d.output(DType::f32, {3});
    d.seal();
    static_cast<float*>(state.data)[0] = 9.f;
    static_cast<float*>(out.data)[1] = 5.f;
    d.reset();
    EXPECT_EQ(static_cast<float*>(state.data)[0], 1.f);
    EXPECT_TRUE(std::isnan(static_cast<float*>(out.data)[1]));
    EXPECT_EQ(d.outputs().size(), 2u);
}

}  // namespace
}  // namespace loom::kernels::testing
