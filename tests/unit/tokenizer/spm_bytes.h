// A protobuf wire-format builder for hand-made (often hostile) SentencePiece tokenizer.model files in tests.
// It checks nothing, so any field can carry any wire type or length; `size()` marks where a field starts (for
// expected error offsets). Field numbers: sentencepiece_model.proto.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace loom::tokenizer::testutil {

class ProtoBytes {
public:
    size_t size() const { return out_.size(); }
    const std::string& str() const { return out_; }

    ProtoBytes& varint(uint64_t v) {
        do {
            out_ += char((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
            v >>= 7;
        } while (v);
        return *this;
    }
    ProtoBytes& tag(uint32_t field, uint32_t wire) { return varint(uint64_t(field) << 3 | wire); }
    ProtoBytes& raw(std::string_view s) {
        out_ += s;
        return *this;
    }
    // Length-delimited: tag, length, bytes.
    ProtoBytes& bytes(uint32_t field, std::string_view s) { return tag(field, 2).varint(s.size()).raw(s); }
    ProtoBytes& uint(uint32_t field, uint64_t v) { return tag(field, 0).varint(v); }
    ProtoBytes& fixed32(uint32_t field, uint32_t v) {
        tag(field, 5);
        for (int i = 0; i < 4; ++i) out_ += char((v >> (8 * i)) & 0xff);
        return *this;
    }
    ProtoBytes& f32(uint32_t field, float f) {
        uint32_t u;
        std::memcpy(&u, &f, sizeof u);
        return fixed32(field, u);
    }

private:
    std::string out_;
};

// One ModelProto.SentencePiece message body.
inline std::string spm_piece(std::string_view text, float score, int type) {
    ProtoBytes p;
    p.bytes(1, text).f32(2, score);
    if (type != 1) p.uint(3, uint64_t(type));  // NORMAL is the default, left out as SentencePiece writes it
    return p.str();
}

}  // namespace loom::tokenizer::testutil
