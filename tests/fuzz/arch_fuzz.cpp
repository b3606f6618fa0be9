// libFuzzer target for architecture files (archs/*.arch.toml): arbitrary text through the TOML parser and
// ArchFile::parse and, when it parses, the validation a model load does before any block exists: the
// parameters bound against a small GGUF's metadata (with the file's own [arch] name), the [[check]]s, the
// layer count, each layer's let values and the conditions of its chains. Invariants: no crash, no hang, and
// every error names the file.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "arch/arch_file.h"
#include "arch/params.h"
#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"

namespace {

using namespace loom;

constexpr const char* kPath = "fuzz.arch.toml";

[[noreturn]] void fail(const char* what, const std::string& detail) {
    std::fprintf(stderr, "arch_fuzz: invariant broken: %s: %s\n", what, detail.c_str());
    std::abort();
}

// Metadata of a tiny decoder under the family name `arch`, with the keys the shipped arch files read.
formats::GgufFile model_for(const std::string& arch) {
    formats::GgufWriter w;
    w.set("general.architecture", arch);
    w.set(arch + ".embedding_length", uint32_t(64));
    w.set(arch + ".block_count", uint32_t(3));
    w.set(arch + ".context_length", uint32_t(256));
    w.set(arch + ".feed_forward_length", uint32_t(128));
    w.set(arch + ".attention.head_count", uint32_t(4));
    w.set(arch + ".attention.head_count_kv", uint32_t(2));
    w.set(arch + ".attention.layer_norm_rms_epsilon", 1e-6f);
    w.set(arch + ".rope.freq_base", 10000.f);
    w.set(arch + ".attention.sliding_window", uint32_t(64));
    const std::vector<float> embd(16 * 64, 0.f);
    w.add_tensor_f32("token_embd.weight", {16, 64}, embd);
    auto bytes = w.to_bytes();
    if (!bytes.ok()) fail("the fuzz model does not serialise", bytes.error().message());
    auto f = formats::GgufFile::parse(std::move(*bytes), "fuzz.gguf");
    if (!f.ok()) fail("the fuzz model does not parse", f.error().message());
    return std::move(*f);
}

template <typename T>
bool checked(const Result<T>& r) {
    if (!r.ok() && r.error().message().empty()) fail("an error without a message", "");
    return r.ok();
}

// Every condition of a chain, nested ones included, evaluates or fails with a message.
void eval_conditions(const arch::Chain& chain, const arch::Scope& scope) {
    for (const arch::ChainItem& item : chain) {
        if (item.cond) (void)checked(item.cond->eval(scope));
        eval_conditions(item.then, scope);
        eval_conditions(item.otherwise, scope);
        for (const arch::Chain& branch : item.sum) eval_conditions(branch, scope);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    auto arch = arch::ArchFile::parse(text, kPath);
    if (!arch.ok()) {
        if (arch.error().message().find(kPath) == std::string::npos)
            fail("a parse error that does not name the file", arch.error().message());
        return 0;
    }
    const formats::GgufFile model = model_for(arch->name);
    auto params = arch::Params::bind(*arch, model);
    if (!checked(params)) return 0;
    auto n_layer = arch->layer_count.eval_int(*params);
    if (!checked(n_layer)) return 0;
    for (int64_t layer = 0; layer < std::min<int64_t>(*n_layer, 4); ++layer) {
        auto scope = arch::LayerScope::make(*arch, *params, layer);
        if (!checked(scope)) continue;
        for (const arch::LayerStep& step : arch->steps) eval_conditions(step.chain, *scope);
    }
    return 0;
}
