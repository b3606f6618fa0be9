// Test helpers for the element-wise kernel family: the implementations to run (op_harness.h's impls(), as gtest
// parameters), owned f32/i32 tensors, and relative-error comparisons.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/registry.h"
#include "unit/kernels/op_harness.h"

namespace loom::kernels::testing {

inline std::string impl_name(const ::testing::TestParamInfo<Impl>& info) {
    std::string s = info.param.name;
    for (char& c : s)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
    return s;
}

// An owned dense tensor and its view.
template <typename T>
struct Owned {
    std::vector<T> data;
    TensorView view;
    Owned() = default;
    Owned(std::initializer_list<int64_t> shape, T fill = T{}) {
        int64_t n = 1;
        for (int64_t d : shape) n *= d;
        data.assign(static_cast<size_t>(n), fill);
        view = TensorView::dense(data.data(), std::is_same_v<T, float> ? DType::f32 : DType::i32, shape);
    }
    Owned(const Owned& o) : data(o.data), view(o.view) { view.data = data.data(); }
    Owned& operator=(const Owned& o) {
        data = o.data;
        view = o.view;
        view.data = data.data();
        return *this;
    }
    T& operator[](size_t i) { return data[i]; }
    const T& operator[](size_t i) const { return data[i]; }
    size_t size() const { return data.size(); }
};
using F32 = Owned<float>;
using I32 = Owned<int32_t>;

inline void fill_normal(F32& t, uint32_t seed, float sigma = 1.f, float mean = 0.f) {
    std::mt19937 rng(seed);
    std::normal_distribution<float> dist(mean, sigma);
    for (float& v : t.data) v = dist(rng);
}

inline void fill_uniform(F32& t, uint32_t seed, float lo, float hi) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(lo, hi);
    for (float& v : t.data) v = dist(rng);
}

inline constexpr UnaryOp kAllUnary[] = {UnaryOp::identity,   UnaryOp::silu,    UnaryOp::gelu_tanh, UnaryOp::gelu_erf,
                                        UnaryOp::gelu_quick, UnaryOp::sigmoid, UnaryOp::softplus,  UnaryOp::exp,
                                        UnaryOp::relu,       UnaryOp::tanh,    UnaryOp::neg,       UnaryOp::sqr,
                                        UnaryOp::sqrt};

// Every third value of x[0..n) replaced by a special point of the element-wise kernels (signed zeros, infinities,
// NaN, the GELU clamps at ±10, softplus's linear range above 20, expf's over- and underflow edges, subnormals).
inline void put_specials(float* x, int64_t n) {
    const float special[] = {0.f,      -0.f,  INFINITY, -INFINITY, NAN,   10.f,   -10.f, 9.999f,
                             -10.001f, 20.f,  21.f,     -88.f,     -87.f, -88.5f, 88.5f, -104.f,
                             -100.f,   100.f, 65536.f,  -70000.f,  1e-8f, -3e-39f};
    for (int64_t i = 0; i < n; i += 3) x[i] = special[size_t(i / 3) % std::size(special)];
}

// max_i |got − want| / (|want| + floor): a relative error that does not blow up near zero.
inline double max_rel(const std::vector<float>& got, const std::vector<double>& want, double floor = 1e-30) {
    double m = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        const double e = std::fabs(double(got[i]) - want[i]) / (std::fabs(want[i]) + floor);
        if (std::isnan(got[i]) != std::isnan(want[i])) return INFINITY;
        if (!std::isnan(e)) m = std::max(m, e);
    }
    return m;
}

#define LOOM_EXPECT_OK(expr)                                             \
    do {                                                                 \
        const ::loom::Status st_ = (expr);                               \
        ASSERT_TRUE(st_.ok()) << #expr << ": " << st_.error().message(); \
    } while (0)

// Expect an Error::invalid whose message names `op` and contains `needle`.
inline void expect_invalid(const Status& st, const std::string& op, const std::string& needle = "") {
    ASSERT_FALSE(st.ok()) << "expected an error from " << op;
    EXPECT_EQ(st.error().code(), ErrorCode::invalid_input) << st.error().message();
    EXPECT_NE(st.error().message().find(op + ":"), std::string::npos) << st.error().message();
    if (!needle.empty()) {
        EXPECT_NE(st.error().message().find(needle), std::string::npos) << st.error().message();
    }
}

}  // namespace loom::kernels::testing
