// Harness cases of the element-wise family (norm, rope, softmax, unary, binary, scale, glu): odd sizes, sizes
// past a SIMD width and a cache block, special values, broadcasts, and outputs aliasing inputs where ops.h
// allows it. Tolerances (each *_test.cpp's header says why): rope, layer norm, binary, scale and every op but
// silu bit-exact; rms and l2 norm within 1 ulp; softmax bit-exact on portable, 8 ulp with SIMD; silu and
// swiglu bit-exact on portable, 4 ulp with SIMD.
#include <random>

#include "kernels/ref/elementwise_common.h"
#include "unit/kernels/elementwise_testing.h"
#include "unit/kernels/op_cases.h"

namespace loom::kernels::testing {
namespace {

std::string rows_d(int64_t rows, int64_t d) { return "rows=" + std::to_string(rows) + " d=" + std::to_string(d); }

// Normals (sigma 5) with a special value every third element, as the GELU clamps and exp edges need.
TensorView special_input(CaseData& c, int64_t rows, int64_t d, uint32_t seed) {
    const TensorView x = c.normal({rows, d}, seed, 5.f);
    put_specials(static_cast<float*>(x.data), rows * d);
    return x;
}

}  // namespace

std::vector<OpCase<NormArgs>> norm_cases() {
    std::vector<OpCase<NormArgs>> v;
    for (NormKind kind : {NormKind::rms, NormKind::layer, NormKind::l2})
        for (int64_t rows : {1, 3, 17})
            for (int64_t d : {1, 7, 8, 33, 100, 4096, 4099}) {
                const uint32_t seed = uint32_t(rows * 7919 + d);
                OpCase<NormArgs> c{std::string(ref::op_name(kind)) + " " + rows_d(rows, d) +
                                       " x_seed=" + std::to_string(seed) + " w_seed=" + std::to_string(d) + " eps=1e-6",
                                   [=](CaseData& b) {
                                       NormArgs a;
                                       a.kind = kind;
                                       a.x = b.normal({rows, d}, seed, 1.5f);
                                       if (kind != NormKind::l2) a.w = b.normal({d}, uint32_t(d), 0.5f, 1.f);
                                       if (kind == NormKind::layer) a.b = b.normal({d}, uint32_t(d + 1));
                                       a.y = b.output(DType::f32, {rows, d});
                                       a.eps = 1e-6f;
                                       return a;
                                   }};
                // Layer norm runs the reference's row code; rms and l2 accumulate the double sum of squares in
                // another order, which can flip the f32 rounding of the mean.
                c.tol = kind == NormKind::layer ? bit_exact() : within_ulp(1);
                c.in_place = [](NormArgs& a) { return a.y = a.x; };
                v.push_back(c);
            }
    return v;
}

std::vector<OpCase<RopeArgs>> rope_cases() {
    struct Dims {
        int64_t d_head;
        int n_rot;
    };
    std::vector<OpCase<RopeArgs>> v;
    for (RopeMode mode : {RopeMode::norm, RopeMode::neox, RopeMode::imrope})
        for (Dims dm : {Dims{64, 64}, {128, 32}, {10, 6}, {128, 128}, {2, 2}, {80, 78}})
            for (int64_t n_tok : {1, 7, 33})
                for (int variant = 0; variant < 3; ++variant) {  // plain; frequency factors; YaRN with them
                    const uint32_t seed = uint32_t(n_tok * 131 + 3 * 17 + dm.d_head);
                    const std::string label =
                        std::string(mode == RopeMode::norm   ? "norm"
                                    : mode == RopeMode::neox ? "neox"
                                                             : "imrope") +
                        " n_tok=" + std::to_string(n_tok) + " n_head=3 d_head=" + std::to_string(dm.d_head) +
                        " n_rot=" + std::to_string(dm.n_rot) + (variant >= 1 ? " freq_factors" : "") +
                        (variant == 2 ? " yarn(freq_scale=1/16 ext=1 attn=0.8 n_ctx_orig=8192)" : "") +
                        " seed=" + std::to_string(seed);
                    OpCase<RopeArgs> c{label, [=](CaseData& b) {
                                           RopeArgs a;
                                           a.mode = mode;
                                           a.n_rot = dm.n_rot;
                                           a.sections = {3, 2, 2, 1};
                                           a.x = b.normal({n_tok, 3, dm.d_head}, seed);
                                           a.y = b.output(DType::f32, {n_tok, 3, dm.d_head});
                                           // Positions up to 100000 (angles far from 0); imrope: 4 streams.
                                           const int64_t streams = mode == RopeMode::imrope ? 4 : 1;
                                           std::mt19937 rng(seed);
                                           std::vector<int32_t> pos(size_t(streams * n_tok));
                                           for (int32_t& p : pos) p = int32_t(rng() % 100000);
                                           a.pos = streams == 4 ? b.ids({4, n_tok}, pos) : b.ids({n_tok}, pos);
                                           if (variant >= 1)
                                               a.freq_factors = b.uniform({dm.n_rot / 2}, uint32_t(variant), 1.f, 8.f);
                                           if (variant == 2) {
                                               a.freq_scale = 1.f / 16;
                                               a.ext_factor = 1.f;
                                               a.attn_factor = 0.8f;
                                               a.n_ctx_orig = 8192;
                                           }
                                           return a;
                                       }};
                    c.in_place = [](RopeArgs& a) { return a.y = a.x; };
                    v.push_back(c);
                }
    return v;
}

std::vector<OpCase<SoftmaxArgs>> softmax_cases() {
    std::vector<OpCase<SoftmaxArgs>> v;
    for (int64_t rows : {1, 3, 17})
        for (int64_t n : {1, 7, 8, 33, 100, 4096, 4099})
            for (int variant = 0; variant < 4; ++variant) {  // plain; a mask row; and soft-cap; a mask per row
                const uint32_t seed = uint32_t(rows * 31 + n);
                const int64_t mask_rows = variant == 3 ? rows : 1;
                const std::string label = rows_d(rows, n) + " scale=0.7 seed=" + std::to_string(seed) +
                                          (variant >= 1 ? " mask rows=" + std::to_string(mask_rows) : "") +
                                          (variant == 2 ? " softcap=20" : "");
                OpCase<SoftmaxArgs> c{label, [=](CaseData& b) {
                                          SoftmaxArgs a;
                                          a.x = b.normal({rows, n}, seed, 3.f);
                                          a.y = b.output(DType::f32, {rows, n});
                                          a.scale = 0.7f;
                                          a.softcap = variant == 2 ? 20.f : 0.f;
                                          if (variant >= 1) {  // −inf every third column, small steps elsewhere
                                              std::vector<float> m(size_t(mask_rows * n));
                                              for (size_t i = 0; i < m.size(); ++i)
                                                  m[i] =
                                                      (i + i / size_t(n)) % 3 == 2 ? -INFINITY : -0.5f * float(i % 7);
                                              a.mask = b.values({mask_rows, n}, m);
                                          }
                                          return a;
                                      }};
                // ggml's polynomial exp on groups of 8 is ~1.5 ulp from expf, and the sum is grouped.
                c.tol = within_ulp(8);
                c.portable = bit_exact();
                c.in_place = [](SoftmaxArgs& a) { return a.y = a.x; };
                v.push_back(c);
            }
    return v;
}

namespace {
// silu (and swiglu) on SIMD: ggml's polynomial exp, ~1.5 ulp from expf; every other op is the same code.
template <typename Args>
void silu_budget(OpCase<Args>& c, UnaryOp op) {
    if (op != UnaryOp::silu) return;
    c.tol = within_ulp(4);
    c.portable = bit_exact();
}
}  // namespace

std::vector<OpCase<UnaryArgs>> unary_cases() {
    std::vector<OpCase<UnaryArgs>> v;
    for (UnaryOp op : kAllUnary)
        for (int64_t rows : {1, 3})
            for (int64_t d : {1, 7, 8, 33, 4096, 4099, 20001}) {
                OpCase<UnaryArgs> c{std::string(name(op)) + " " + rows_d(rows, d) + " seed=" + std::to_string(d) +
                                        " sigma=5 + specials",
                                    [=](CaseData& b) {
                                        UnaryArgs a;
                                        a.op = op;
                                        a.x = special_input(b, rows, d, uint32_t(d));
                                        a.y = b.output(DType::f32, {rows, d});
                                        return a;
                                    }};
                silu_budget(c, op);
                c.in_place = [](UnaryArgs& a) { return a.y = a.x; };
                v.push_back(c);
            }
    return v;
}

std::vector<OpCase<GluArgs>> glu_cases() {
    std::vector<OpCase<GluArgs>> v;
    for (UnaryOp act : kAllUnary) {
        if (act == UnaryOp::sqrt) continue;  // not an activation anyone gates with; negative gates give NaN
        for (int64_t d : {1, 7, 33, 4099, 20001}) {
            OpCase<GluArgs> c{std::string(name(act)) + " rows=2 d=" + std::to_string(d) + " gate_seed=" +
                                  std::to_string(d + 1) + " (sigma 5 + specials) up_seed=" + std::to_string(d + 2),
                              [=](CaseData& b) {
                                  GluArgs a;
                                  a.act = act;
                                  a.gate = special_input(b, 2, d, uint32_t(d + 1));
                                  a.up = b.normal({2, d}, uint32_t(d + 2));
                                  a.y = b.output(DType::f32, {2, d});
                                  return a;
                              }};
            silu_budget(c, act);
            c.in_place = [](GluArgs& a) { return a.y = a.up; };
            v.push_back(c);
        }
    }
    return v;
}

std::vector<OpCase<BinaryArgs>> binary_cases() {
    // b's shapes: a's own, one row repeated, two rows repeated, one value per row, two values repeated.
    struct Broadcast {
        const char* what;
        int64_t rows, cols;  // cols 0: d
    };
    const Broadcast kB[] = {
        {"b=[6, d]", 6, 0}, {"b=[d]", 0, 0}, {"b=[2, d]", 2, 0}, {"b=[6, 1]", 6, 1}, {"b=[2, 1]", 2, 1}};
    std::vector<OpCase<BinaryArgs>> v;
    for (BinaryOp op : {BinaryOp::add, BinaryOp::sub, BinaryOp::mul, BinaryOp::div})
        for (int64_t d : {1, 7, 33, 4099, 20001})
            for (const Broadcast& bc : kB) {
                OpCase<BinaryArgs> c{std::string(ref::op_name(op)) + " a=[6, " + std::to_string(d) + "] " + bc.what +
                                         " seeds=" + std::to_string(d) + "," + std::to_string(d + 1),
                                     [=](CaseData& b) {
                                         BinaryArgs a;
                                         a.op = op;
                                         a.a = b.normal({6, d}, uint32_t(d));
                                         const int64_t cols = bc.cols ? bc.cols : d;
                                         // Away from 0: div stays finite.
                                         a.b = bc.rows ? b.uniform({bc.rows, cols}, uint32_t(d + 1), 0.5f, 2.f)
                                                       : b.uniform({cols}, uint32_t(d + 1), -2.f, -0.5f);
                                         a.y = b.output(DType::f32, {6, d});
                                         return a;
                                     }};
                c.in_place = [](BinaryArgs& a) { return a.y = a.a; };
                v.push_back(c);
            }
    // a [n_tok, n_head, d] with b [n_head, d]: row (t, h) meets b's row h.
    v.push_back({"mul a=[3, 4, 5] b=[4, 5] seeds=1,2", [](CaseData& b) {
                     return BinaryArgs{BinaryOp::mul, b.normal({3, 4, 5}, 1), b.normal({4, 5}, 2),
                                       b.output(DType::f32, {3, 4, 5})};
                 }});
    return v;
}

std::vector<OpCase<ScaleArgs>> scale_cases() {
    std::vector<OpCase<ScaleArgs>> v;
    for (int64_t d : {1, 7, 33, 4099, 20001})
        for (float bias : {0.f, -1.25f}) {
            OpCase<ScaleArgs> c{
                "x=[3, " + std::to_string(d) + "] seed=" + std::to_string(d) +
                    " scale=0.37 bias=" + std::to_string(bias),
                [=](CaseData& b) {
                    return ScaleArgs{b.normal({3, d}, uint32_t(d)), b.output(DType::f32, {3, d}), 0.37f, bias};
                }};
            c.in_place = [](ScaleArgs& a) { return a.y = a.x; };
            v.push_back(c);
        }
    return v;
}

TEST(OpHarness, Norm) { expect_matches_ref("norm", &OpTable::norm, norm_cases()); }
TEST(OpHarness, Rope) { expect_matches_ref("rope", &OpTable::rope, rope_cases()); }
TEST(OpHarness, Softmax) { expect_matches_ref("softmax", &OpTable::softmax, softmax_cases()); }
TEST(OpHarness, Unary) { expect_matches_ref("unary", &OpTable::unary, unary_cases()); }
TEST(OpHarness, Glu) { expect_matches_ref("glu", &OpTable::glu, glu_cases()); }
TEST(OpHarness, Binary) { expect_matches_ref("binary", &OpTable::binary, binary_cases()); }
TEST(OpHarness, Scale) { expect_matches_ref("scale", &OpTable::scale, scale_cases()); }

}  // namespace loom::kernels::testing
