// StringIndex: linear probing at load factor <= 1/2 over a power-of-two table.
#include "tokenizer/string_index.h"

#include <cstring>
#include <functional>

#include "core/error.h"

namespace loom::tokenizer {

uint64_t StringIndex::hash(std::string_view s) {
    // std::hash (murmur-based in libstdc++) mixes well; fold in the length so that the tag differs more.
    return std::hash<std::string_view>{}(s)*0x9E3779B97F4A7C15ull + s.size();
}

int32_t StringIndex::find(std::string_view key) const {
    if (slots_.empty()) return -1;
    const uint64_t h = hash(key);
    const uint64_t tag = h >> 32;
    for (uint64_t i = h & mask_;; i = (i + 1) & mask_) {
        const uint64_t s = slots_[i];
        if (s == 0) return -1;
        if ((s >> 32) == tag) {
            const uint32_t k = uint32_t(s) - 1;
            const uint32_t a = offsets_[k], b = offsets_[k + 1];
            if (b - a == key.size() && std::memcmp(arena_.data() + a, key.data(), key.size()) == 0) return values_[k];
        }
    }
}

bool StringIndex::insert(std::string_view key, int32_t value) {
    LOOM_ASSERT(value >= 0, "StringIndex: negative value {}", value);
    if (find(key) >= 0) return false;
    if ((values_.size() + 1) * 2 > slots_.size()) grow();
    const uint32_t k = uint32_t(values_.size());
    if (offsets_.empty()) offsets_.push_back(0);
    arena_.append(key);
    offsets_.push_back(uint32_t(arena_.size()));
    values_.push_back(value);
    const uint64_t h = hash(key);
    uint64_t i = h & mask_;
    while (slots_[i] != 0) i = (i + 1) & mask_;
    slots_[i] = (h >> 32) << 32 | (uint64_t(k) + 1);
    return true;
}

void StringIndex::grow() {
    const size_t n = slots_.empty() ? 64 : slots_.size() * 2;
    LOOM_ASSERT(arena_.size() < (uint64_t(1) << 32), "StringIndex: keys exceed 4 GiB");
    slots_.assign(n, 0);
    mask_ = n - 1;
    for (uint32_t k = 0; k < values_.size(); ++k) {
        const std::string_view key(arena_.data() + offsets_[k], offsets_[k + 1] - offsets_[k]);
        const uint64_t h = hash(key);
        uint64_t i = h & mask_;
        while (slots_[i] != 0) i = (i + 1) & mask_;
        slots_[i] = (h >> 32) << 32 | (uint64_t(k) + 1);
    }
}

}  // namespace loom::tokenizer
