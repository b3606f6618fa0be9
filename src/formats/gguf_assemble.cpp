// GgufFile::assemble: metadata from a parsed (tensor-less) GGUF, tensors from elsewhere, with the reader's checks.
#include <fmt/format.h>

#include <deque>

#include "formats/gguf_reader.h"

namespace loom::formats {

Result<GgufFile> GgufFile::assemble(GgufFile meta, std::vector<ExternalTensor> tensors,
                                    std::vector<std::shared_ptr<const void>> owners, ReleaseFn release) {
    if (!meta.tensors_.empty())
        return Error::invalid("{}: assemble: the metadata file has {} tensors of its own", meta.source_,
                              meta.tensors_.size());
    GgufFile f = std::move(meta);
    // TensorInfo::name is a view: the names live in a deque (stable addresses) the file owns.
    auto names = std::make_shared<std::deque<std::string>>();
    f.external_owners_ = std::move(owners);
    f.external_owners_.push_back(names);
    f.external_release_ = std::move(release);
    f.tensors_.reserve(tensors.size());
    for (ExternalTensor& x : tensors) {
        const std::string where = fmt::format("{}: tensor '{}' @0x{:x}", f.source_, x.name, x.offset);
        if (x.name.empty() || x.name.size() > kMaxTensorName)
            return Error::invalid("{}: name of {} bytes (expected 1..{})", where, x.name.size(), kMaxTensorName);
        if (x.shape.empty()) x.shape = {1};  // a scalar is one element
        if (x.shape.size() > size_t(kMaxDims))
            return Error::invalid("{}: {} dimensions (at most {})", where, x.shape.size(), kMaxDims);
        const DTypeInfo& ti = info(x.type);
        TensorInfo t;
        t.type = x.type;
        t.shape = x.shape;
        for (size_t i = 0; i < x.shape.size(); ++i) {
            const int64_t d = x.shape[x.shape.size() - 1 - i];
            if (d < 1 || d > kMaxDim) return Error::invalid("{}: dimension {} is outside 1..{}", where, d, kMaxDim);
            t.ne[i] = d;
        }
        if (t.ne[0] % ti.block_elems != 0)
            return Error::invalid("{}: row of {} elements is not whole blocks of {} ({})", where, t.ne[0],
                                  ti.block_elems, ti.name);
        int64_t want = row_bytes(x.type, t.ne[0]);
        for (int i = 1; i < 4; ++i) want *= t.ne[i];  // each dimension <= kMaxDim and the bytes exist: no overflow
        if (uint64_t(want) != x.bytes)
            return Error::invalid("{}: {} bytes, expected {} for shape and type {}", where, x.bytes, want, ti.name);
        names->push_back(std::move(x.name));
        t.name = names->back();
        if (f.tensor_index_.count(t.name)) return Error::invalid("{}: two tensors of this name", where);
        t.data = x.data;
        t.bytes = x.bytes;
        t.offset = x.offset;
        f.tensor_index_.emplace(t.name, f.tensors_.size());
        f.tensors_.push_back(std::move(t));
    }
    return f;
}

}  // namespace loom::formats
