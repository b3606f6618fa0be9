// A model's vocabulary from its GGUF tokenizer metadata (formats-and-tokenizers §5.1-5.3, 5.10): token
// texts, scores and types, BPE merges, special ids, the add-BOS/EOS flags, the pre-tokenizer, and the
// end-of-generation set. Everything is validated at load; afterwards the Vocab is immutable and may be
// shared between threads.
//
// Defaults and fix-ups follow llama.cpp (llama-vocab.cpp), because loom must produce its token ids:
// per-model default ids and flags, the keys overriding them, control-looking tokens forced to CONTROL,
// the end-of-generation set built from ids and token texts.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"
#include "tokenizer/byte_fallback_bpe.h"
#include "tokenizer/string_index.h"

namespace loom::formats {
class GgufFile;
}

namespace loom::tokenizer {

inline constexpr int32_t kNoToken = -1;

// tokenizer.ggml.token_type values, as stored in GGUF.
enum class TokenType : int32_t {
    undefined = 0,
    normal = 1,
    unknown = 2,
    control = 3,
    user_defined = 4,
    unused = 5,
    byte = 6
};

// Runtime attributes of a token (llama.cpp's llama_token_attr bits): the stored type, then fix-ups
// (e.g. "<end_of_turn>" gets control, control tokens named "unused" get unused).
enum TokenAttr : uint32_t {
    kAttrUndefined = 0,
    kAttrUnknown = 1u << 0,
    kAttrUnused = 1u << 1,
    kAttrNormal = 1u << 2,
    kAttrControl = 1u << 3,
    kAttrUserDefined = 1u << 4,
    kAttrByte = 1u << 5,
    kAttrLstrip = 1u << 7,  // when split out of text, whitespace before the token is dropped
    kAttrRstrip = 1u << 8,  // ... and whitespace after it
};

// tokenizer.ggml.model: "llama" is SentencePiece-style (scores, <0xXX> byte fallback, ▁ for spaces);
// "gpt2" is byte-level BPE (merges by rank, regex pre-tokenizer, GPT-2's byte alphabet); "gemma4" is BPE
// too, but over raw UTF-8 with ▁ for spaces and <0xXX> byte fallback (Vocab::escape_spaces()).
enum class VocabType { spm, bpe };

// tokenizer.ggml.pre, grouped by the regex set it selects (pretokenize.h). SPM vocabularies ignore it.
enum class PreTokenizer {
    none,  // SPM
    default_bpe,
    llama3,
    qwen2,
    qwen35,
    deepseek_llm,
    deepseek_coder,
    deepseek_v3,
    gpt2,
    starcoder,
    falcon,
    gemma4,  // newline runs apart from the rest; spaces escaped to ▁, no byte-level map
};
std::string_view name(PreTokenizer p);

struct TokenData {
    std::string text;   // as stored (SPM: ▁ for spaces; BPE: GPT-2 byte alphabet)
    float score = 0.f;  // SPM merge priority (higher merges first)
    TokenType type = TokenType::normal;
    uint32_t attr = kAttrNormal;  // TokenAttr bits
};

// "<0xHH>" (either case of hex digit) -> HH, or -1 when the text is not of that form: a byte token's text.
int parse_byte_token(std::string_view t);

// The JSON files a Hugging Face tokenizer comes with, as text ("" when a file is absent).
struct HfTokenizerFiles {
    std::string_view tokenizer_json;                // tokenizer.json
    std::string_view tokenizer_config_json;         // tokenizer_config.json
    std::string_view added_tokens_json;             // added_tokens.json
    std::string_view config_json;                   // config.json
    std::string_view special_tokens_map_json = {};  // special_tokens_map.json
};

// A vocabulary as read from its source (GGUF keys, or a Hugging Face tokenizer.json), before defaults,
// validation and fix-ups: Vocab::build turns it into a Vocab. Optional fields were absent in the source.
struct RawVocab {
    std::string source;  // for messages: the file
    std::string model;   // tokenizer.ggml.model: "llama", "gpt2" or "gemma4"
    std::optional<std::string> pre;
    std::vector<std::string> tokens;
    std::optional<std::vector<float>> scores;
    std::optional<std::vector<int32_t>> types;
    std::optional<std::vector<std::string>> merges;    // "left right"
    std::vector<std::pair<std::string, int64_t>> ids;  // "bos_token_id" etc. (tokenizer.ggml.<name>)
    std::optional<bool> add_bos, add_eos, add_sep, add_space_prefix;
    std::string general_name;  // a few per-model attributes depend on it (llama.cpp)

    static Result<RawVocab> from_gguf(const formats::GgufFile& f);
    // A Hugging Face tokenizer.json (byte-level BPE) and, optionally, its tokenizer_config.json (BOS/EOS
    // texts, add_bos_token/add_eos_token), converted as llama.cpp's converter would: the vocabulary proper
    // is normal, added tokens control (special) or user-defined, missing ids "[PAD<i>]". The pre-tokenizer
    // is recognised from its regexes (llama-bpe, qwen2, qwen35, deepseek-v3, deepseek-llm, deepseek-coder,
    // gpt-2); anything else is an error naming the regex.
    static Result<RawVocab> from_hf(std::string_view tokenizer_json, std::string_view tokenizer_config_json,
                                    std::string source = "tokenizer.json");
    // A SentencePiece tokenizer.model (tokenizer/spm_model.h) and the Hugging Face files beside it, converted as
    // llama.cpp's converter does (_create_vocab_sentencepiece, then gguf-py's SpecialVocab): model "llama", pre
    // "default", `vocab_size` tokens (the model's pieces when absent; beyond the pieces "[PAD<i>]", unused,
    // score -10000), piece types mapped (user-defined pieces count as normal), added_tokens.json entries and
    // tokenizer_config.json's added_tokens_decoder on top (score -1000, control when special or special-looking,
    // else user-defined), then the special ids and add_*_token flags (add_special_tokens). add_space_prefix is
    // left unset: the converter decides it per model family.
    static Result<RawVocab> from_spm(std::string_view tokenizer_model, const HfTokenizerFiles& files,
                                     std::optional<int64_t> vocab_size, std::string source = "tokenizer.model");
    // A tokenizer.json BPE with byte fallback (not byte-level: Llama 2 style fast tokenizers, Gemma 4) and the files
    // beside it, as llama.cpp's converter reads it (gguf-py's LlamaHfVocab over transformers, then the family's
    // set_vocab `o`, then SpecialVocab): the model's vocabulary in id order (byte tokens `<0xHH>` byte, the special
    // tokens' ids control, the rest normal), then added tokens beyond it (control when special, else
    // user-defined), every score -1000; o.user_defined made user-defined; merges when o.merges; special ids and
    // flags (add_special_tokens), then o's add_space_prefix and add_bos_token. hf_fallback_vocab.cpp says which
    // tokens transformers counts as special. Errors: a tokenizer.json of another kind, ids with holes, bad JSON.
    static Result<RawVocab> from_hf_byte_fallback(const HfTokenizerFiles& files, const ByteFallbackBpe& o,
                                                  std::string source = "tokenizer.json");
};

// gguf-py's SpecialVocab over those files (vocab.py; llama.cpp's converter runs it for SentencePiece and most
// other vocabularies): bos/eos/unk/sep/pad/mask ids from tokenizer_config.json's *_token texts looked up in
// tokenizer.json's added_tokens, then config.json's *_token_id (top level, else text_config) for the ones still
// unset; ids at or beyond r.tokens.size() are skipped; add_bos/add_eos/add_sep from tokenizer.json's
// post-processor (TemplateProcessing, RobertaProcessing, ByteLevel), else tokenizer_config.json's add_*_token.
// Sets r.ids and r.add_bos / add_eos / add_sep. Errors: a file that is not a JSON object, a negative id.
Status add_special_tokens(RawVocab& r, const HfTokenizerFiles& files);

class Vocab {
public:
    // Reads and validates the tokenizer.* keys. Errors name the file and key, e.g.
    // `m.gguf: tokenizer.ggml.pre: unknown pre-tokenizer 'foo' (known: ...)` or
    // `m.gguf: tokenizer.ggml.scores: 10 elements, expected 12 (one per token)`.
    static Result<Vocab> load(const formats::GgufFile& f);
    // Defaults, validation and fix-ups over a raw description (load() is from_gguf + build).
    static Result<Vocab> build(const RawVocab& raw);

    VocabType type() const { return type_; }
    const std::string& model() const { return model_; }  // tokenizer.ggml.model
    // tokenizer.ggml.pre ("" when absent); "gemma4" for a gemma4 vocabulary, which llama.cpp always gives that
    // pre-tokenizer, whatever the key says.
    const std::string& pre_name() const { return pre_name_; }
    PreTokenizer pre() const { return pre_; }
    int32_t n_tokens() const { return int32_t(tokens_.size()); }

    // PRECONDITION for the per-id getters: 0 <= id < n_tokens().
    const TokenData& token(int32_t id) const { return tokens_[size_t(id)]; }
    const std::string& text(int32_t id) const { return token(id).text; }
    float score(int32_t id) const { return token(id).score; }
    uint32_t attr(int32_t id) const { return token(id).attr; }
    bool is_control(int32_t id) const { return attr(id) & kAttrControl; }
    bool is_byte(int32_t id) const { return attr(id) & kAttrByte; }
    bool is_eog(int32_t id) const;  // any id; false for ids outside the vocabulary
    bool valid(int32_t id) const { return id >= 0 && id < n_tokens(); }

    // The id of a token text, or kNoToken.
    int32_t find(std::string_view text) const;
    // SPM: the "<0xHH>" token (else the one-byte text); byte-level BPE: the byte's GPT-2 character;
    // BPE with escape_spaces(): the "<0xHH>" token only. kNoToken if absent.
    int32_t byte_token(uint8_t b) const { return byte_tokens_[b]; }
    // The byte an SPM byte token stands for. PRECONDITION: is_byte(id).
    uint8_t token_byte(int32_t id) const;
    // The merge rank of the pair (left, right), or -1. BPE only.
    int32_t merge_rank(std::string_view left, std::string_view right) const;

    // Special ids; kNoToken when the model has none.
    int32_t bos() const { return bos_; }
    int32_t eos() const { return eos_; }
    int32_t eot() const { return eot_; }
    int32_t eom() const { return eom_; }
    int32_t unk() const { return unk_; }
    int32_t pad() const { return pad_; }
    int32_t sep() const { return sep_; }
    const std::vector<int32_t>& eog_ids() const { return eog_; }  // ascending

    bool add_bos() const { return add_bos_; }
    bool add_eos() const { return add_eos_; }
    bool add_space_prefix() const {
        return add_space_prefix_;
    }                                                      // SPM: a space before text at the start and after specials
    bool ignore_merges() const { return ignore_merges_; }  // BPE: a whole pre-token that is a token is taken as is
    // BPE in SentencePiece's clothes (gemma4): spaces become ▁ before pre-tokenizing, merges run on the raw
    // UTF-8 (no GPT-2 byte map), a symbol that is no token falls back to <0xHH> tokens, and pieces show ▁
    // as a space. False for SPM (which always escapes) and byte-level BPE.
    bool escape_spaces() const { return escape_spaces_; }
    bool clean_spaces() const { return clean_spaces_; }  // decode: " ." -> "." etc.

    // Tokens split out of text before tokenizing (control, user-defined and unknown), longest first,
    // in llama.cpp's order (it matters only for overlapping candidates of equal length).
    const std::vector<int32_t>& special_tokens() const { return special_tokens_; }

    // The text of a token for output (llama.cpp's token_to_piece with lstrip 0): SPM and escape_spaces()
    // ▁ -> space, byte tokens -> their byte, byte-level BPE characters -> bytes; control and unknown tokens
    // give "" unless `special`. Precomputed: a reference into the Vocab.
    const std::string& piece(int32_t id, bool special) const;

private:
    Status read_ids(const RawVocab& r);
    void apply_fixups();                             // llama.cpp's text-based attributes and the EOG set
    void build_tables(std::string_view model_name);  // byte tokens, special list, pieces, per-model attributes

    std::string model_, pre_name_;
    VocabType type_ = VocabType::spm;
    PreTokenizer pre_ = PreTokenizer::none;
    std::vector<TokenData> tokens_;
    StringIndex by_text_;
    StringIndex merges_;  // "left right" -> rank
    int32_t byte_tokens_[256];
    std::vector<std::string> pieces_;  // piece(id, special = true)

    int32_t bos_ = kNoToken, eos_ = kNoToken, eot_ = kNoToken, eom_ = kNoToken, unk_ = kNoToken;
    int32_t pad_ = kNoToken, sep_ = kNoToken, mask_ = kNoToken;
    int32_t fim_pre_ = kNoToken, fim_suf_ = kNoToken, fim_mid_ = kNoToken;
    int32_t fim_pad_ = kNoToken, fim_rep_ = kNoToken, fim_sep_ = kNoToken;
    bool add_bos_ = false, add_eos_ = false, add_sep_ = false, add_space_prefix_ = false;
    bool ignore_merges_ = false, clean_spaces_ = false, escape_spaces_ = false;
    std::vector<int32_t> eog_;
    std::vector<bool> is_eog_;
    std::vector<int32_t> special_tokens_;
};

// SPM (and gemma4) token text -> output text: U+2581 (▁) becomes a space.
std::string spm_unescape(std::string_view text);
// Byte-level BPE token text -> the bytes its GPT-2 characters stand for (llama.cpp's llama_decode_text).
std::string bpe_unmap(std::string_view text);

}  // namespace loom::tokenizer
