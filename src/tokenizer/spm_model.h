// A SentencePiece tokenizer.model: the protobuf ModelProto (sentencepiece_model.proto) read into the few
// fields a GGUF vocabulary needs. The file may be hostile: every length is checked against the buffer and a
// problem is an error naming the file, the field and its byte offset, never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace loom::tokenizer {

struct SpmPiece {
    // ModelProto.SentencePiece.Type, as stored.
    enum class Type : int32_t { normal = 1, unknown = 2, control = 3, user_defined = 4, unused = 5, byte = 6 };
    std::string piece;  // UTF-8, never empty
    float score = 0.f;
    Type type = Type::normal;
};

struct SpmModel {
    std::vector<SpmPiece> pieces;  // id = index; at least one
    // TrainerSpec (defaults as in sentencepiece_model.proto when a field is absent).
    int32_t model_type = 1;  // 1 unigram, 2 BPE, 3 word, 4 char
    bool byte_fallback = false;
    int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
    // NormalizerSpec.
    bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;

    // Errors read `<source>: <field> @0x<offset>: <problem>`, e.g.
    // `tokenizer.model: pieces[12].piece @0x1a3: length 80 runs past the end of its message (4 bytes left)`.
    static Result<SpmModel> parse(std::string_view bytes, const std::string& source);
};

}  // namespace loom::tokenizer
