// Opening a directory's safetensors files and checking the index against what the shards hold.
#include "formats/safetensors_checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>
#include <nlohmann/json.hpp>

namespace loom::formats {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

// A shard name must be a plain file name: an index that points outside the directory is refused.
bool plain_file_name(const std::string& s) {
    return !s.empty() && s != "." && s != ".." && s.find('/') == std::string::npos &&
           s.find('\\') == std::string::npos && s.find('\0') == std::string::npos;
}

// weight_map: tensor name → shard file name, checked.
Result<std::map<std::string, std::string>> read_index(const std::string& path) {
    LOOM_TRY(std::string text, read_text_file(path));
    const json j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return Error::invalid("{}: not a JSON object", path);
    if (!j.contains("weight_map") || !j["weight_map"].is_object())
        return Error::invalid("{}: no \"weight_map\" object (tensor name → shard file)", path);
    std::map<std::string, std::string> out;
    for (const auto& [name, file] : j["weight_map"].items()) {
        if (!file.is_string())
            return Error::invalid("{}: weight_map '{}': shard is {}, expected a file name", path, name,
                                  file.type_name());
        const auto shard = file.get<std::string>();
        if (!plain_file_name(shard))
            return Error::invalid("{}: weight_map '{}': shard '{}' is not a file name in the model directory", path,
                                  name, shard);
        out[name] = shard;
    }
    if (out.empty()) return Error::invalid("{}: weight_map is empty", path);
    return out;
}

}  // namespace

Result<SafetensorsCheckpoint> SafetensorsCheckpoint::open(const std::string& dir, LoadMode mode) {
    SafetensorsCheckpoint c;
    c.dir_ = dir;
    const std::string index_path = (fs::path(dir) / kIndexFile).string();
    std::error_code ec;
    std::map<std::string, std::string> weight_map;
    std::vector<std::string> shards;
    if (fs::exists(index_path, ec)) {
        LOOM_TRY(weight_map, read_index(index_path));
        std::set<std::string> unique;
        for (const auto& [name, shard] : weight_map) unique.insert(shard);
        shards.assign(unique.begin(), unique.end());
    } else if (fs::exists(fs::path(dir) / kSingleFile, ec)) {
        shards.emplace_back(kSingleFile);
    } else {
        return Error::not_found("{}: no {} and no {} (a Hugging Face model directory holds one of them)", dir,
                                kSingleFile, kIndexFile);
    }
    for (const std::string& shard : shards) {
        const std::string path = (fs::path(dir) / shard).string();
        if (!fs::is_regular_file(path, ec)) {
            if (weight_map.empty()) return Error::not_found("{}: not a file", path);
            return Error::not_found("{}: shard '{}' named by the index is missing", index_path, shard);
        }
        LOOM_TRY(SafetensorsFile f, SafetensorsFile::open(path, mode));
        c.files_.push_back(std::make_unique<SafetensorsFile>(std::move(f)));
    }
    for (size_t i = 0; i < c.files_.size(); ++i) {
        for (const SafeTensor& t : c.files_[i]->tensors()) {
            auto [it, fresh] = c.by_name_.emplace(t.name, std::make_pair(i, &t));
            if (!fresh)
                return Error::invalid("{}: tensor '{}' @0x{:x}: also in {} (a tensor may be in one shard only)",
                                      c.files_[i]->source(), t.name, t.header_offset,
                                      c.files_[it->second.first]->source());
            if (weight_map.empty()) continue;
            auto m = weight_map.find(t.name);
            if (m == weight_map.end())
                return Error::invalid("{}: tensor '{}' @0x{:x}: not in the index's weight_map", c.files_[i]->source(),
                                      t.name, t.header_offset);
            if (m->second != shards[i])
                return Error::invalid("{}: tensor '{}' @0x{:x}: the index puts it in '{}'", c.files_[i]->source(),
                                      t.name, t.header_offset, m->second);
        }
    }
    for (const auto& [name, shard] : weight_map)
        if (!c.by_name_.count(name))
            return Error::invalid("{}: weight_map '{}': shard '{}' has no such tensor", index_path, name, shard);
    return c;
}

const SafeTensor* SafetensorsCheckpoint::tensor(std::string_view name, const SafetensorsFile** file) const {
    auto it = by_name_.find(std::string(name));
    if (it == by_name_.end()) return nullptr;
    if (file) *file = files_[it->second.first].get();
    return it->second.second;
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
    std::vector<std::string> out;
    out.reserve(by_name_.size());
    for (const auto& [name, where] : by_name_) out.push_back(name);
    std::sort(out.begin(), out.end());
    return out;
}

size_t SafetensorsCheckpoint::release(const uint8_t* p, size_t n) const {
    for (const auto& f : files_)
        if (size_t r = f->release(p, n)) return r;
    return 0;
}

}  // namespace loom::formats
