// Decoding UTF-8 one byte at a time, for text that arrives in token-sized pieces that may split a character.
// Strict (RFC 3629): overlong forms, surrogates and code points above U+10FFFF are invalid, so a split
// character's possible code points are exactly what the grammar is asked about.
#pragma once

#include <algorithm>
#include <cstdint>

namespace loom::grammar {

// A character being decoded: the bits so far, how many continuation bytes are still missing, the range the
// next one must fall in (narrower than 80..BF after E0, ED, F0 and F4), and the range of the code point.
struct PartialChar {
    char32_t bits = 0;
    uint8_t missing = 0;  // 0: no character in progress
    uint8_t next_lo = 0x80, next_hi = 0xBF;
    char32_t min = 0, max = 0x10FFFF;

    bool empty() const { return missing == 0; }
    // The code points this prefix can still become.
    char32_t lowest() const { return std::max<char32_t>(bits << (6 * missing), min); }
    char32_t highest() const { return std::min<char32_t>(lowest() | ((char32_t(1) << (6 * missing)) - 1), max); }
};

enum class Utf8Step : uint8_t { complete, partial, invalid };

// Feeds byte `b` to `p`. complete: `out` is the finished character and `p` is empty again.
inline Utf8Step utf8_step(PartialChar& p, uint8_t b, char32_t& out) {
    if (p.missing == 0) {
        if (b < 0x80) {
            out = b;
            return Utf8Step::complete;
        }
        if (b >= 0xC2 && b <= 0xDF) p = {char32_t(b & 0x1F), 1, 0x80, 0xBF, 0x80, 0x7FF};
        else if (b == 0xE0) p = {0, 2, 0xA0, 0xBF, 0x800, 0xFFF};
        else if (b == 0xED) p = {0xD, 2, 0x80, 0x9F, 0xD000, 0xD7FF};
        else if (b >= 0xE1 && b <= 0xEF) p = {char32_t(b & 0x0F), 2, 0x80, 0xBF, 0x800, 0xFFFF};
        else if (b == 0xF0) p = {0, 3, 0x90, 0xBF, 0x10000, 0x3FFFF};
        else if (b >= 0xF1 && b <= 0xF3) p = {char32_t(b & 0x07), 3, 0x80, 0xBF, 0x10000, 0x10FFFF};
        else if (b == 0xF4) p = {4, 3, 0x80, 0x8F, 0x100000, 0x10FFFF};
        else return Utf8Step::invalid;
        return Utf8Step::partial;
    }
    if (b < p.next_lo || b > p.next_hi) return Utf8Step::invalid;
    p.bits = (p.bits << 6) | (b & 0x3F);
    p.next_lo = 0x80;
    p.next_hi = 0xBF;
    if (--p.missing > 0) return Utf8Step::partial;
    out = p.bits;
    p = PartialChar{};
    return Utf8Step::complete;
}

}  // namespace loom::grammar
