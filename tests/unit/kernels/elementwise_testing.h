// Test helpers for the element-wise kernel family: every implementation (the reference, and each CPU ISA
// variant this machine runs, single-threaded and on a pool), owned f32/i32 tensors, and ulp comparisons.
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

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/cpu/elementwise.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/ref_ops.h"
#include "kernels/registry.h"

namespace loom::kernels::testing {

struct Impl {
    std::string name;  // "ref", "cpu portable x1", "cpu avx2 x3", "cpu registered x2"
    OpTable table;
    ThreadPool* pool;  // null: single-threaded
    bool is_ref;

    Stream stream() const {
        Stream s;
        s.backend = table.backend;
        s.pool = pool;
        return s;
    }
};

// The reference first, then every CPU variant (portable; AVX2 when the CPU has it), each with and without
// a pool, then the table the registry hands out.
inline const std::vector<Impl>& impls() {
    static ThreadPool pool2(2), pool3(3);
    static const std::vector<Impl> all = [] {
        std::vector<Impl> v;
        v.push_back({"ref", ref::make_op_table(), nullptr, true});
        auto add_cpu = [&](const char* isa, cpu::EwIsa which) {
            OpTable t{Backend::cpu, isa};
            cpu::fill_elementwise(t, which);
            v.push_back({std::string("cpu ") + isa + " x1", t, nullptr, false});
            v.push_back({std::string("cpu ") + isa + " x3", t, &pool3, false});
        };
        add_cpu("portable", cpu::EwIsa::portable);
        if (cpu_features().avx2_kernels()) add_cpu("avx2", cpu::EwIsa::avx2);
        v.push_back({"cpu registered x2", *op_table(Backend::cpu), &pool2, false});
        return v;
    }();
    return all;
}

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

// Distance in units in the last place between two floats of the same sign (0 when bit-identical or both
// NaN, huge across signs except ±0).
inline int64_t ulp_distance(float a, float b) {
    if (std::isnan(a) && std::isnan(b)) return 0;
    if (a == b) return 0;
    int32_t ia, ib;
    std::memcpy(&ia, &a, 4);
    std::memcpy(&ib, &b, 4);
    if (ia < 0) ia = int32_t(0x80000000u) - ia;
    if (ib < 0) ib = int32_t(0x80000000u) - ib;
    return std::llabs(int64_t(ia) - int64_t(ib));
}

inline int64_t max_ulp(const std::vector<float>& got, const std::vector<float>& want) {
    int64_t m = 0;
    for (size_t i = 0; i < got.size(); ++i) m = std::max(m, ulp_distance(got[i], want[i]));
    return m;
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

#define LOOM_EXPECT_OK(expr)                                                   \
    do {                                                                       \
        const ::loom::Status st_ = (expr);                                     \
        ASSERT_TRUE(st_.ok()) << #expr << ": " << st_.error().message();       \
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
