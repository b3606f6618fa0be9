// The op-test harness (in the spirit of ggml's test-backend-ops): a table of cases per OpTable slot, each run on
// every variant of every backend present (kernels::variants), single-threaded and on a pool, against the
// reference table. A new op or variant is tested by being registered and given cases; op_harness_test.cpp fails
// for a registered slot without one. The per-family *_test.cpp files keep what is special to each op (claims
// against double maths, hand-checked values, errors).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/thread_pool.h"
#include "kernels/registry.h"

namespace loom::kernels::testing {

// One implementation under test: a variant's table, run single-threaded or on a pool.
struct Impl {
    std::string name;  // "ref", "cpu portable x1", "cpu avx2 x3", ...
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

// The reference first, then every variant of every backend present (kernels::variants), each single-threaded,
// then on a 3-thread pool (uneven splits). Absent backends are skipped, not failed.
const std::vector<Impl>& impls();

// The variant that runs the reference's own code (no SIMD), where a case may promise more than of the others.
bool is_portable(const OpTable& t);

// Distance in units in the last place between two floats of the same sign (0 when bit-identical or both
// NaN, huge across signs except ±0).
int64_t ulp_distance(float a, float b);
int64_t max_ulp(const std::vector<float>& got, const std::vector<float>& want);

// How far a variant's output may be from the reference's.
struct Tol {
    enum class Kind : uint8_t { bits, ulp, abs, nmse };
    Kind kind = Kind::bits;
    double bound = 0;  // ulp: per element; abs: max |got − want|; nmse: Σ(got − want)² / Σ want²
};
inline Tol bit_exact() { return {Tol::Kind::bits, 0}; }
inline Tol within_ulp(int64_t n) { return {Tol::Kind::ulp, double(n)}; }
inline Tol within_abs(double e) { return {Tol::Kind::abs, e}; }
inline Tol within_nmse(double e) { return {Tol::Kind::nmse, e}; }
std::string describe(const Tol& t);

// The buffers of one case: built once, then put back to their built bytes before every run, so that every
// implementation sees the same inputs, outputs start as NaN (every element must be written) and state that an
// op updates starts from the same values.
class CaseData {
public:
    TensorView normal(std::initializer_list<int64_t> shape, uint32_t seed, float sigma = 1.f, float mean = 0.f);
    TensorView uniform(std::initializer_list<int64_t> shape, uint32_t seed, float lo, float hi);
    TensorView values(std::initializer_list<int64_t> shape, const std::vector<float>& v);
    TensorView ids(std::initializer_list<int64_t> shape, const std::vector<int32_t>& v);
    // [rows, cols] in a weight type, quantized from gaussian rows by the reference (matmul_testing.h).
    TensorView quantized(DType t, int64_t rows, int64_t cols, uint32_t seed);
    // Zeroed storage of a dtype for the builder to fill, not compared.
    TensorView raw(DType t, std::initializer_list<int64_t> shape);
    // An output, filled with NaN bytes and compared; tol overrides the case's for this output.
    TensorView output(DType t, std::initializer_list<int64_t> shape, std::optional<Tol> tol = std::nullopt);
    // Marks an input that the op also writes (carried state) as compared.
    TensorView compared(const TensorView& v, std::optional<Tol> tol = std::nullopt);

    struct Compared {
        TensorView view;
        std::optional<Tol> tol;
    };
    const std::vector<Compared>& outputs() const { return outputs_; }
    void seal() { built_ = store_; }  // the bytes every run starts from
    void reset();

private:
    TensorView add(DType t, std::initializer_list<int64_t> shape, uint8_t fill);
    std::deque<std::vector<uint8_t>> store_, built_;
    std::vector<Compared> outputs_;
};

template <typename Args>
struct OpCase {
    OpCase(std::string name_, std::function<Args(CaseData&)> build_, Tol tol_ = bit_exact())
        : name(std::move(name_)), build(std::move(build_)), tol(tol_) {}

    std::string name;                      // every parameter and seed: enough to rebuild the case by hand
    std::function<Args(CaseData&)> build;  // called once per case; the runs share its buffers
    Tol tol;                               // every variant against the reference
    std::optional<Tol> portable;           // the portable variant, where it promises more than tol
    // Where ops.h allows the output to alias an input: points it there and returns the aliased view. The result
    // must equal the same implementation's out-of-place output 0 bit for bit.
    std::function<TensorView(Args&)> in_place;
};

// The bytes of every compared output of one run, or the run's error.
struct RunResult {
    Status status = Ok{};
    std::vector<std::vector<uint8_t>> outputs;
    std::vector<uint8_t> in_place;
};

RunResult snapshot(const CaseData& d, Status st);
std::vector<uint8_t> bytes_of(const TensorView& v);
// Adds a gtest failure (naming the case, the implementation and the worst element) when got is out of tol.
void expect_close(const std::string& where, const TensorView& view, const std::vector<uint8_t>& got,
                  const std::vector<uint8_t>& want, const Tol& tol);

template <typename Args>
RunResult run_case(const Impl& im, OpFn<Args> OpTable::*slot, CaseData& d, const OpCase<Args>& c, Args a) {
    d.reset();
    Stream s = im.stream();
    RunResult r = snapshot(d, (im.table.*slot)(a, s));
    if (r.status.ok() && c.in_place) {
        d.reset();
        const TensorView aliased = c.in_place(a);
        r.status = (im.table.*slot)(a, s);
        r.in_place = bytes_of(aliased);
    }
    return r;
}

// How each variant runs the cases: single-threaded and on the pool, or, for a grid too large to run twice under
// the sanitizers, one of the two per case in the pattern 1, pool, pool, 1, ... (period 4: each of the grid's two
// innermost options meets both).
enum class Threads : uint8_t { both, alternate };

// Runs every case on every variant of every backend present and checks it against the reference. A variant whose
// slot is null, or holds the same function as a narrower variant's (the AVX-512 table keeps the AVX2 element-wise
// kernels), is skipped.
template <typename Args>
void expect_matches_ref(const char* op, OpFn<Args> OpTable::*slot, const std::vector<OpCase<Args>>& cases,
                        Threads threads = Threads::both) {
    ASSERT_FALSE(cases.empty()) << op << ": no cases";
    std::vector<Impl> under_test;
    std::vector<OpFn<Args>> seen;
    bool take = false;  // the variant's single-threaded run (listed first) was taken: take its pooled one too
    for (const Impl& im : impls()) {
        if (im.is_ref) continue;
        const OpFn<Args> fn = im.table.*slot;
        if (im.pool == nullptr) {
            take = fn != nullptr && std::find(seen.begin(), seen.end(), fn) == seen.end();
            if (take) seen.push_back(fn);
        }
        if (take) under_test.push_back(im);
    }
    for (size_t i = 0; i < cases.size(); ++i) {
        const OpCase<Args>& c = cases[i];
        const bool pooled = (i + i / 2) % 2 == 1;  // Threads::alternate
        CaseData d;
        const Args args = c.build(d);
        d.seal();
        const RunResult want = run_case(impls().front(), slot, d, c, args);
        ASSERT_TRUE(want.status.ok()) << op << " '" << c.name << "' on ref: " << want.status.error().message();
        if (c.in_place)
            expect_close(std::string(op) + " '" + c.name + "' on ref, in place vs out of place", d.outputs()[0].view,
                         want.in_place, want.outputs[0], bit_exact());
        for (const Impl& im : under_test) {
            if (threads == Threads::alternate && (im.pool != nullptr) != pooled) continue;
            const std::string where = std::string(op) + " '" + c.name + "' on " + im.name;
            const RunResult got = run_case(im, slot, d, c, args);
            ASSERT_TRUE(got.status.ok()) << where << ": " << got.status.error().message();
            const Tol& tol = is_portable(im.table) && c.portable ? *c.portable : c.tol;
            for (size_t i = 0; i < got.outputs.size(); ++i) {
                const CaseData::Compared& out = d.outputs()[i];
                expect_close(where + ", output " + std::to_string(i), out.view, got.outputs[i], want.outputs[i],
                             out.tol.value_or(tol));
            }
            if (c.in_place)
                expect_close(where + ", in place vs out of place", d.outputs()[0].view, got.in_place, got.outputs[0],
                             bit_exact());
        }
    }
}

}  // namespace loom::kernels::testing
