// Registers the attention family (attention, conv1d, delta_net) at a variant: AVX2 micro-kernels from avx2 up.
#include "kernels/cpu/attention_kernels.h"
#include "kernels/cpu/register.h"

namespace loom::kernels::cpu {

namespace {
Status attention_portable(const AttentionArgs& a, Stream& s) {
    return attention_with(a, s, attention_micro_portable());
}
Status attention_avx2(const AttentionArgs& a, Stream& s) { return attention_with(a, s, attention_micro_avx2()); }
Status delta_net_portable(const DeltaNetArgs& a, Stream& s) { return delta_net_with(a, s, delta_net_micro_portable()); }
Status delta_net_avx2(const DeltaNetArgs& a, Stream& s) { return delta_net_with(a, s, delta_net_micro_avx2()); }
Status conv1d_portable(const Conv1dArgs& a, Stream& s) { return conv1d_with(a, s, conv1d_micro_portable()); }
Status conv1d_avx2(const Conv1dArgs& a, Stream& s) { return conv1d_with(a, s, conv1d_micro_avx2()); }
}  // namespace

void register_attention(OpTable& t, CpuIsa isa) {
    const bool avx2 = isa != CpuIsa::portable;
    t.attention = avx2 ? attention_avx2 : attention_portable;
    t.conv1d = avx2 ? conv1d_avx2 : conv1d_portable;
    t.delta_net = avx2 ? delta_net_avx2 : delta_net_portable;
}

}  // namespace loom::kernels::cpu
