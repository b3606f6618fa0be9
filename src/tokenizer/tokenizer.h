// Text <-> token ids for a Vocab, token for token as llama.cpp's llama_tokenize / llama_detokenize
// (formats-and-tokenizers §5.5-5.9): special tokens split out of the text, then SentencePiece merges
// (`llama` vocabularies) or regex pre-tokenization + BPE merges, byte-level (`gpt2`) or over UTF-8 with
// spaces as ▁ and <0xHH> byte fallback (`gemma4`).
//
// Invalid UTF-8 input (documented, tested behaviour):
//   - SPM: never an error. Text is cut into characters by lead byte as llama.cpp does, and a character
//     that is no token is emitted as byte tokens, so every input byte survives (decode gives it back).
//   - BPE: each byte that does not start a well-formed sequence (by llama.cpp's lenient reading: lead
//     byte + continuation bytes; overlongs and surrogates pass) is read as U+FFFD, exactly as llama.cpp.
//     A 4-byte form above U+10FFFF (F4 90.., F5..F7 leads), on which llama.cpp throws, is an error.
// Input longer than max_input_bytes() is an error before any work.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"
#include "tokenizer/vocab.h"

namespace loom::tokenizer {

class Pretokenizer;
struct SpecialTrie;

inline constexpr size_t kDefaultMaxInputBytes = size_t(8) << 20;  // 8 MiB: ~2M tokens, far beyond any context

struct DecodeOptions {
    bool remove_special = false;   // drop a leading BOS / trailing EOS when the vocabulary adds them
    bool unparse_special = false;  // render control tokens as their text (otherwise they render as "")
};

class Tokenizer {
public:
    // PRECONDITION: `vocab` outlives the tokenizer. Compiles the pre-tokenizer regexes (BPE).
    explicit Tokenizer(const Vocab& vocab);
    ~Tokenizer();
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;

    const Vocab& vocab() const { return *vocab_; }

    // Text -> ids. add_special: BOS/EOS as the vocabulary says (add_bos()/add_eos()). parse_special:
    // control tokens written in the text (e.g. "<start_of_turn>") become their ids; user-defined tokens
    // are always split out, as in llama.cpp. Errors: input too long, a needed byte token missing from
    // an SPM or escape_spaces() vocabulary (for the latter llama.cpp drops the byte and loses text; loom
    // refuses), a code point above U+10FFFF (BPE). Thread-safe.
    Result<std::vector<int32_t>> encode(std::string_view text, bool add_special, bool parse_special) const;

    // Ids -> text (llama.cpp's llama_detokenize): pieces concatenated, the first piece loses one leading
    // space when the vocabulary adds a space prefix, and BPE vocabularies with clean_spaces tidy
    // " ." and " 's" as llama.cpp does. The result is raw bytes (may be invalid UTF-8 in the middle of
    // byte sequences). PRECONDITION: every id valid.
    std::string decode(std::span<const int32_t> ids, DecodeOptions opt = {}) const;

    // One token's text; control and unknown tokens give "" unless `special`. PRECONDITION: valid id.
    const std::string& token_to_piece(int32_t id, bool special = false) const { return vocab_->piece(id, special); }

    bool is_eog(int32_t id) const { return vocab_->is_eog(id); }
    int32_t bos() const { return vocab_->bos(); }
    int32_t eos() const { return vocab_->eos(); }
    bool add_bos() const { return vocab_->add_bos(); }

    size_t max_input_bytes() const { return max_input_bytes_; }
    void set_max_input_bytes(size_t n) { max_input_bytes_ = n; }

private:
    struct Fragment {
        size_t offset = 0, length = 0;  // raw text, when token == kNoToken
        int32_t token = kNoToken;
    };
    std::vector<Fragment> partition(std::string_view text, bool parse_special) const;
    Status encode_spm(std::string_view text, std::vector<int32_t>& out) const;
    Status encode_bpe(std::string_view text, std::vector<int32_t>& out) const;

    const Vocab* vocab_;
    std::shared_ptr<const Pretokenizer> pre_;  // BPE only
    std::unique_ptr<SpecialTrie> trie_;        // special token texts, to find which occur in a text
    size_t max_input_bytes_ = kDefaultMaxInputBytes;
};

// Turns generated ids into text as they come, never emitting part of a UTF-8 character: bytes of an
// incomplete character are held until the next token completes it. The output is always valid UTF-8:
// a byte that cannot be part of a valid character is replaced by U+FFFD (one per byte).
class StreamingDecoder {
public:
    // PRECONDITION: `vocab` outlives the decoder. render_special: control tokens as their text.
    explicit StreamingDecoder(const Vocab& vocab, bool render_special = false)
        : vocab_(&vocab), special_(render_special) {}

    // Adds a token (PRECONDITION: valid id); returns the text completed by it (possibly empty).
    std::string push(int32_t id);
    // Ends the stream: held bytes of an unfinished character become U+FFFD. The decoder is then empty.
    std::string flush();
    // Bytes held back, waiting for the rest of a character (0..3).
    size_t pending() const { return pending_.size(); }

private:
    const Vocab* vocab_;
    bool special_;
    std::string pending_;
};

}  // namespace loom::tokenizer
