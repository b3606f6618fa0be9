// Builds each backend's op table once; the per-op files contribute through their register functions.
#include "kernels/registry.h"

#include <algorithm>
#include <vector>

#include "core/cpu_features.h"
#include "core/thread_pool.h"
#include "kernels/cpu/cpu_ops.h"
#include "kernels/ref/ref_ops.h"

namespace loom::kernels {

const char* name(Backend b) {
    switch (b) {
        case Backend::ref: return "ref";
        case Backend::cpu: return "cpu";
        case Backend::cuda: return "cuda";
    }
    return "?";
}

uint8_t* Stream::scratch(size_t bytes) {
    if (workspace.size() < bytes + 64) workspace.resize(bytes + 64);
    auto p = reinterpret_cast<uintptr_t>(workspace.data());
    return workspace.data() + ((64 - (p & 63)) & 63);
}

int Stream::n_threads() const { return pool ? pool->size() : 1; }

std::span<const OpTable> variants(Backend b) {
    static const OpTable ref_table = ref::make_op_table();
    static const std::vector<OpTable> cpu_tables = cpu::make_variants(cpu_features());
    switch (b) {
        case Backend::ref: return {&ref_table, 1};
        case Backend::cpu: return cpu_tables;
        case Backend::cuda: return {};  // TODO(#7): CUDA backend
    }
    return {};
}

const OpTable* op_table(Backend b) {
    const std::span<const OpTable> v = variants(b);
    return v.empty() ? nullptr : &v.back();
}

}  // namespace loom::kernels
