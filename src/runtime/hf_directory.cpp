// Opening a Hugging Face model directory as a GGUF file (hf_directory.h): the family, the metadata
// (hf_metadata.h), then every checkpoint tensor matched to an [hf.tensors] rule, stacked, transformed and checked.
#include "runtime/hf_directory.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <nlohmann/json.hpp>

#include "arch/arch_file.h"
#include "arch/arch_lookup.h"
#include "arch/embedded_archs.h"
#include "arch/expr.h"
#include "arch/hf_map.h"
#include "formats/gguf_writer.h"
#include "formats/safetensors_checkpoint.h"
#include "runtime/hf_metadata.h"
#include "runtime/hf_quantize.h"
#include "runtime/hf_transform.h"

namespace loom::runtime {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// Tensors llama.cpp's converter drops from every checkpoint (conversion/base.py ModelBase.filter_tensors): buffers
// that the model recomputes, not weights.
constexpr const char* kDroppedSuffixes[] = {".rotary_emb.inv_freq", ".attention.masked_bias", ".attention.bias"};

bool dropped(const std::string& name, const std::vector<std::string>& ignore) {
    for (const char* s : kDroppedSuffixes) {
        const std::string_view sv(s);
        if (name.size() >= sv.size() && name.compare(name.size() - sv.size(), sv.size(), sv) == 0) return true;
    }
    return std::any_of(ignore.begin(), ignore.end(),
                       [&](const std::string& p) { return arch::match_hf_ignore(p, name); });
}

// The [hf] ignore patterns that apply to this checkpoint: the plain ones, and those whose `if` holds.
Result<std::vector<std::string>> ignored(const arch::HfMap& map, const json& config, const std::string& source) {
    std::vector<std::string> out;
    for (const arch::HfIgnore& i : map.ignore) {
        if (i.when) {
            auto v = eval_config(*i.when, config, nullptr);
            if (!v.ok())
                return std::move(v).error().with_context(fmt::format("{}: [hf] ignore '{}'", source, i.pattern));
            if (!v->truthy()) continue;
        }
        out.push_back(i.pattern);
    }
    return out;
}

// The family whose [hf] architectures lists config.json's first "architectures" value.
Result<arch::ArchFile> family_for(const json& config, const std::string& source) {
    std::string want;
    if (config.contains("architectures") && config["architectures"].is_array() && !config["architectures"].empty() &&
        config["architectures"][0].is_string())
        want = config["architectures"][0].get<std::string>();
    if (want.empty())
        return Error::invalid("{}: config.json has no \"architectures\" list naming the model class", source);
    std::string known;
    for (const arch::EmbeddedArch& e : arch::embedded_archs()) {
        auto a = arch::load_arch_for(std::string(e.family));
        if (!a.ok() || !a->hf) continue;
        for (const std::string& name : a->hf->architectures) {
            if (name == want) return std::move(a).value();
            known += (known.empty() ? "" : ", ") + name;
        }
    }
    return Error::unsupported("{}: config.json architecture '{}' is not one loom maps from Hugging Face (known: {})",
                              source, want, known);
}

// One GGUF tensor to make: the checkpoint tensors it comes from (several when experts are stacked) and its rule.
struct Group {
    const arch::HfTensorRule* rule = nullptr;
    std::string name;                                         // GGUF name
    std::map<int64_t, const formats::SafeTensor*> by_expert;  // expert → tensor; key -1 when not stacked
};

class Assembler {
public:
    Assembler(std::string source, std::shared_ptr<const formats::SafetensorsCheckpoint> ckpt,
              const formats::GgufWriter& meta, const json& config)
        : source_(std::move(source)), ckpt_(std::move(ckpt)), meta_(meta), config_(config) {}

    Status add(const Group& g) {
        const formats::SafeTensor& first = *g.by_expert.begin()->second;
        const std::string where = fmt::format("{}: tensor '{}' @0x{:x}", source_, first.name, first.offset);
        for (const auto& [e, t] : g.by_expert)
            if (!t->type)
                return Error::unsupported("{}: tensor '{}' @0x{:x}: unsupported dtype {} (loom reads F32, F16, BF16)",
                                          source_, t->name, t->offset, t->dtype);
        const bool stacked = g.by_expert.begin()->first >= 0;
        const bool one_dim_to_f32 = first.shape.size() <= 1 && first.type != DType::f32;
        if (!stacked && g.rule->transforms.empty() && !one_dim_to_f32) {
            // Stored as the model uses it: a view of the mapping.
            tensors_.push_back({g.name, *first.type, first.shape, first.data, first.bytes, first.offset});
            return Ok();
        }
        LoadTensor t;
        t.type = *first.type;
        std::vector<std::string> steps;
        if (stacked) {
            int64_t want = 0;
            for (const auto& [e, x] : g.by_expert) {
                if (e != want)
                    return Error::invalid("{}: experts of '{}' skip number {} (have {})", where, g.name, want, e);
                if (x->type != first.type || x->shape != first.shape)
                    return Error::invalid("{}: expert {} is {} {}, expert 0 is {} {}", where, e, x->dtype,
                                          fmt::join(x->shape, "×"), first.dtype, fmt::join(first.shape, "×"));
                t.bytes.insert(t.bytes.end(), x->data, x->data + x->bytes);
                ++want;
            }
            t.shape = first.shape;
            t.shape.insert(t.shape.begin(), want);
            steps.push_back(fmt::format("stack {} experts", want));
        } else {
            t.shape = first.shape;
            t.bytes.assign(first.data, first.data + first.bytes);
        }
        for (const arch::HfTransform& tr : g.rule->transforms) {
            auto r = apply_hf_transform(tr, std::move(t), [&](const std::string& a) { return arg(a); });
            if (!r.ok()) return std::move(r).error().with_context(where);
            t = std::move(r).value();
            steps.push_back(resolved(tr));
        }
        // The converter stores 1-D tensors (norms, biases) as f32 (vision-and-safetensors §2.4).
        if (t.shape.size() <= 1 && t.type != DType::f32) {
            t = apply_hf_transform({"f32", {}, "f32"}, std::move(t), {}).value();
            steps.emplace_back("f32 (1-D)");
        }
        keep(g.name, std::move(t));
        report_.push_back(fmt::format("{} ← {}{}: {}", g.name, first.name, stacked ? " (and the other experts)" : "",
                                      fmt::join(steps, ", ")));
        return Ok();
    }

    // A tensor computed from config.json alone (an f32 vector), unless its `if` does not hold.
    Status generate(const arch::HfGenerated& g) {
        const std::string where = fmt::format("{}/config.json: [hf.generated] '{}'", source_, g.name);
        if (g.when) {
            auto when = eval_config(*g.when, config_, meta_);
            if (!when.ok()) return std::move(when).error().with_context(where);
            if (!when->truthy()) return Ok();
        }
        for (const formats::ExternalTensor& t : tensors_)
            if (t.name == g.name) return Error::invalid("{}: the checkpoint has a tensor mapped to it too", where);
        auto values = eval_each(g.each, g.value, config_, &meta_, nullptr, &g.lets);
        if (!values.ok()) return std::move(values).error().with_context(where);
        // Each value rounded to the nearest f32, as torch.tensor(values, dtype=torch.float32) does.
        std::vector<float> f(values->begin(), values->end());
        LoadTensor t;
        t.shape = {int64_t(f.size())};
        t.bytes.resize(f.size() * sizeof(float));
        std::memcpy(t.bytes.data(), f.data(), t.bytes.size());
        keep(g.name, std::move(t));
        report_.push_back(fmt::format("{} ← generated: {} values of '{}'", g.name, f.size(), g.value.text()));
        return Ok();
    }

    // --quantize: every tensor hf_quant_type picks, encoded from its loaded values; the bytes it replaces are let
    // go (a made tensor's buffer freed, a view's pages released).
    Status quantize(DType target) {
        const bool tied = std::none_of(tensors_.begin(), tensors_.end(),
                                       [](const formats::ExternalTensor& t) { return t.name == "output.weight"; });
        std::map<std::string, int> count;
        for (formats::ExternalTensor& t : tensors_) {
            const DType to = hf_quant_type(t.name, t.shape, t.type, target, tied);
            if (to == t.type) continue;
            auto q = hf_quantize_tensor(t.type, t.data, t.shape, to);
            if (!q.ok()) return std::move(q).error().with_context(fmt::format("{}: tensor '{}'", source_, t.name));
            if (auto m = made_.find(t.data); m != made_.end()) owners_[m->second].reset();
            else ckpt_->release(t.data, t.bytes);
            auto buf = std::make_shared<std::vector<uint8_t>>(std::move(q).value());
            t.type = to;
            t.data = buf->data();
            t.bytes = buf->size();
            t.offset = 0;
            owners_.push_back(buf);
            ++count[std::string(name(to))];
        }
        std::vector<std::string> parts;
        parts.reserve(count.size());
        for (const auto& [type, n] : count) parts.push_back(fmt::format("{} tensor(s) {}", n, type));
        report_.push_back(fmt::format("--quantize {}: {}", name(target),
                                      parts.empty() ? "nothing" : fmt::format("{}", fmt::join(parts, ", "))));
        return Ok();
    }

    std::vector<formats::ExternalTensor> tensors_;
    std::vector<std::shared_ptr<const void>> owners_;
    std::vector<std::string> report_;

private:
    // A made tensor: its bytes owned by the file.
    void keep(const std::string& name, LoadTensor t) {
        auto buf = std::make_shared<std::vector<uint8_t>>(std::move(t.bytes));
        tensors_.push_back({name, t.type, t.shape, buf->data(), buf->size(), 0});
        made_[buf->data()] = owners_.size();
        owners_.push_back(buf);
    }

    // The transform as applied: its arguments' values ("rope_permute(4)"), for the report.
    std::string resolved(const arch::HfTransform& tr) const {
        if (tr.args.empty()) return tr.op;
        std::vector<std::string> vals;
        for (const std::string& a : tr.args) {
            auto v = arg(a);
            vals.push_back(v.ok() ? fmt::format("{}", *v) : a);
        }
        return fmt::format("{}({})", tr.op, fmt::join(vals, ", "));
    }

    // A transform argument: a number, or a metadata key written from config.json.
    Result<double> arg(const std::string& a) const {
        char* end = nullptr;
        const double v = std::strtod(a.c_str(), &end);
        if (end && *end == '\0' && end != a.c_str()) return v;
        if (std::any_of(meta_.metadata().begin(), meta_.metadata().end(),
                        [&](const auto& kv) { return kv.first == a; }))
            return metadata_number(meta_, a);
        // Otherwise an expression over config.json.
        auto e = arch::Expr::parse(a);
        if (!e.ok())
            return Error::not_found("argument '{}': neither a metadata key config.json gave nor an expression", a);
        LOOM_TRY(arch::Value x, eval_config(*e, config_, nullptr));
        if (!x.is_number()) return Error::invalid("argument '{}' is {}, not a number", a, x.to_string());
        return x.num;
    }

    std::string source_;
    std::shared_ptr<const formats::SafetensorsCheckpoint> ckpt_;
    std::map<const uint8_t*, size_t> made_;  // a made tensor's bytes → its buffer in owners_
    const formats::GgufWriter& meta_;
    const json& config_;
};

// The checkpoint name as the [hf.tensors] patterns see it: the first matching [hf] prefixes entry rewritten.
std::string renamed(const std::string& name, const arch::HfMap& map) {
    for (const auto& [from, to] : map.prefixes)
        if (name.compare(0, from.size(), from) == 0) return to + name.substr(from.size());
    return name;
}

}  // namespace

Result<formats::GgufFile> open_hf_directory(const std::string& dir, const std::string& arch_file,
                                            formats::LoadMode mode, const std::string& quantize) {
    std::optional<DType> target;
    if (!quantize.empty()) {
        LOOM_TRY(target, hf_quantize_target(quantize));
    }
    LOOM_TRY(json config, read_hf_config(dir));
    arch::ArchFile a;
    if (arch_file.empty()) {
        LOOM_TRY(a, family_for(config, dir));
    } else {
        LOOM_TRY(a, arch::ArchFile::load(arch_file));
    }
    if (!a.hf)
        return Error::unsupported("{}: {} has no [hf] section: it cannot read Hugging Face checkpoints", dir, a.path);
    const arch::HfMap& map = *a.hf;
    for (const arch::HfTensorRule& r : map.tensors)
        for (const arch::HfTransform& t : r.transforms)
            if (!known_hf_transform(t.op))
                return Error::invalid("{}:{}: [hf.tensors] '{}': unknown transform '{}'", a.path, r.line, r.from, t.op);

    formats::GgufWriter w;
    w.set("general.architecture", a.name);
    w.set("general.name", fs::path(dir).filename().string());
    LOOM_RETURN_IF_ERROR(check_refusals(map, config, dir + "/config.json"));
    LOOM_RETURN_IF_ERROR(add_config_metadata(map, config, dir + "/config.json", w));
    if (auto s = add_tokenizer_metadata(dir, config, map, w); !s.ok()) return std::move(s).error().with_context(dir);

    LOOM_TRY(formats::SafetensorsCheckpoint c, formats::SafetensorsCheckpoint::open(dir, mode));
    auto ckpt = std::make_shared<const formats::SafetensorsCheckpoint>(std::move(c));

    // Every checkpoint tensor is either dropped or matched by one rule; names nothing matches are listed at once.
    std::map<std::string, Group> groups;  // by GGUF name
    std::vector<std::string> unmatched;
    LOOM_TRY(const std::vector<std::string> ignore, ignored(map, config, dir + "/config.json"));
    for (const std::string& stored : ckpt->names()) {
        const std::string name = renamed(stored, map);
        if (dropped(name, ignore)) continue;
        size_t first = map.tensors.size();
        int64_t layer = -1, expert = -1;
        for (size_t i = 0; i < map.tensors.size() && first == map.tensors.size(); ++i)
            if (arch::match_hf_pattern(map.tensors[i].from, name, layer, expert)) first = i;
        if (first == map.tensors.size()) {
            unmatched.push_back(stored);
            continue;
        }
        // Every output of the rule: rules of one checkpoint name are consecutive.
        for (size_t i = first; i < map.tensors.size() && map.tensors[i].from == map.tensors[first].from; ++i) {
            const arch::HfTensorRule* rule = &map.tensors[i];
            const std::string to = layer >= 0 ? arch::fill_layer(rule->to, layer) : rule->to;
            Group& g = groups[to];
            g.rule = rule;
            g.name = to;
            if (!g.by_expert.emplace(expert, ckpt->tensor(stored)).second)
                return Error::invalid("{}: tensor '{}': two checkpoint tensors map to '{}'", dir, stored, g.name);
        }
    }
    if (!unmatched.empty()) {
        const size_t shown = std::min<size_t>(unmatched.size(), 8);
        return Error::invalid("{}: {} checkpoint tensor(s) that {} [hf.tensors] does not map: {}{}", dir,
                              unmatched.size(), a.path,
                              fmt::join(unmatched.begin(), unmatched.begin() + std::ptrdiff_t(shown), ", "),
                              shown < unmatched.size() ? ", ..." : "");
    }

    Assembler as(dir, ckpt, w, config);
    for (const auto& [name, g] : groups) LOOM_RETURN_IF_ERROR(as.add(g));
    for (const arch::HfGenerated& g : map.generated) LOOM_RETURN_IF_ERROR(as.generate(g));
    if (target) LOOM_RETURN_IF_ERROR(as.quantize(*target));
    if (!as.report_.empty()) w.set(kHfTransformsKey, as.report_);
    LOOM_TRY(std::vector<uint8_t> bytes, w.to_bytes());
    LOOM_TRY(formats::GgufFile meta, formats::GgufFile::parse(std::move(bytes), dir));
    as.owners_.push_back(ckpt);
    return formats::GgufFile::assemble(std::move(meta), std::move(as.tensors_), std::move(as.owners_),
                                       [ckpt](const uint8_t* p, size_t n) { return ckpt->release(p, n); });
}

Result<formats::GgufFile> open_model_file(const std::string& path, const std::string& arch_file, formats::LoadMode mode,
                                          const formats::MappedFile::ProgressFn& progress,
                                          const std::string& quantize) {
    std::error_code ec;
    if (fs::is_directory(path, ec)) return open_hf_directory(path, arch_file, mode, quantize);
    if (!quantize.empty())
        return Error::invalid("{}: --quantize applies to Hugging Face directories (a GGUF file keeps its stored types)",
                              path);
    return formats::GgufFile::open(path, mode, progress);
}

}  // namespace loom::runtime
