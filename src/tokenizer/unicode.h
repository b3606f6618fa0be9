// Unicode facts the tokenizers need: UTF-8 decoding with llama.cpp's leniency, the general-category class
// of a code point (Unicode 15.1, as llama.cpp's tables), White_Space, and GPT-2's byte <-> character map.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loom::tokenizer {

// The general category, grouped as the pre-tokenizer regexes ask for it (\p{L}, \p{N}, ...).
enum class CharClass : uint8_t { undefined, number, letter, separator, mark, punctuation, symbol, control };

struct CategoryRange {
    uint32_t first;  // the run lasts until the next range's `first`
    CharClass cls;
};

namespace unicode_data {  // generated: unicode_tables.cpp
extern const CategoryRange kCategoryRanges[];
extern const size_t kCategoryRangeCount;
extern const uint32_t kWhiteSpace[];
extern const size_t kWhiteSpaceCount;
}  // namespace unicode_data

inline constexpr uint32_t kMaxCodePoint = 0x10FFFF;
inline constexpr uint32_t kReplacementChar = 0xFFFD;

// Class of a code point; above U+10FFFF: undefined. Thread-safe (the lookup table is built once).
CharClass char_class(uint32_t cp);
// Unicode White_Space (tab..CR, space, U+0085, U+00A0, U+1680, U+2000..U+200A, U+2028/9, U+202F, U+205F, U+3000).
bool is_whitespace(uint32_t cp);

// Length of a UTF-8 sequence from its lead byte's high nibble, as llama.cpp reads it: 0x0-0xB -> 1
// (so a stray continuation byte counts as one character), 0xC-0xD -> 2, 0xE -> 3, 0xF -> 4.
inline size_t utf8_len(uint8_t lead) {
    static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return kLen[lead >> 4];
}

// Decodes text the way llama.cpp's unicode_cpts_from_utf8 does, because that decides BPE splits:
// the lead byte gives the length, continuation bytes must be 10xxxxxx, and nothing else is checked, so
// overlong forms and surrogates decode to their values and 4-byte forms may exceed U+10FFFF. A byte that
// does not start such a sequence becomes U+FFFD and decoding resumes at the next byte.
std::vector<uint32_t> decode_utf8_lenient(std::string_view text);

// Appends the UTF-8 form of cp. PRECONDITION: cp <= U+10FFFF (surrogates are encoded as they are).
void append_utf8(std::string& out, uint32_t cp);

// Strict validation (no overlongs, no surrogates, nothing above U+10FFFF): the byte length of the valid
// sequence starting at text[i], or 0 if the bytes there are not a valid character. `incomplete` is set
// when the bytes are a valid beginning cut short by the end of `text`.
size_t valid_utf8_char(std::string_view text, size_t i, bool* incomplete = nullptr);
// Whether all of `text` is valid UTF-8 in that strict sense.
bool valid_utf8(std::string_view text);

// GPT-2's byte-level alphabet: every byte maps to one printable character (0x21-0x7E, 0xA1-0xAC and
// 0xAE-0xFF map to themselves; the other 68 bytes, in order, to U+0100..U+0143).
uint32_t byte_to_codepoint(uint8_t b);
// The byte a code point of that alphabet stands for, or -1 when the code point is not in it.
int codepoint_to_byte(uint32_t cp);

}  // namespace loom::tokenizer
