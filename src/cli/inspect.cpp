// `loom inspect`: one summary of each metadata value (summarise) feeds both the text and the JSON
// report, so the two forms cannot drift apart.
#include "cli/inspect.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <memory>

#include "core/default_model.h"
#include "core/dtype.h"
#include "formats/gguf_reader.h"
#include "runtime/hf_directory.h"

namespace loom::cli {
namespace {

using formats::GgufFile;
using formats::GgufType;
using formats::MetaEntry;
using formats::TensorInfo;
using json = nlohmann::ordered_json;  // keys in the order written: file, version, ..., totals

constexpr uint64_t kArrayPreview = 8;   // array elements shown unless --all
constexpr size_t kStringPreview = 120;  // bytes of a string shown unless --all (chat templates run to kB)

// Token strings and chat templates come from the file and may be invalid UTF-8: replace, never throw.
std::string dump(const json& j, int indent = -1) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

// ---- one metadata value ----

// What inspect shows of one metadata value.
struct ValueSummary {
    json shown;              // the scalar, the string (perhaps cut), or the first elements of an array
    uint64_t count = 1;      // array length; string length in bytes; 1 for other scalars
    bool truncated = false;  // `shown` holds less than the whole value
};

// At most `max` bytes of `s`, never splitting a UTF-8 sequence.
std::string_view cut(std::string_view s, size_t max) {
    if (s.size() <= max) return s;
    size_t n = max;
    while (n > 0 && (uint8_t(s[n]) & 0xC0) == 0x80) --n;  // back up over continuation bytes
    return s.substr(0, n);
}

template <typename T>
T load(const uint8_t* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));  // metadata is packed: values may be unaligned
    return v;
}

// An f32 as the shortest decimal that reads back as the same float (1e-06, not 9.99999997e-07),
// so that JSON, which holds doubles, prints it as it was written.
double shortest(float f) { return std::strtod(fmt::format("{}", f).c_str(), nullptr); }

json scalar_json(GgufType t, const uint8_t* p) {
    switch (t) {
        case GgufType::u8: return load<uint8_t>(p);
        case GgufType::i8: return load<int8_t>(p);
        case GgufType::u16: return load<uint16_t>(p);
        case GgufType::i16: return load<int16_t>(p);
        case GgufType::u32: return load<uint32_t>(p);
        case GgufType::i32: return load<int32_t>(p);
        case GgufType::u64: return load<uint64_t>(p);
        case GgufType::i64: return load<int64_t>(p);
        case GgufType::f32: return shortest(load<float>(p));
        case GgufType::f64: return load<double>(p);
        case GgufType::boolean: return p[0] != 0;
        case GgufType::string:
        case GgufType::array: break;
    }
    LOOM_ASSERT(false, "scalar_json: {} is not a fixed-size scalar type", formats::name(t));
    return nullptr;
}

// A string, cut to kStringPreview bytes unless `all`; sets `truncated` when it was cut.
json string_json(std::string_view s, bool all, bool& truncated) {
    const std::string_view shown = all ? s : cut(s, kStringPreview);
    truncated = truncated || shown.size() < s.size();
    return std::string(shown);
}

ValueSummary summarise(const MetaEntry& e, bool all) {
    ValueSummary v;
    if (e.type == GgufType::string) {
        v.shown = string_json(e.str, all, v.truncated);
        v.count = e.str.size();
    } else if (e.type != GgufType::array) {
        v.shown = scalar_json(e.type, e.data);
    } else {
        const uint64_t n = all ? e.count : std::min(e.count, kArrayPreview);
        const size_t step = formats::scalar_size(e.elem_type);
        v.shown = json::array();
        for (uint64_t i = 0; i < n; ++i)
            v.shown.push_back(e.elem_type == GgufType::string ? string_json(e.strs[i], all, v.truncated)
                                                              : scalar_json(e.elem_type, e.data + i * step));
        v.count = e.count;
        v.truncated = v.truncated || n < e.count;
    }
    return v;
}

// ---- totals over the tensors ----

struct TypeTotals {
    int64_t tensors = 0;
    int64_t params = 0;
    uint64_t bytes = 0;
};

struct Totals {
    TypeTotals all;
    std::map<DType, TypeTotals> per_type;  // in GGUF type-id order
};

Totals totals_of(const GgufFile& f) {
    Totals t;
    for (const TensorInfo& ti : f.tensors()) {
        for (TypeTotals* s : {&t.all, &t.per_type[ti.type]}) {
            s->tensors += 1;
            s->params += ti.n_elements();
            s->bytes += ti.bytes;
        }
    }
    return t;
}

double bits_per_weight(const TypeTotals& t) { return t.params ? double(t.bytes) * 8.0 / double(t.params) : 0.0; }

// ---- JSON ----

json meta_json(const MetaEntry& e, bool all) {
    const ValueSummary v = summarise(e, all);
    json j = {{"key", std::string(e.key)}, {"type", formats::name(e.type)}, {"value", v.shown}};
    if (e.type == GgufType::array) {
        j["elem_type"] = formats::name(e.elem_type);
        j["count"] = v.count;
    }
    if (e.type == GgufType::string) j["length"] = v.count;
    if (e.type == GgufType::string || e.type == GgufType::array) j["truncated"] = v.truncated;
    return j;
}

json tensor_json(const TensorInfo& t) {
    return {{"name", std::string(t.name)},
            {"type", name(t.type)},
            {"shape", t.shape},
            {"bytes", t.bytes},
            {"offset", t.offset}};
}

json type_totals_json(const TypeTotals& t) {
    return {{"tensors", t.tensors}, {"params", t.params}, {"bytes", t.bytes}, {"bits_per_weight", bits_per_weight(t)}};
}

json totals_json(const Totals& t) {
    json j = type_totals_json(t.all);
    json per_type = json::object();
    for (const auto& [type, s] : t.per_type) per_type[std::string(name(type))] = type_totals_json(s);
    j["per_type"] = std::move(per_type);
    return j;
}

// ---- text ----

using Out = std::back_insert_iterator<std::string>;

std::string human_bytes(uint64_t n) {
    if (n >= (uint64_t(1) << 30)) return fmt::format("{:.2f} GiB", double(n) / double(uint64_t(1) << 30));
    if (n >= (uint64_t(1) << 20)) return fmt::format("{:.1f} MiB", double(n) / double(uint64_t(1) << 20));
    if (n >= (uint64_t(1) << 10)) return fmt::format("{:.1f} KiB", double(n) / 1024.0);
    return fmt::format("{} B", n);
}

std::string human_count(int64_t n) {
    if (n >= 1'000'000'000) return fmt::format("{:.2f} G", double(n) / 1e9);
    if (n >= 1'000'000) return fmt::format("{:.2f} M", double(n) / 1e6);
    if (n >= 1'000) return fmt::format("{:.1f} K", double(n) / 1e3);
    return fmt::format("{}", n);
}

// One value as one line of text: strings quoted and escaped (a template's newlines stay on the line).
std::string value_text(const MetaEntry& e, bool all) {
    const ValueSummary v = summarise(e, all);
    if (e.type == GgufType::string)
        return v.truncated ? fmt::format("{}... ({} bytes; --all shows it whole)", dump(v.shown), v.count)
                           : dump(v.shown);
    if (e.type != GgufType::array) return dump(v.shown);
    std::string s = fmt::format("[array of {} {}]", v.count, formats::name(e.elem_type));
    for (size_t i = 0; i < v.shown.size(); ++i) fmt::format_to(Out(s), "{}{}", i ? ", " : " ", dump(v.shown[i]));
    if (v.shown.size() < v.count) fmt::format_to(Out(s), ", ... ({} more)", v.count - v.shown.size());
    else if (v.truncated) s += " (elements cut; --all shows them whole)";
    return s;
}

void header_text(const GgufFile& f, std::string& s) {
    fmt::format_to(Out(s), "file         {}\n", f.source());
    fmt::format_to(Out(s), "version      {}\n", f.version());
    fmt::format_to(Out(s), "alignment    {}\n", f.alignment());
    fmt::format_to(Out(s), "data offset  {:#x} ({})\n", f.data_offset(), f.data_offset());
    fmt::format_to(Out(s), "file size    {} bytes ({})\n", f.file_size(), human_bytes(f.file_size()));
}

void metadata_text(const GgufFile& f, bool all, std::string& s) {
    size_t key_w = 3;
    for (const MetaEntry& e : f.metadata()) key_w = std::max(key_w, e.key.size());
    fmt::format_to(Out(s), "\nmetadata: {} keys\n", f.metadata().size());
    fmt::format_to(Out(s), "  {:<{}}  {:<6}  {}\n", "key", key_w, "type", "value");
    for (const MetaEntry& e : f.metadata())
        fmt::format_to(Out(s), "  {:<{}}  {:<6}  {}\n", e.key, key_w, formats::name(e.type), value_text(e, all));
}

std::string shape_text(const TensorInfo& t) { return fmt::format("[{}]", fmt::join(t.shape, ", ")); }

void tensors_text(const GgufFile& f, std::string& s) {
    size_t name_w = 4, shape_w = 5, bytes_w = 5;
    for (const TensorInfo& t : f.tensors()) {
        name_w = std::max(name_w, t.name.size());
        shape_w = std::max(shape_w, shape_text(t).size());
        bytes_w = std::max(bytes_w, fmt::formatted_size("{}", t.bytes));
    }
    fmt::format_to(Out(s), "\ntensors: {} (shapes outermost first)\n", f.tensors().size());
    fmt::format_to(Out(s), "  {:<{}}  {:<7}  {:<{}}  {:>{}}  {}\n", "name", name_w, "type", "shape", shape_w, "bytes",
                   bytes_w, "offset");
    for (const TensorInfo& t : f.tensors())
        fmt::format_to(Out(s), "  {:<{}}  {:<7}  {:<{}}  {:>{}}  {:#x}\n", t.name, name_w, name(t.type), shape_text(t),
                       shape_w, t.bytes, bytes_w, t.offset);
}

void totals_text(const Totals& t, std::string& s) {
    fmt::format_to(Out(s), "\ntotals\n");
    fmt::format_to(Out(s), "  tensors          {}\n", t.all.tensors);
    fmt::format_to(Out(s), "  parameters       {} ({})\n", t.all.params, human_count(t.all.params));
    fmt::format_to(Out(s), "  data bytes       {} ({})\n", t.all.bytes, human_bytes(t.all.bytes));
    fmt::format_to(Out(s), "  bits per weight  {:.3f}\n", bits_per_weight(t.all));
    fmt::format_to(Out(s), "  {:<7}  {:>7}  {:>12}  {:>12}  {:>11}\n", "type", "tensors", "params", "bytes",
                   "bits/weight");
    for (const auto& [type, v] : t.per_type)
        fmt::format_to(Out(s), "  {:<7}  {:>7}  {:>12}  {:>12}  {:>11.3f}\n", name(type), v.tensors, v.params, v.bytes,
                       bits_per_weight(v));
}

int fail(const Error& e, std::string& err) {
    std::string msg = e.message();
    std::replace(msg.begin(), msg.end(), '\n', ' ');  // the contract is one line
    err = fmt::format("loom: {}\n", msg);
    return 1;
}

}  // namespace

std::string inspect_text(const GgufFile& f, bool all) {
    std::string s;
    header_text(f, s);
    metadata_text(f, all, s);
    tensors_text(f, s);
    totals_text(totals_of(f), s);
    return s;
}

json inspect_json(const GgufFile& f, bool all) {
    json meta = json::array(), tensors = json::array();
    for (const MetaEntry& e : f.metadata()) meta.push_back(meta_json(e, all));
    for (const TensorInfo& t : f.tensors()) tensors.push_back(tensor_json(t));
    return {{"file", f.source()},
            {"version", f.version()},
            {"alignment", f.alignment()},
            {"data_offset", f.data_offset()},
            {"file_size", f.file_size()},
            {"metadata", std::move(meta)},
            {"tensors", std::move(tensors)},
            {"totals", totals_json(totals_of(f))}};
}

int run_inspect(const InspectOptions& o, std::string& out, std::string& err) {
    Result<std::string> path = o.file.empty() ? default_model_path() : Result<std::string>(o.file);
    if (!path.ok()) return fail(path.error(), err);
    Result<GgufFile> f = runtime::open_model_file(*path);
    if (!f.ok()) return fail(f.error(), err);
    out = o.json ? dump(inspect_json(*f, o.all), 2) + "\n" : inspect_text(*f, o.all);
    return 0;
}

void add_inspect_command(CLI::App& app) {
    auto opts = std::make_shared<InspectOptions>();
    CLI::App* cmd = app.add_subcommand("inspect", "Show a GGUF file's metadata, tensors and totals");
    cmd->add_option(
        "FILE,-m,--model", opts->file,
        "GGUF file or Hugging Face model directory (its metadata as loom reads it; loom.hf.transforms lists "
        "what was done to each tensor) (default: $LOOM_MODEL, else the default model from scripts/setup.sh)");
    cmd->add_flag("--json", opts->json, "Print one JSON object instead of text");
    cmd->add_flag("--all", opts->all, "Show arrays and long strings in full");
    cmd->callback([opts] {
        std::string out, err;
        const int status = run_inspect(*opts, out, err);
        std::fwrite(out.data(), 1, out.size(), stdout);
        std::fwrite(err.data(), 1, err.size(), stderr);
        if (status != 0) throw CLI::RuntimeError(status);
    });
}

}  // namespace loom::cli
