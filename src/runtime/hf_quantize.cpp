// Quantization at load for Hugging Face directories (hf_quantize.h).
#include "runtime/hf_quantize.h"

#include <atomic>

#include "core/thread_pool.h"
#include "kernels/ref/quant.h"

namespace loom::runtime {
namespace {

bool ends_with(const std::string& s, std::string_view end) {
    return s.size() >= end.size() && s.compare(s.size() - end.size(), end.size(), end) == 0;
}
bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// llama-quantize's tensor_type_fallback: a type whose blocks fit a row that the wanted one's do not.
DType fallback(DType want, int64_t row) {
    if (row % info(want).block_elems == 0) return want;
    DType next = want;
    switch (want) {
        case DType::q2_k:
        case DType::q3_k: next = DType::q4_0; break;
        case DType::q4_k: next = DType::q5_0; break;
        case DType::q5_k: next = DType::q5_1; break;
        case DType::q6_k: next = DType::q8_0; break;
        case DType::iq4_xs: next = DType::iq4_nl; break;
        default: break;
    }
    return row % info(next).block_elems == 0 ? next : DType::f16;
}

}  // namespace

Result<DType> hf_quantize_target(const std::string& name) {
    static constexpr DType kTargets[] = {DType::q8_0, DType::q4_0, DType::q4_1,   DType::q5_0,
                                         DType::q5_1, DType::q2_k, DType::q3_k,   DType::q4_k,
                                         DType::q5_k, DType::q6_k, DType::iq4_nl, DType::iq4_xs};
    const auto t = dtype_from_name(name);
    std::string known;
    for (DType k : kTargets) {
        if (t == k) return k;
        known += (known.empty() ? "" : ", ") + std::string(loom::name(k));
    }
    return Error::invalid("--quantize {}: not a type loom quantizes weights to (known: {})", name, known);
}

DType hf_quant_type(const std::string& name, const std::vector<int64_t>& shape, DType stored, DType target,
                    bool tied_output) {
    if (shape.size() < 2 || !ends_with(name, "weight") || contains(name, "_norm.weight") ||
        contains(name, "ffn_gate_inp.weight") || contains(name, "ssm_conv1d") || contains(name, "per_layer_model_proj"))
        return stored;
    const int64_t row = shape.back();
    // Both token embeddings take the head's type when the head is tied (llama-quantize's TOKEN_EMBD category).
    const bool token_embd = name == "token_embd.weight" || name == "per_layer_token_embd.weight";
    if (name == "output.weight" || (tied_output && token_embd)) {
        if (row % info(target).block_elems != 0 || target == DType::q8_0) return DType::q8_0;
        return fallback(DType::q6_k, row);
    }
    return fallback(target, row);
}

Result<std::vector<uint8_t>> hf_quantize_tensor(DType from, const uint8_t* data, const std::vector<int64_t>& shape,
                                                DType to) {
    const int64_t row = shape.back();
    int64_t rows = 1;
    for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
    const int64_t in_bytes = row_bytes(from, row), out_bytes = row_bytes(to, row);
    std::vector<uint8_t> out(size_t(rows * out_bytes));
    ThreadPool& pool = global_thread_pool();
    std::vector<std::vector<float>> scratch(size_t(pool.size()), std::vector<float>(size_t(row)));
    std::atomic<bool> failed{false};
    pool.parallel_for(rows, 16, [&](int64_t b, int64_t e, int thread) {
        float* x = scratch[size_t(thread)].data();
        for (int64_t r = b; r < e && !failed; ++r)
            if (!kernels::ref::dequantize_row(from, data + r * in_bytes, x, row).ok() ||
                !kernels::ref::quantize_row(to, x, out.data() + r * out_bytes, row).ok())
                failed = true;
    });
    if (failed) return Error::invalid("quantizing {} rows of {} from {} to {} failed", rows, row, name(from), name(to));
    return out;
}

}  // namespace loom::runtime
