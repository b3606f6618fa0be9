// SpmModel::parse: a small protobuf wire-format reader (varints, fixed32/64, length-delimited fields; groups are
// refused, unknown fields skipped) and the ModelProto fields loom reads from it. Field numbers and defaults:
// sentencepiece_model.proto. Offsets in errors are from the start of the file.
#include "tokenizer/spm_model.h"

#include <cstring>
#include <functional>
#include <initializer_list>

#include "tokenizer/unicode.h"

namespace loom::tokenizer {
namespace {

constexpr size_t kMaxPieces = size_t(1) << 24;  // far above any real vocabulary; bounds the work on hostile input

enum Wire : uint32_t { kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5 };

std::string_view wire_name(uint32_t w) {
    switch (w) {
        case kVarint: return "varint";
        case kFixed64: return "fixed64";
        case kLen: return "length-delimited";
        case kFixed32: return "fixed32";
        case 3:
        case 4: return "group";
        default: return "invalid";
    }
}

// One field as read from the wire: its number, wire type, where its tag starts, and its payload (a varint's
// or fixed value in `value`, a length-delimited field's bytes in [begin, end)).
struct Field {
    uint32_t number = 0;
    uint32_t wire = 0;
    size_t at = 0;
    uint64_t value = 0;
    size_t begin = 0, end = 0;
};

// Reads the fields of one message: the bytes [pos, end) of the file.
class Reader {
public:
    Reader(std::string_view file, size_t begin, size_t end, const std::string& source)
        : file_(file), pos_(begin), end_(end), source_(source) {}

    bool done() const { return pos_ >= end_; }

    template <typename... Args>
    Error fail(size_t at, std::string_view what, fmt::format_string<Args...> f, Args&&... args) const {
        return Error::invalid("{}: {} @{:#x}: {}", source_, what, at, fmt::format(f, std::forward<Args>(args)...));
    }

    // The next field; `what` names the message for errors.
    Result<Field> next(std::string_view what) {
        Field f;
        f.at = pos_;
        LOOM_TRY(uint64_t tag, varint(what));
        f.number = uint32_t(tag >> 3);
        f.wire = uint32_t(tag & 7);
        if ((tag >> 3) == 0 || (tag >> 3) > 0x1fffffff)
            return fail(f.at, what, "field number {} (expected 1..{})", tag >> 3, 0x1fffffff);
        switch (f.wire) {
            case kVarint: {
                LOOM_TRY(f.value, varint(what));
                break;
            }
            case kFixed64:
            case kFixed32: {
                const size_t n = f.wire == kFixed64 ? 8 : 4;
                if (end_ - pos_ < n)
                    return fail(pos_, what, "field {}: {} needs {} bytes, {} left in its message", f.number,
                                wire_name(f.wire), n, end_ - pos_);
                for (size_t i = 0; i < n; ++i) f.value |= uint64_t(uint8_t(file_[pos_ + i])) << (8 * i);
                pos_ += n;
                break;
            }
            case kLen: {
                const size_t len_at = pos_;
                LOOM_TRY(uint64_t len, varint(what));
                if (len > end_ - pos_)
                    return fail(len_at, what, "field {}: length {} runs past the end of its message ({} bytes left)",
                                f.number, len, end_ - pos_);
                f.begin = pos_;
                f.end = pos_ + size_t(len);
                pos_ = f.end;
                break;
            }
            default:
                return fail(f.at, what, "field {}: wire type {} ({}) is not supported", f.number, f.wire,
                            wire_name(f.wire));
        }
        return f;
    }

    // An error unless `f` came with the wire type its field has in the schema.
    Status expect(const Field& f, uint32_t wire, std::string_view what) const {
        if (f.wire == wire) return Ok{};
        return fail(f.at, what, "wire type {} ({}), expected {} ({})", f.wire, wire_name(f.wire), wire,
                    wire_name(wire));
    }

private:
    // Base-128, least significant group first, at most 10 bytes (64 bits).
    Result<uint64_t> varint(std::string_view what) {
        const size_t at = pos_;
        uint64_t v = 0;
        for (int shift = 0; shift < 70; shift += 7) {
            if (pos_ >= end_) return fail(at, what, "varint cut off by the end of its message");
            const auto b = uint8_t(file_[pos_++]);
            if (shift == 63 && b > 1) return fail(at, what, "varint longer than 64 bits");
            v |= uint64_t(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        return fail(at, what, "varint longer than 10 bytes");
    }

    std::string_view file_;
    size_t pos_, end_;
    const std::string& source_;
};

float as_float(uint64_t bits) {
    const auto u = uint32_t(bits);
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
}

// protobuf's int32 on the wire: a varint holding the value sign-extended to 64 bits; parsers keep the low 32.
int32_t as_int32(uint64_t v) { return int32_t(uint32_t(v & 0xffffffffu)); }

Result<SpmPiece> parse_piece(std::string_view file, const Field& msg, size_t index, const std::string& source) {
    const std::string what = fmt::format("pieces[{}]", index);
    Reader r(file, msg.begin, msg.end, source);
    SpmPiece p;
    bool has_piece = false;
    while (!r.done()) {
        LOOM_TRY(Field f, r.next(what));
        if (f.number == 1) {
            LOOM_RETURN_IF_ERROR(r.expect(f, kLen, what + ".piece"));
            p.piece.assign(file.substr(f.begin, f.end - f.begin));
            if (!valid_utf8(p.piece)) return r.fail(f.at, what + ".piece", "not valid UTF-8");
            has_piece = true;
        } else if (f.number == 2) {
            LOOM_RETURN_IF_ERROR(r.expect(f, kFixed32, what + ".score"));
            p.score = as_float(f.value);
        } else if (f.number == 3) {
            LOOM_RETURN_IF_ERROR(r.expect(f, kVarint, what + ".type"));
            if (f.value < 1 || f.value > 6)
                return r.fail(f.at, what + ".type",
                              "{} (expected 1..6: normal, unknown, control, user-defined, "
                              "unused, byte)",
                              f.value);
            p.type = SpmPiece::Type(f.value);
        }
    }
    // SentencePiece itself refuses an empty piece ("piece must not be empty").
    if (!has_piece || p.piece.empty()) return r.fail(msg.begin, what, "no piece text (a piece must not be empty)");
    return p;
}

// A varint field loom reads from a sub-message, and where its value goes.
struct VarintField {
    uint32_t number;
    std::string_view name;
    std::function<void(uint64_t)> set;
};

// The fields of the message `msg` (named `what`) that are in `wanted`, each checked to be a varint.
Status read_varints(std::string_view file, const Field& msg, std::string_view what,
                    std::initializer_list<VarintField> wanted, const std::string& source) {
    Reader r(file, msg.begin, msg.end, source);
    while (!r.done()) {
        LOOM_TRY(Field f, r.next(what));
        for (const VarintField& w : wanted) {
            if (w.number != f.number) continue;
            LOOM_RETURN_IF_ERROR(r.expect(f, kVarint, fmt::format("{}.{}", what, w.name)));
            w.set(f.value);
        }
    }
    return Ok{};
}

Status parse_trainer(std::string_view file, const Field& msg, SpmModel& m, const std::string& source) {
    auto id = [](int32_t& dst) { return [&dst](uint64_t v) { dst = as_int32(v); }; };
    return read_varints(file, msg, "trainer_spec",
                        {{3, "model_type", id(m.model_type)},
                         {35, "byte_fallback", [&](uint64_t v) { m.byte_fallback = v != 0; }},
                         {40, "unk_id", id(m.unk_id)},
                         {41, "bos_id", id(m.bos_id)},
                         {42, "eos_id", id(m.eos_id)},
                         {43, "pad_id", id(m.pad_id)}},
                        source);
}

Status parse_normalizer(std::string_view file, const Field& msg, SpmModel& m, const std::string& source) {
    auto flag = [](bool& dst) { return [&dst](uint64_t v) { dst = v != 0; }; };
    return read_varints(file, msg, "normalizer_spec",
                        {{3, "add_dummy_prefix", flag(m.add_dummy_prefix)},
                         {4, "remove_extra_whitespaces", flag(m.remove_extra_whitespaces)},
                         {5, "escape_whitespaces", flag(m.escape_whitespaces)}},
                        source);
}

}  // namespace

Result<SpmModel> SpmModel::parse(std::string_view bytes, const std::string& source) {
    SpmModel m;
    Reader r(bytes, 0, bytes.size(), source);
    while (!r.done()) {
        LOOM_TRY(Field f, r.next("ModelProto"));
        if (f.number == 1) {
            LOOM_RETURN_IF_ERROR(r.expect(f, kLen, fmt::format("pieces[{}]", m.pieces.size())));
            if (m.pieces.size() == kMaxPieces) return r.fail(f.at, "pieces", "more than {} pieces", kMaxPieces);
            LOOM_TRY(SpmPiece p, parse_piece(bytes, f, m.pieces.size(), source));
            m.pieces.push_back(std::move(p));
        } else if (f.number == 2) {
            LOOM_RETURN_IF_ERROR(r.expect(f, kLen, "trainer_spec"));
            LOOM_RETURN_IF_ERROR(parse_trainer(bytes, f, m, source));
        } else if (f.number == 3) {
            LOOM_RETURN_IF_ERROR(r.expect(f, kLen, "normalizer_spec"));
            LOOM_RETURN_IF_ERROR(parse_normalizer(bytes, f, m, source));
        }
    }
    if (m.pieces.empty())
        return Error::invalid("{}: pieces: none (not a SentencePiece model, or an empty one; {} bytes)", source,
                              bytes.size());
    return m;
}

}  // namespace loom::tokenizer
