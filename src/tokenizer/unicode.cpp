// Unicode lookups for the tokenizers: one byte per code point (class + White_Space bit), built on first use.
#include "tokenizer/unicode.h"

#include <array>

#include "core/error.h"

namespace loom::tokenizer {
namespace {

constexpr uint8_t kWhiteSpaceBit = 0x80;

// 1.1 MB, built once: a flat table keeps the pre-tokenizer's per-character lookups to one load.
const std::vector<uint8_t>& flag_table() {
    static const std::vector<uint8_t> table = [] {
        std::vector<uint8_t> t(size_t(kMaxCodePoint) + 1, uint8_t(CharClass::undefined));
        const CategoryRange* r = unicode_data::kCategoryRanges;
        const size_t n = unicode_data::kCategoryRangeCount;
        for (size_t i = 0; i < n; ++i) {
            const uint32_t end = i + 1 < n ? r[i + 1].first : kMaxCodePoint + 1;
            for (uint32_t cp = r[i].first; cp < end; ++cp) t[cp] = uint8_t(r[i].cls);
        }
        for (size_t i = 0; i < unicode_data::kWhiteSpaceCount; ++i) t[unicode_data::kWhiteSpace[i]] |= kWhiteSpaceBit;
        return t;
    }();
    return table;
}

struct ByteMap {
    std::array<uint32_t, 256> to_cp{};
    std::array<int16_t, 0x144> to_byte{};  // every mapped code point is below U+0144
};

const ByteMap& byte_map() {
    static const ByteMap m = [] {
        ByteMap bm;
        bm.to_byte.fill(-1);
        auto printable = [](int b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; };
        uint32_t next = 0x100;
        for (int b = 0; b < 256; ++b) {
            bm.to_cp[b] = printable(b) ? uint32_t(b) : next++;
            bm.to_byte[bm.to_cp[b]] = int16_t(b);
        }
        return bm;
    }();
    return m;
}

}  // namespace

CharClass char_class(uint32_t cp) {
    if (cp > kMaxCodePoint) return CharClass::undefined;
    return CharClass(flag_table()[cp] & ~kWhiteSpaceBit);
}

bool is_whitespace(uint32_t cp) { return cp <= kMaxCodePoint && (flag_table()[cp] & kWhiteSpaceBit) != 0; }

std::vector<uint32_t> decode_utf8_lenient(std::string_view text) {
    std::vector<uint32_t> out;
    out.reserve(text.size());
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    const size_t n = text.size();
    auto cont = [&](size_t i) { return i < n && (s[i] & 0xC0) == 0x80; };
    size_t i = 0;
    while (i < n) {
        const uint8_t b = s[i];
        if (b < 0x80) {
            out.push_back(b);
            i += 1;
        } else if ((b & 0xE0) == 0xC0 && cont(i + 1)) {
            out.push_back(uint32_t(b & 0x1F) << 6 | (s[i + 1] & 0x3F));
            i += 2;
        } else if ((b & 0xF0) == 0xE0 && cont(i + 1) && cont(i + 2)) {
            out.push_back(uint32_t(b & 0x0F) << 12 | uint32_t(s[i + 1] & 0x3F) << 6 | (s[i + 2] & 0x3F));
            i += 3;
        } else if ((b & 0xF8) == 0xF0 && cont(i + 1) && cont(i + 2) && cont(i + 3)) {
            out.push_back(uint32_t(b & 0x07) << 18 | uint32_t(s[i + 1] & 0x3F) << 12 | uint32_t(s[i + 2] & 0x3F) << 6 |
                          (s[i + 3] & 0x3F));
            i += 4;
        } else {
            // A continuation byte, 0xF8..0xFF, or a sequence cut short: one replacement per byte.
            out.push_back(kReplacementChar);
            i += 1;
        }
    }
    return out;
}

void append_utf8(std::string& out, uint32_t cp) {
    LOOM_ASSERT(cp <= kMaxCodePoint, "code point U+{:X} is beyond U+10FFFF", cp);
    if (cp < 0x80) {
        out.push_back(char(cp));
    } else if (cp < 0x800) {
        out.push_back(char(0xC0 | (cp >> 6)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(char(0xE0 | (cp >> 12)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(char(0xF0 | (cp >> 18)));
        out.push_back(char(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(char(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(char(0x80 | (cp & 0x3F)));
    }
}

size_t valid_utf8_char(std::string_view text, size_t i, bool* incomplete) {
    if (incomplete) *incomplete = false;
    const auto* s = reinterpret_cast<const uint8_t*>(text.data());
    const size_t n = text.size();
    const uint8_t b = s[i];
    if (b < 0x80) return 1;
    size_t len;
    uint8_t lo = 0x80, hi = 0xBF;  // the allowed range of the second byte (RFC 3629 table)
    if (b >= 0xC2 && b <= 0xDF) {
        len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
        len = 3;
        if (b == 0xE0) lo = 0xA0;  // no overlongs
        if (b == 0xED) hi = 0x9F;  // no surrogates
    } else if (b >= 0xF0 && b <= 0xF4) {
        len = 4;
        if (b == 0xF0) lo = 0x90;  // no overlongs
        if (b == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
    } else {
        return 0;
    }
    for (size_t k = 1; k < len; ++k) {
        if (i + k >= n) {
            if (incomplete) *incomplete = true;
            return 0;
        }
        const uint8_t c = s[i + k];
        const uint8_t min = k == 1 ? lo : 0x80, max = k == 1 ? hi : 0xBF;
        if (c < min || c > max) return 0;
    }
    return len;
}

bool valid_utf8(std::string_view text) {
    for (size_t i = 0; i < text.size();) {
        const size_t n = valid_utf8_char(text, i);
        if (n == 0) return false;
        i += n;
    }
    return true;
}

uint32_t byte_to_codepoint(uint8_t b) { return byte_map().to_cp[b]; }

int codepoint_to_byte(uint32_t cp) { return cp < 0x144 ? byte_map().to_byte[cp] : -1; }

}  // namespace loom::tokenizer
