// StringIndex: string -> int32 lookups for the tokenizers' hot loops (a token's id by its text, a merge's
// rank). Open addressing over one flat array of (hash tag, value) slots, keys copied into one arena: a
// miss usually costs one cache line, a hit one more for the key bytes, where std::unordered_map chases
// two pointers. Immutable after build; copyable; thread-safe to read.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loom::tokenizer {

class StringIndex {
public:
    // Inserts `key` -> `value` unless the key is present (the first insertion wins). Returns whether it
    // was inserted. PRECONDITION: value >= 0.
    bool insert(std::string_view key, int32_t value);
    // The value of `key`, or -1.
    int32_t find(std::string_view key) const;
    size_t size() const { return values_.size(); }

private:
    static uint64_t hash(std::string_view s);
    void grow();

    std::string arena_;              // every key, back to back
    std::vector<uint32_t> offsets_;  // key i is arena_[offsets_[i], offsets_[i + 1])
    std::vector<int32_t> values_;
    std::vector<uint64_t> slots_;  // 0: empty; else (hash >> 32) << 32 | (key index + 1)
    uint64_t mask_ = 0;
};

}  // namespace loom::tokenizer
