// The weights of a Hugging Face model directory: `model.safetensors`, or the shards that
// `model.safetensors.index.json` names, opened and checked against each other (shared reference,
// vision-and-safetensors §2.2): every shard is a plain file name inside the directory and exists; the index's
// weight_map and the shards' contents agree exactly (each mapped name is in its shard, each shard's tensor is
// mapped to that shard); no tensor is in two shards. `total_size` is not checked (producers disagree on it).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.h"
#include "formats/safetensors_reader.h"

namespace loom::formats {

class SafetensorsCheckpoint {
public:
    static constexpr const char* kSingleFile = "model.safetensors";
    static constexpr const char* kIndexFile = "model.safetensors.index.json";

    // Opens `dir`'s weights (the index when present, else the single file).
    static Result<SafetensorsCheckpoint> open(const std::string& dir, LoadMode mode = LoadMode::map);

    const std::string& dir() const { return dir_; }
    // The files, in the order opened (shards sorted by name); their views stay valid while this object lives.
    const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }
    // A tensor by name, with the file that holds it; null when absent.
    const SafeTensor* tensor(std::string_view name, const SafetensorsFile** file = nullptr) const;
    // Every tensor name, sorted.
    std::vector<std::string> names() const;
    // Drops resident pages of bytes inside one of the files' mappings (see SafetensorsFile::release).
    size_t release(const uint8_t* p, size_t n) const;

private:
    std::string dir_;
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::unordered_map<std::string, std::pair<size_t, const SafeTensor*>> by_name_;  // file index, tensor
};

}  // namespace loom::formats
