// Rope: NORM vs NEOX pairing on a hand-checked case, every implementation against double-precision angle
// formulas (plain, frequency factors, YaRN, IMROPE stream selection), IMROPE == NEOX on text positions,
// partial rotary dims, in place, and errors; the CPU variants against the reference over modes, head sizes and
// YaRN are harness cases (op_cases_elementwise.cpp). CPU vs reference: bit-identical (the angle table is the
// reference's code and the rotation is rounded the same way, with the same FMAs).
#include <numbers>

#include "unit/kernels/elementwise_testing.h"

namespace loom::kernels::testing {
namespace {

struct RopeCase {
    RopeArgs args;
    F32 x, y;
    I32 pos;
    F32 ff;

    RopeCase(int64_t n_tok, int64_t n_head, int64_t d_head, RopeMode mode, int n_rot)
        : x({n_tok, n_head, d_head}),
          y({n_tok, n_head, d_head}),
          pos(mode == RopeMode::imrope ? I32({4, n_tok}) : I32({n_tok})) {
        args.mode = mode;
        args.n_rot = n_rot;
        fill_normal(x, uint32_t(n_tok * 131 + n_head * 17 + d_head));
        for (int64_t t = 0; t < n_tok; ++t) pos[size_t(t)] = int32_t(t);
    }
    void set_pos(int64_t t, int32_t p) {
        pos[size_t(t)] = p;
        if (args.mode == RopeMode::imrope) {  // text tokens: t = h = w = p, e = 0
            const int64_t n_tok = x.view.dim(0);
            pos[size_t(n_tok + t)] = p, pos[size_t(2 * n_tok + t)] = p, pos[size_t(3 * n_tok + t)] = 0;
        }
    }
    void use_freq_factors(uint32_t seed) {
        ff = F32({args.n_rot / 2});
        fill_uniform(ff, seed, 1.f, 8.f);
    }
    Status run(const Impl& im, bool in_place = false) {
        RopeArgs a = args;
        a.x = x.view;
        a.y = in_place ? x.view : y.view;
        a.pos = pos.view;
        if (!ff.data.empty()) a.freq_factors = ff.view;
        Stream s = im.stream();
        return im.table.rope(a, s);
    }
};

// The rotation in double for pair (i, j) with angle theta and magnitude m.
void rotate_double(const float* x, std::vector<double>& y, int64_t off, int64_t i, int64_t j, double theta, double m) {
    const double c = std::cos(theta) * m, s = std::sin(theta) * m;
    y[size_t(off + i)] = x[i] * c - x[j] * s;
    y[size_t(off + j)] = x[i] * s + x[j] * c;
}

// Expected output in double. angle(t, k) gives the angle of pair k for token t; m the magnitude.
template <typename Angle>
std::vector<double> rope_double(const RopeCase& rc, Angle angle, double m) {
    const int64_t n_tok = rc.x.view.dim(0), n_head = rc.x.view.dim(1), d = rc.x.view.dim(2);
    const int n_rot = rc.args.n_rot, half = n_rot / 2;
    std::vector<double> y(rc.x.size());
    for (int64_t t = 0; t < n_tok; ++t)
        for (int64_t h = 0; h < n_head; ++h) {
            const int64_t off = (t * n_head + h) * d;
            const float* x = rc.x.data.data() + off;
            for (int64_t i = n_rot; i < d; ++i) y[size_t(off + i)] = x[i];
            for (int k = 0; k < half; ++k) {
                if (rc.args.mode == RopeMode::norm) rotate_double(x, y, off, 2 * k, 2 * k + 1, angle(t, k), m);
                else rotate_double(x, y, off, k, k + half, angle(t, k), m);
            }
        }
    return y;
}

double max_abs_diff(const std::vector<float>& got, const std::vector<double>& want) {
    double m = 0;
    for (size_t i = 0; i < got.size(); ++i) m = std::max(m, std::fabs(got[i] - want[i]));
    return m;
}

class RopeTest : public ::testing::TestWithParam<Impl> {};

TEST_P(RopeTest, NormAndNeoxPairingHandChecked) {
    // x = [1, 2, 3, 4], position 1, base 10000, 4 rotated dims: pair 0 turns by 1 rad, pair 1 by 0.01 rad.
    // NORM rotates (x0, x1) and (x2, x3); NEOX rotates (x0, x2) and (x1, x3).
    const Impl& im = GetParam();
    const double norm_want[] = {-1.1426396637476532, 1.922075596544176, 2.9598506679133294, 4.029799501669161};
    const double neox_want[] = {-1.9841106485555495, 1.959900667496664, 2.4623779024123156, 4.019799668334994};
    for (RopeMode mode : {RopeMode::norm, RopeMode::neox}) {
        RopeCase rc(1, 1, 4, mode, 4);
        for (int i = 0; i < 4; ++i) rc.x[size_t(i)] = float(i + 1);
        rc.set_pos(0, 1);
        LOOM_EXPECT_OK(rc.run(im));
        const double* want = mode == RopeMode::norm ? norm_want : neox_want;
        for (int i = 0; i < 4; ++i) EXPECT_NEAR(rc.y[size_t(i)], want[i], 1e-6) << "mode " << int(mode) << " i=" << i;
    }
}

// Angles accumulate as f32 products (θ_k = θ_{k−1}·base^(−2/n_rot)), so the error grows with the position.
double angle_tolerance(int32_t max_pos) { return 4e-6 * (1.0 + max_pos); }

TEST_P(RopeTest, MatchesDoubleFormula) {
    const Impl& im = GetParam();
    const int32_t positions[] = {0, 1, 7, 31, 100};
    for (RopeMode mode : {RopeMode::norm, RopeMode::neox}) {
        for (bool factors : {false, true}) {
            RopeCase rc(5, 3, 64, mode, 64);
            for (int t = 0; t < 5; ++t) rc.set_pos(t, positions[t]);
            rc.args.freq_base = 500000.f;
            rc.args.freq_scale = 0.5f;  // linear scaling
            rc.args.attn_factor = 1.25f;
            if (factors) rc.use_freq_factors(11);
            LOOM_EXPECT_OK(rc.run(im));
            const auto want = rope_double(
                rc,
                [&](int64_t t, int k) {
                    const double f = factors ? rc.ff[size_t(k)] : 1.0;
                    return 0.5 * positions[t] * std::pow(500000.0, -2.0 * k / 64) / f;
                },
                1.25);
            EXPECT_LT(max_abs_diff(rc.y.data, want), angle_tolerance(100)) << "mode " << int(mode) << " ff " << factors;
        }
    }
}

TEST_P(RopeTest, YarnMatchesDoubleFormula) {
    // YaRN, factor 4, n_ctx_orig 4096, base 10000, 64 rotated dims: correction range [10, 23], so pairs
    // below 10 extrapolate, above 23 interpolate and the ones between mix (architectures.md §1.5).
    const Impl& im = GetParam();
    const int32_t positions[] = {0, 1, 5, 60};
    const double s = 0.25, base = 10000, beta_fast = 32, beta_slow = 1;
    const int R = 64;
    auto corr = [&](double beta) { return R * std::log(4096 / (2 * std::numbers::pi * beta)) / (2 * std::log(base)); };
    const double lo = std::max(0.0, std::floor(corr(beta_fast))), hi = std::min(R - 1.0, std::ceil(corr(beta_slow)));
    ASSERT_EQ(lo, 10);
    ASSERT_EQ(hi, 23);
    for (RopeMode mode : {RopeMode::norm, RopeMode::neox}) {
        RopeCase rc(4, 2, 96, mode, R);
        for (int t = 0; t < 4; ++t) rc.set_pos(t, positions[t]);
        rc.args.freq_base = float(base);
        rc.args.freq_scale = float(s);
        rc.args.ext_factor = 1.f;
        rc.args.attn_factor = 1.f;
        rc.args.n_ctx_orig = 4096;
        LOOM_EXPECT_OK(rc.run(im));
        const double m = 1 + 0.1 * std::log(1 / s);
        const auto want = rope_double(
            rc,
            [&](int64_t t, int k) {
                const double t_ext = positions[t] * std::pow(base, -2.0 * k / R);
                const double ramp = 1 - std::clamp((k - lo) / std::max(0.001, hi - lo), 0.0, 1.0);
                return s * t_ext * (1 - ramp) + t_ext * ramp;
            },
            m);
        EXPECT_LT(max_abs_diff(rc.y.data, want), angle_tolerance(60)) << "mode " << int(mode);
    }
}

TEST_P(RopeTest, ImropeEqualsNeoxOnTextPositions) {
    // Qwen3.5: sections [11, 11, 10, 0] cover all 32 pairs of 64 rotated dims (of 256); with t = h = w
    // the result is NEOX's, bit for bit.
    const Impl& im = GetParam();
    RopeCase neox(7, 2, 256, RopeMode::neox, 64), imrope(7, 2, 256, RopeMode::imrope, 64);
    imrope.args.sections = {11, 11, 10, 0};
    for (RopeCase* rc : {&neox, &imrope}) {
        rc->x = neox.x;
        rc->args.freq_base = 10000000.f;
        for (int t = 0; t < 7; ++t) rc->set_pos(t, 1000 + 37 * t);
        LOOM_EXPECT_OK(rc->run(im));
    }
    EXPECT_EQ(max_ulp(imrope.y.data, neox.y.data), 0);
}

TEST_P(RopeTest, ImropeStreamSelection) {
    // sections [2, 2, 1, 1] (6 sectors) over 8 pairs: pair k uses stream t, h, w, t, h, e, t, h (worked out
    // by hand from ggml_mrope_cache_init's interleaved rule).
    const Impl& im = GetParam();
    const int stream_of_pair[] = {0, 1, 2, 0, 1, 3, 0, 1};
    RopeCase rc(3, 2, 16, RopeMode::imrope, 16);
    rc.args.sections = {2, 2, 1, 1};
    const int32_t offsets[] = {0, 3, 5, 7};
    for (int t = 0; t < 3; ++t)
        for (int st = 0; st < 4; ++st) rc.pos[size_t(st * 3 + t)] = 10 * t + offsets[st];
    LOOM_EXPECT_OK(rc.run(im));
    const auto want = rope_double(
        rc,
        [&](int64_t t, int k) { return (10.0 * t + offsets[stream_of_pair[k]]) * std::pow(10000.0, -2.0 * k / 16); },
        1.0);
    EXPECT_LT(max_abs_diff(rc.y.data, want), angle_tolerance(30));
}

TEST_P(RopeTest, PartialRotaryLeavesTailUntouched) {
    const Impl& im = GetParam();
    for (RopeMode mode : {RopeMode::norm, RopeMode::neox}) {
        for (bool in_place : {false, true}) {
            RopeCase rc(3, 4, 80, mode, 32);
            for (int t = 0; t < 3; ++t) rc.set_pos(t, 5 + t);
            const F32 x0 = rc.x;
            LOOM_EXPECT_OK(rc.run(im, in_place));
            const F32& out = in_place ? rc.x : rc.y;
            for (int64_t row = 0; row < 12; ++row) {
                for (int64_t i = 32; i < 80; ++i)
                    ASSERT_EQ(out[size_t(row * 80 + i)], x0[size_t(row * 80 + i)]) << "row " << row << " dim " << i;
                EXPECT_NE(out[size_t(row * 80 + 1)], x0[size_t(row * 80 + 1)]) << "the rotated part moved";
            }
        }
    }
}

TEST_P(RopeTest, RejectsBadArguments) {
    const Impl& im = GetParam();
    auto expect_rope_error = [&](RopeCase rc, const std::string& needle) {
        expect_invalid(rc.run(im), "rope", needle);
    };
    RopeCase ok(2, 2, 8, RopeMode::neox, 8);
    LOOM_EXPECT_OK(ok.run(im));
    RopeCase odd = ok;
    odd.args.n_rot = 5;
    expect_rope_error(odd, "n_rot");
    RopeCase wide = ok;
    wide.args.n_rot = 10;
    expect_rope_error(wide, "n_rot");
    RopeCase short_pos = ok;
    short_pos.pos = I32({3});
    expect_rope_error(short_pos, "pos");
    RopeCase bad_ff = ok;
    bad_ff.ff = F32({3});
    expect_rope_error(bad_ff, "freq_factors");
    RopeCase bad_y = ok;
    bad_y.y = F32({2, 2, 9});
    expect_rope_error(bad_y, "[2, 2, 9]");
    RopeCase no_sections(2, 2, 8, RopeMode::imrope, 8);
    expect_rope_error(no_sections, "sections");
    RopeCase yarn = ok;
    yarn.args.ext_factor = 1.f;
    expect_rope_error(yarn, "n_ctx_orig");
    RopeCase flat = ok;
    flat.x = F32({2, 16});
    flat.y = F32({2, 16});
    expect_rope_error(flat, "x has shape [2, 16]");
}

INSTANTIATE_TEST_SUITE_P(Impls, RopeTest, ::testing::ValuesIn(impls()), impl_name);

}  // namespace
}  // namespace loom::kernels::testing
