// Fast CPU unary, binary, scale and glu: drivers that split rows (and long rows into chunks) over the pool,
// the portable row kernels, ggml's f16 activation tables, and the work-splitting helper of the family.
#include "kernels/cpu/elementwise.h"

#include <algorithm>
#include <memory>

#include "core/thread_pool.h"
#include "kernels/ref/elementwise_common.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::cpu {

void parallel_units(Stream& s, int64_t n, int64_t unit_elems, const std::function<void(int64_t, int64_t)>& fn) {
    constexpr int64_t kTaskElems = 16384;  // below this a task costs about as much as waking a worker
    if (n <= 0) return;
    const int64_t grain = std::max<int64_t>(1, kTaskElems / std::max<int64_t>(1, unit_elems));
    if (!s.pool || s.pool->size() <= 1 || n <= grain) {
        fn(0, n);
        return;
    }
    s.pool->parallel_for(n, grain, [&](int64_t begin, int64_t end, int) { fn(begin, end); });
}

namespace {

// Element-wise work over [n_rows, d]: each unit is a row, or a chunk of a long row so that a single decode
// row (one token of d_ff) still spreads over the threads. Chunks are a multiple of 8 long, so the SIMD
// kernels see the same groups of 8 (and the same scalar tail) as a whole-row pass.
void for_row_chunks(Stream& s, int64_t n_rows, int64_t d,
                    const std::function<void(int64_t row, int64_t c0, int64_t n)>& fn) {
    constexpr int64_t kChunk = 8192;
    const int64_t per_row = d > 2 * kChunk ? (d + kChunk - 1) / kChunk : 1;
    const int64_t chunk = per_row == 1 ? d : kChunk;
    parallel_units(s, n_rows * per_row, chunk, [&](int64_t u0, int64_t u1) {
        for (int64_t u = u0; u < u1; ++u) {
            const int64_t r = u / per_row, c0 = (u % per_row) * chunk;
            fn(r, c0, std::min(chunk, d - c0));
        }
    });
}

std::unique_ptr<float[]> make_table(float (*f)(float)) {
    auto t = std::make_unique<float[]>(1 << 16);
    for (uint32_t i = 0; i < (1u << 16); ++i) t[i] = f16_to_f32(f32_to_f16(f(f16_to_f32(uint16_t(i)))));
    return t;
}

inline float gelu_tanh_lookup(const float* table, float x) {
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    return table[f32_to_f16(x)];
}

}  // namespace

const float* gelu_tanh_table() {
    static const std::unique_ptr<float[]> table = make_table(ref::gelu_tanh_f32);
    return table.get();
}

const float* gelu_quick_table() {
    static const std::unique_ptr<float[]> table = make_table(ref::gelu_quick_f32);
    return table.get();
}

namespace portable {

void unary(UnaryOp op, float* y, const float* x, int64_t n) {
    if (op == UnaryOp::gelu_tanh) {
        const float* table = gelu_tanh_table();
        for (int64_t i = 0; i < n; ++i) y[i] = gelu_tanh_lookup(table, x[i]);
    } else if (op == UnaryOp::gelu_quick) {
        const float* table = gelu_quick_table();
        for (int64_t i = 0; i < n; ++i) y[i] = table[f32_to_f16(x[i])];
    } else {
        for (int64_t i = 0; i < n; ++i) y[i] = ref::apply_unary(op, x[i]);
    }
}

void glu(UnaryOp act, float* y, const float* gate, const float* up, int64_t n) {
    // Element by element, so that y may alias gate or up.
    if (act == UnaryOp::gelu_tanh) {
        const float* table = gelu_tanh_table();
        for (int64_t i = 0; i < n; ++i) y[i] = gelu_tanh_lookup(table, gate[i]) * up[i];
    } else if (act == UnaryOp::gelu_quick) {
        const float* table = gelu_quick_table();
        for (int64_t i = 0; i < n; ++i) y[i] = table[f32_to_f16(gate[i])] * up[i];
    } else {
        for (int64_t i = 0; i < n; ++i) y[i] = ref::apply_unary(act, gate[i]) * up[i];
    }
}

void binary(BinaryOp op, float* y, const float* a, const float* b, int64_t n) {
    switch (op) {
        case BinaryOp::add:
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
            break;
        case BinaryOp::sub:
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] - b[i];
            break;
        case BinaryOp::mul:
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] * b[i];
            break;
        case BinaryOp::div:
            for (int64_t i = 0; i < n; ++i) y[i] = a[i] / b[i];
            break;
    }
}

void scale(float* y, const float* x, float s, float bias, int64_t n) {
    for (int64_t i = 0; i < n; ++i) y[i] = ref::scale_bias(x[i], s, bias);
}

}  // namespace portable

Status unary(const UnaryArgs& a, Stream& s, const EwKernels& k) {
    LOOM_RETURN_IF_ERROR(ref::check_unary_args(a));
    for_row_chunks(s, a.x.n_rows(), a.x.row_length(), [&](int64_t r, int64_t c0, int64_t n) {
        k.unary(a.op, a.y.row<float>(r) + c0, a.x.row<float>(r) + c0, n);
    });
    return Ok{};
}

Status binary(const BinaryArgs& a, Stream& s, const EwKernels& k) {
    LOOM_RETURN_IF_ERROR(ref::check_binary_args(a));
    const int64_t nb = a.b.n_rows();
    if (a.b.row_length() != a.a.row_length()) {  // one b value per row (element-wise: same bits in any order)
        for_row_chunks(s, a.a.n_rows(), a.a.row_length(), [&](int64_t r, int64_t c0, int64_t n) {
            const float bv = *a.b.row<float>(r % nb);
            const float* x = a.a.row<float>(r) + c0;
            float* y = a.y.row<float>(r) + c0;
            for (int64_t i = 0; i < n; ++i) y[i] = ref::apply_binary(a.op, x[i], bv);
        });
        return Ok{};
    }
    for_row_chunks(s, a.a.n_rows(), a.a.row_length(), [&](int64_t r, int64_t c0, int64_t n) {
        k.binary(a.op, a.y.row<float>(r) + c0, a.a.row<float>(r) + c0, a.b.row<float>(r % nb) + c0, n);
    });
    return Ok{};
}

Status scale(const ScaleArgs& a, Stream& s, const EwKernels& k) {
    LOOM_RETURN_IF_ERROR(ref::check_scale_args(a));
    for_row_chunks(s, a.x.n_rows(), a.x.row_length(), [&](int64_t r, int64_t c0, int64_t n) {
        k.scale(a.y.row<float>(r) + c0, a.x.row<float>(r) + c0, a.scale, a.bias, n);
    });
    return Ok{};
}

Status glu(const GluArgs& a, Stream& s, const EwKernels& k) {
    LOOM_RETURN_IF_ERROR(ref::check_glu_args(a));
    for_row_chunks(s, a.gate.n_rows(), a.gate.row_length(), [&](int64_t r, int64_t c0, int64_t n) {
        k.glu(a.act, a.y.row<float>(r) + c0, a.gate.row<float>(r) + c0, a.up.row<float>(r) + c0, n);
    });
    return Ok{};
}

}  // namespace loom::kernels::cpu
