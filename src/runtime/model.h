// A loaded model: the GGUF file, its architecture file, the bound hyperparameters and, for every layer,
// the chain of blocks the architecture file wires (conditional items already resolved per layer).
// Loading validates everything before anything is allocated for inference: metadata, checks, every
// tensor's presence and shape (all problems listed at once), tokenizer ids inside the vocabulary.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "arch/arch_file.h"
#include "arch/params.h"
#include "blocks/block.h"
#include "core/packed_weight.h"
#include "formats/mapped_file.h"

namespace loom::formats {
class GgufFile;
}

namespace loom::runtime {

struct LoadOptions {
    formats::LoadMode mode = formats::LoadMode::map;
    // Matmul weights in the CPU kernels' packed layouts where they have one (kernels/cpu/weight_pack.h): faster,
    // the same bits. The packed bytes replace the file's resident pages of weights used only by matmul.
    bool pack = true;
    std::string arch_file;  // a specific .arch.toml instead of archs/<general.architecture>.arch.toml
    formats::MappedFile::ProgressFn progress;  // bytes read so far (LoadMode::read)
    std::string quantize;  // a Hugging Face directory's weights quantized at load to this type (hf_quantize.h)
};

// A chain built for one layer (conditions resolved): blocks in order, and sums of branches that read the same
// input and add their outputs.
struct ChainNode;
using BlockChain = std::vector<ChainNode>;
struct ChainNode {
    std::unique_ptr<blocks::Block> block;  // or, when null:
    std::vector<BlockChain> sum;
};
// Calls fn on every block of the chain, nested ones included.
void for_each_block(const BlockChain& chain, const std::function<void(const blocks::Block&)>& fn);

struct LayerStep {
    bool replace = false;  // h = chain(h); else h = h + chain(h)
    BlockChain chain;
};

// A side input: computed once per pass from the input chain's h, read by name by layer blocks.
struct SideInput {
    std::string name;
    BlockChain chain;
};

// A masked-diffusion model's generation settings ([model] generation = "diffusion").
struct DiffusionInfo {
    int32_t mask_token = -1;    // the canvas's unfilled positions
    bool shift_logits = false;  // position p is predicted by the logits of p − 1 (p = 0 by its own)
};

struct Layer {
    std::vector<LayerStep> steps;  // in order; steps whose chain is empty for this layer are left out
};

class Model {
public:
    static Result<std::unique_ptr<Model>> load(const std::string& path, const LoadOptions& opt = {});
    ~Model();

    const formats::GgufFile& file() const { return *file_; }
    const arch::ArchFile& arch() const { return arch_; }
    const arch::Params& params() const { return *params_; }

    int64_t n_vocab() const { return n_vocab_; }
    int64_t n_embd() const { return n_embd_; }
    int64_t n_ctx_train() const { return n_ctx_train_; }
    int64_t n_layer() const { return int64_t(layers_.size()); }

    const BlockChain& input() const { return input_; }
    const BlockChain& output() const { return output_; }
    const std::vector<SideInput>& side_inputs() const { return side_; }
    const std::vector<Layer>& layers() const { return layers_; }
    // Diffusion models generate by unmasking a canvas with cache-less bidirectional passes (runtime/diffusion.h);
    // Session::decode refuses them.
    bool diffusion() const { return diffusion_; }
    const DiffusionInfo& diffusion_info() const { return diffusion_info_; }
    // What each layer keeps in the session's memory (exec/memory.h), as its blocks declare it.
    std::vector<exec::MemorySpec> memory_layout() const;

    int64_t weight_bytes() const { return weight_bytes_; }  // bytes of the tensors the blocks bound
    int64_t n_params() const { return n_params_; }
    // Packed matmul weights (LoadOptions::pack): how many, their bytes, and the file bytes they freed.
    int64_t n_packed() const { return int64_t(packed_.size()); }
    int64_t packed_bytes() const { return packed_bytes_; }
    int64_t released_bytes() const { return released_bytes_; }

private:
    Model() = default;
    // Builds every block chain from the bound parameters (replacing any built before); binding problems are
    // collected in `weights`, a layer scope that cannot be made is returned.
    Status build(blocks::WeightBinder& weights, int64_t n_layer);
    // Packs the matmul weights `weights` bound and rebuilds the blocks with the packed forms attached.
    Status pack(const blocks::WeightBinder& weights, int64_t n_layer);
    Status bind_generation();  // [model] generation and its diffusion options, evaluated and checked
    std::unique_ptr<formats::GgufFile> file_;
    arch::ArchFile arch_;
    std::unique_ptr<arch::Params> params_;
    BlockChain input_, output_;
    std::vector<SideInput> side_;
    std::vector<Layer> layers_;
    int64_t n_vocab_ = 0, n_embd_ = 0, n_ctx_train_ = 0;
    bool diffusion_ = false;
    DiffusionInfo diffusion_info_;
    int64_t weight_bytes_ = 0, n_params_ = 0;
    std::vector<std::unique_ptr<PackedWeight>> packed_;
    int64_t packed_bytes_ = 0, released_bytes_ = 0;
};

}  // namespace loom::runtime
