// Model loading: GGUF (or a Hugging Face directory presented as one, hf_directory.h) → architecture file →
// parameters → blocks per layer, validated as a whole.
#include "runtime/model.h"

#include <fmt/format.h>

#include <map>

#include "arch/arch_lookup.h"
#include "core/thread_pool.h"
#include "formats/gguf_reader.h"
#include "kernels/registry.h"
#include "runtime/hf_directory.h"

namespace loom::runtime {
namespace {

// Parameters the engine itself reads (every architecture file defines them), with sane ranges.
struct Required {
    const char* name;
    int64_t lo, hi;
};
constexpr Required kRequired[] = {
    {"n_vocab", 1, int64_t(1) << 24},
    {"n_embd", 1, int64_t(1) << 17},
    {"n_ctx_train", 1, int64_t(1) << 32},
};
constexpr int64_t kMaxLayers = 4096;

Status check_tokenizer_ids(const formats::GgufFile& f, int64_t n_vocab) {
    int64_t n_tokens = n_vocab;
    if (f.has("tokenizer.ggml.tokens")) {
        auto toks = f.get_string_array("tokenizer.ggml.tokens");
        if (!toks.ok()) return std::move(toks).error();
        n_tokens = int64_t(toks->size());
        if (n_tokens > n_vocab)
            return Error::invalid("tokenizer.ggml.tokens has {} tokens but the model has {} embedding rows", n_tokens,
                                  n_vocab);
    }
    for (const char* key : {"tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                            "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id",
                            "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.eom_token_id"}) {
        if (!f.has(key)) continue;
        auto id = f.get_int(key);
        if (!id.ok()) return std::move(id).error();
        // llama.cpp writes -1 (as u32 0xFFFFFFFF) for "none"; anything else must be a token.
        if (*id == -1 || *id == 0xFFFFFFFFll) continue;
        if (*id < 0 || *id >= n_tokens)
            return Error::invalid("metadata '{}' = {} is outside the vocabulary of {} tokens", key, *id, n_tokens);
    }
    return Ok();
}

class Builder {
public:
    Builder(const arch::ArchFile& a, blocks::WeightBinder& w) : arch_(a), weights_(w) {}

    // Builds `items` for one layer (or the model, layer −1) into `out`, resolving conditions; a sum whose branches
    // are all empty vanishes, and one with a single branch left is that branch.
    void chain(const arch::Chain& items, const arch::Scope& scope, int64_t layer, BlockChain& out) {
        for (const arch::ChainItem& item : items) {
            if (!item.block.empty()) {
                if (auto b = block(item.block, scope, layer)) out.push_back({std::move(b), {}});
                continue;
            }
            if (!item.sum.empty()) {
                ChainNode node;
                for (const arch::Chain& branch : item.sum) {
                    BlockChain built;
                    chain(branch, scope, layer, built);
                    if (!built.empty()) node.sum.push_back(std::move(built));
                }
                if (node.sum.size() == 1) {
                    for (ChainNode& n : node.sum[0]) out.push_back(std::move(n));
                } else if (!node.sum.empty()) {
                    out.push_back(std::move(node));
                }
                continue;
            }
            auto v = item.cond->eval(scope);
            if (!v.ok()) {
                weights_.error(fmt::format("{}:{}: layer {}: {}", arch_.path, item.line, layer, v.error().message()));
                continue;
            }
            chain(v->truthy() ? item.then : item.otherwise, scope, layer, out);
        }
    }

    // Names of the side inputs the model has; blocks that read one are checked against them.
    std::set<std::string> side_inputs;

private:
    std::unique_ptr<blocks::Block> block(const std::string& name, const arch::Scope& scope, int64_t layer) {
        const arch::BlockSpec& spec = arch_.blocks.at(name);
        blocks::BlockFactory make = blocks::find_kind(spec.kind());
        if (!make) {
            std::string all;
            for (const auto& k : blocks::kinds()) all += (all.empty() ? "" : ", ") + k;
            weights_.error(fmt::format("{}: unknown kind '{}' (kinds: {})", spec.where(), spec.kind(), all));
            return nullptr;
        }
        blocks::BindContext ctx{spec, scope, layer, weights_, &side_inputs};
        weights_.set_scope(&scope);
        std::unique_ptr<blocks::Block> b = make(ctx);
        weights_.set_scope(nullptr);
        b->set_names(name, layer >= 0 ? fmt::format("l{}.{}", layer, name) : name);
        if (checked_.insert(name).second)
            if (auto s = spec.check_unknown_keys(); !s.ok()) weights_.error(s.error().message());
        return b;
    }

    const arch::ArchFile& arch_;
    blocks::WeightBinder& weights_;
    std::set<std::string> checked_;
};

}  // namespace

void for_each_block(const BlockChain& chain, const std::function<void(const blocks::Block&)>& fn) {
    for (const ChainNode& node : chain) {
        if (node.block) fn(*node.block);
        for (const BlockChain& branch : node.sum) for_each_block(branch, fn);
    }
}

Model::~Model() = default;

Result<std::unique_ptr<Model>> Model::load(const std::string& path, const LoadOptions& opt) {
    std::unique_ptr<Model> m(new Model());
    LOOM_TRY(formats::GgufFile file, open_model_file(path, opt.arch_file, opt.mode, opt.progress, opt.quantize));
    m->file_ = std::make_unique<formats::GgufFile>(std::move(file));
    const formats::GgufFile& f = *m->file_;

    auto arch_name = f.get_string("general.architecture");
    if (!arch_name.ok()) return std::move(arch_name).error().with_context(path);
    auto arch =
        opt.arch_file.empty() ? arch::load_arch_for(std::string(*arch_name)) : arch::ArchFile::load(opt.arch_file);
    if (!arch.ok()) return std::move(arch).error().with_context(path);
    m->arch_ = std::move(arch).value();

    auto params = arch::Params::bind(m->arch_, f);
    if (!params.ok()) return std::move(params).error().with_context(path);
    m->params_ = std::make_unique<arch::Params>(std::move(params).value());
    const arch::Params& p = *m->params_;

    for (const Required& r : kRequired) {
        auto v = p.lookup(r.name);
        if (!v.ok() || !v->is_number())
            return Error::invalid("{}: {}: the engine needs a numeric parameter '{}' (define it in [params])", path,
                                  m->arch_.path, r.name);
        if (v->num < double(r.lo) || v->num > double(r.hi) || v->num != double(int64_t(v->num)))
            return Error::make(ErrorCode::out_of_range, "{}: parameter '{}' = {} is outside {}..{}", path, r.name,
                               v->to_string(), r.lo, r.hi);
    }
    m->n_vocab_ = p.integer("n_vocab");
    m->n_embd_ = p.integer("n_embd");
    m->n_ctx_train_ = p.integer("n_ctx_train");

    auto n_layer = m->arch_.layer_count.eval_int(p);
    if (!n_layer.ok())
        return std::move(n_layer).error().with_context(
            fmt::format("{}: {}:{}: [layer] count", path, m->arch_.path, m->arch_.layer_count_line));
    if (*n_layer < 1 || *n_layer > kMaxLayers)
        return Error::make(ErrorCode::out_of_range, "{}: {} layers is outside 1..{}", path, *n_layer, kMaxLayers);
    if (auto s = check_tokenizer_ids(f, m->n_vocab_); !s.ok()) return std::move(s).error().with_context(path);
    if (auto s = m->bind_generation(); !s.ok()) return std::move(s).error().with_context(path);

    blocks::WeightBinder weights(f);
    if (auto s = m->build(weights, *n_layer); !s.ok()) return std::move(s).error().with_context(path);
    if (auto s = weights.status(); !s.ok()) return std::move(s).error().with_context(path);

    for (const std::string& name : weights.used()) {
        const formats::TensorInfo* t = f.tensor(name);
        m->weight_bytes_ += int64_t(t->bytes);
        m->n_params_ += t->n_elements();
    }
    if (opt.pack)
        if (auto s = m->pack(weights, *n_layer); !s.ok()) return std::move(s).error().with_context(path);
    return m;
}

Status Model::bind_generation() {
    const arch::Generation& g = arch_.generation;
    if (g.mode != arch::Generation::Mode::diffusion) return Ok();
    diffusion_ = true;
    const std::string where = fmt::format("{}:{}: [model]", arch_.path, g.line);
    auto mask_r = g.mask_token.eval_int(*params_);
    if (!mask_r.ok()) return std::move(mask_r).error().with_context(where + " mask_token");
    const int64_t mask = *mask_r;
    if (mask < 0 || mask >= n_vocab_)
        return Error::invalid(
            "{} mask_token: a diffusion model needs a mask token inside the vocabulary of {} (got {}; "
            "the file's tokenizer.ggml.mask_token_id)",
            where, n_vocab_, mask);
    auto shift = g.shift_logits.eval(*params_);
    if (!shift.ok()) return std::move(shift).error().with_context(where + " shift_logits");
    diffusion_info_.mask_token = int32_t(mask);
    diffusion_info_.shift_logits = shift->is_number() && shift->num != 0;
    return Ok();
}

Status Model::build(blocks::WeightBinder& weights, int64_t n_layer) {
    input_.clear();
    side_.clear();
    layers_.clear();
    output_.clear();
    Builder build(arch_, weights);
    build.chain(arch_.input, *params_, -1, input_);
    for (const arch::SideInput& s : arch_.side) {
        SideInput side{s.name, {}};
        build.chain(s.chain, *params_, -1, side.chain);
        if (side.chain.empty()) continue;  // conditioned out: this model has no such input
        build.side_inputs.insert(s.name);
        side_.push_back(std::move(side));
    }
    for (int64_t l = 0; l < n_layer; ++l) {
        auto scope = arch::LayerScope::make(arch_, *params_, l);
        if (!scope.ok()) return std::move(scope).error();
        Layer layer;
        for (const arch::LayerStep& s : arch_.steps) {
            LayerStep step{s.kind == arch::LayerStep::Kind::replace, {}};
            build.chain(s.chain, *scope, l, step.chain);
            if (!step.chain.empty()) layer.steps.push_back(std::move(step));
        }
        // The memory keeps one record per layer: two blocks that each want one cannot share it.
        std::vector<std::string> keepers;
        for (const LayerStep& step : layer.steps)
            for_each_block(step.chain, [&](const blocks::Block& b) {
                if (b.memory_spec()) keepers.push_back(b.name());
            });
        if (keepers.size() > 1)
            weights.error(fmt::format("{}: layer {}: blocks {} and {} both keep memory; one block per layer may",
                                      arch_.path, l, keepers[0], keepers[1]));
        layers_.push_back(std::move(layer));
    }
    build.chain(arch_.output, *params_, -1, output_);
    // The memory is per layer: a block that keeps some cannot sit in the input, side or output chains.
    std::vector<const BlockChain*> outside = {&input_, &output_};
    for (const SideInput& s : side_) outside.push_back(&s.chain);
    for (const BlockChain* c : outside)
        for_each_block(*c, [&](const blocks::Block& b) {
            if (b.memory_spec())
                weights.error(
                    fmt::format("{}: block {} keeps memory (K/V or state), so it belongs in [layer], not in "
                                "the model's input, side or output chains",
                                arch_.path, b.name()));
        });
    return Ok();
}

Status Model::pack(const blocks::WeightBinder& weights, int64_t n_layer) {
    const kernels::OpTable* ops = kernels::op_table(kernels::Backend::cpu);
    if (!ops || !ops->pack_weight) return Ok();
    kernels::Stream s;
    s.pool = &global_thread_pool();
    std::map<std::string, const PackedWeight*> by_name;
    for (const auto& [name, view] : weights.matmul_used()) {
        LOOM_TRY(std::unique_ptr<PackedWeight> pw, ops->pack_weight(view, s));
        if (!pw) continue;
        packed_bytes_ += int64_t(pw->bytes);
        by_name[name] = pw.get();
        packed_.push_back(std::move(pw));
    }
    if (packed_.empty()) return Ok();
    // The views the blocks hold are copies made at binding: bind again, now with the packed forms attached.
    blocks::WeightBinder again(*file_);
    again.set_packed(by_name);
    LOOM_RETURN_IF_ERROR(build(again, n_layer));
    LOOM_ASSERT(again.ok(), "binding changed between two passes: {}", again.status().error().message());
    for (const std::string& name : weights.matmul_only())
        if (by_name.count(name)) released_bytes_ += int64_t(file_->release(*file_->tensor(name)));
    return Ok();
}

std::vector<exec::MemorySpec> Model::memory_layout() const {
    std::vector<exec::MemorySpec> out(layers_.size());
    for (size_t l = 0; l < layers_.size(); ++l)
        for (const LayerStep& step : layers_[l].steps)
            for_each_block(step.chain, [&](const blocks::Block& b) {
                if (auto s = b.memory_spec()) out[l] = *s;
            });
    return out;
}

}  // namespace loom::runtime
