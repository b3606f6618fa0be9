// Reading and writing block i of a row: blocks inside a GGUF file are only byte-aligned, so each one is
// copied out (or in) with memcpy instead of casting a pointer.
#pragma once

#include <cstdint>
#include <cstring>

namespace loom::kernels::ref {

template <typename Block>
Block load_block(const void* row, int64_t i) {
    Block b;
    std::memcpy(&b, static_cast<const uint8_t*>(row) + i * int64_t(sizeof(Block)), sizeof(Block));
    return b;
}

template <typename Block>
void store_block(void* row, int64_t i, const Block& b) {
    std::memcpy(static_cast<uint8_t*>(row) + i * int64_t(sizeof(Block)), &b, sizeof(Block));
}

}  // namespace loom::kernels::ref
