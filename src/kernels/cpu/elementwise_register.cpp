// Registers the element-wise family: the AVX2 row kernels from the avx2 variant up (AVX2+FMA+F16C), portable
// ones otherwise. Each OpTable entry is a small function bound to one kernel table.
#include "kernels/cpu/elementwise.h"
#include "kernels/cpu/register.h"
#include "kernels/ref/no_fp_contract.h"  // last: see there

namespace loom::kernels::cpu {

namespace {

const EwKernels kPortable{
    portable::sum_squares, portable::mul_scale, portable::softmax_row, portable::unary,     portable::glu,
    portable::binary,      portable::scale,     portable::rope_norm,   portable::rope_neox,
};

template <EwIsa kIsa>
struct Bound {
    static Status norm(const NormArgs& a, Stream& s) { return cpu::norm(a, s, ew_kernels(kIsa)); }
    static Status rope(const RopeArgs& a, Stream& s) { return cpu::rope(a, s, ew_kernels(kIsa)); }
    static Status softmax(const SoftmaxArgs& a, Stream& s) { return cpu::softmax(a, s, ew_kernels(kIsa)); }
    static Status unary(const UnaryArgs& a, Stream& s) { return cpu::unary(a, s, ew_kernels(kIsa)); }
    static Status binary(const BinaryArgs& a, Stream& s) { return cpu::binary(a, s, ew_kernels(kIsa)); }
    static Status scale(const ScaleArgs& a, Stream& s) { return cpu::scale(a, s, ew_kernels(kIsa)); }
    static Status glu(const GluArgs& a, Stream& s) { return cpu::glu(a, s, ew_kernels(kIsa)); }

    static void fill(OpTable& t) {
        t.norm = norm;
        t.rope = rope;
        t.softmax = softmax;
        t.unary = unary;
        t.binary = binary;
        t.scale = scale;
        t.glu = glu;
        t.top_k = cpu::top_k;  // no SIMD: the same code for every ISA
        t.moe_route = cpu::moe_route;
        t.weighted_sum = cpu::weighted_sum;
    }
};

}  // namespace

const EwKernels& ew_kernels(EwIsa isa) {
#if defined(__x86_64__)
    if (isa == EwIsa::avx2) return x86::ew_kernels_avx2();
#endif
    return kPortable;
}

void fill_elementwise(OpTable& t, EwIsa isa) {
    if (isa == EwIsa::avx2) Bound<EwIsa::avx2>::fill(t);
    else Bound<EwIsa::portable>::fill(t);
}

void register_elementwise(OpTable& t, CpuIsa isa) {
    fill_elementwise(t, isa == CpuIsa::portable ? EwIsa::portable : EwIsa::avx2);
}

}  // namespace loom::kernels::cpu
