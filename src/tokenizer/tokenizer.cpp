// Tokenizer: llama.cpp's tokenize/detokenize (llama-vocab.cpp: tokenizer_st_partition, the SPM and BPE
// sessions, detokenize) rewritten around loom's Vocab; the comments name the rules that decide ids.
#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <queue>
#include <unordered_map>

#include "tokenizer/pretokenize.h"
#include "tokenizer/unicode.h"

namespace loom::tokenizer {

// A byte trie over the texts of the special tokens, used once per encode to learn which of them occur
// at all, so that the (llama.cpp-exact, one pass per token) partition runs only for those.
struct SpecialTrie {
    std::vector<int32_t> token;                   // per node: the special ending there, or kNoToken
    std::unordered_map<uint64_t, int32_t> child;  // (node << 8 | byte) -> node
    bool starts[256] = {};

    explicit SpecialTrie(const Vocab& v) {
        token.push_back(kNoToken);
        for (int32_t id : v.special_tokens()) {
            const std::string& t = v.text(id);
            starts[uint8_t(t[0])] = true;
            int32_t node = 0;
            for (char c : t) {
                const uint64_t k = uint64_t(node) << 8 | uint8_t(c);
                auto it = child.find(k);
                if (it == child.end()) {
                    it = child.emplace(k, int32_t(token.size())).first;
                    token.push_back(kNoToken);
                }
                node = it->second;
            }
            token[size_t(node)] = id;
        }
    }

    // Marks in `seen` (indexed by id) every special token that occurs somewhere in `text`.
    void scan(std::string_view text, std::vector<bool>& seen) const {
        for (size_t i = 0; i < text.size(); ++i) {
            if (!starts[uint8_t(text[i])]) continue;
            int32_t node = 0;
            for (size_t k = i; k < text.size(); ++k) {
                auto it = child.find(uint64_t(node) << 8 | uint8_t(text[k]));
                if (it == child.end()) break;
                node = it->second;
                if (token[size_t(node)] != kNoToken) seen[size_t(token[size_t(node)])] = true;
            }
        }
    }
};

Tokenizer::Tokenizer(const Vocab& vocab) : vocab_(&vocab), trie_(std::make_unique<SpecialTrie>(vocab)) {
    if (vocab.type() == VocabType::bpe) {
        auto pre = Pretokenizer::make(vocab.pre());
        LOOM_ASSERT(pre.ok(), "{}", pre.error().message());  // the patterns are constants: a failure is a bug
        pre_ = std::move(*pre);
    }
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

namespace {

bool c_isspace(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

}  // namespace

// llama.cpp's tokenizer_st_partition: for each special token, longest first, every raw fragment is
// searched left to right and split around each occurrence. Control and unknown tokens take part only
// with parse_special; user-defined tokens always do.
std::vector<Tokenizer::Fragment> Tokenizer::partition(std::string_view text, bool parse_special) const {
    std::vector<Fragment> frags;
    if (text.empty()) return frags;
    frags.push_back({0, text.size(), kNoToken});
    std::vector<bool> seen(size_t(vocab_->n_tokens()), false);
    trie_->scan(text, seen);

    std::vector<Fragment> next;
    for (int32_t id : vocab_->special_tokens()) {
        if (!seen[size_t(id)]) continue;
        const uint32_t a = vocab_->attr(id);
        if (!parse_special && (a & (kAttrControl | kAttrUnknown))) continue;
        const std::string& tok = vocab_->text(id);
        next.clear();
        for (const Fragment& f : frags) {
            if (f.token != kNoToken) {
                next.push_back(f);
                continue;
            }
            size_t at = f.offset;
            const size_t end = f.offset + f.length;
            while (at < end) {
                const size_t m = text.substr(0, end).find(tok, at);
                if (m == std::string_view::npos) break;
                size_t left_len = m - at;
                if (a & kAttrLstrip)
                    while (left_len > 0 && c_isspace(text[at + left_len - 1])) --left_len;
                if (left_len > 0) next.push_back({at, left_len, kNoToken});
                next.push_back({0, 0, id});
                at = m + tok.size();
                if (a & kAttrRstrip)
                    while (at < end && c_isspace(text[at])) ++at;
            }
            if (at < end) next.push_back({at, end - at, kNoToken});
        }
        frags.swap(next);
    }
    return frags;
}

Result<std::vector<int32_t>> Tokenizer::encode(std::string_view text, bool add_special, bool parse_special) const {
    if (text.size() > max_input_bytes_)
        return Error::make(ErrorCode::out_of_range, "tokenize: input of {} bytes exceeds the limit of {} bytes",
                           text.size(), max_input_bytes_);
    const Vocab& v = *vocab_;
    std::vector<int32_t> out;
    out.reserve(text.size() / 3 + 4);
    if (add_special && v.add_bos()) out.push_back(v.bos());

    bool prev_special = true;  // SPM: a raw fragment at the start or after a special gets the space prefix
    std::string buf;
    for (const Fragment& f : partition(text, parse_special)) {
        if (f.token != kNoToken) {
            out.push_back(f.token);
            prev_special = true;
            continue;
        }
        const std::string_view raw = text.substr(f.offset, f.length);
        if (v.type() == VocabType::spm) {
            buf.clear();
            if (v.add_space_prefix() && prev_special) buf += ' ';
            buf += raw;
            LOOM_RETURN_IF_ERROR(encode_spm(buf, out));
        } else {
            LOOM_RETURN_IF_ERROR(encode_bpe(raw, out));
        }
        prev_special = false;
    }
    if (add_special && v.add_eos()) out.push_back(v.eos());
    return out;
}

namespace {

struct Symbol {
    int32_t prev, next;
    uint32_t off, n;  // bytes of the text; n == 0 once merged away
};

// Spaces as SentencePiece writes them: ' ' -> U+2581 (▁). Other whitespace stays as it is.
void to_spm_spaces(std::string_view in, std::string& out) {
    out.clear();
    out.reserve(in.size() + 8);
    for (char c : in) {
        if (c == ' ') out += "\xE2\x96\x81";
        else out += c;
    }
}

// Byte fallback for a symbol that is no token: each of its bytes as the vocabulary's byte token.
// llama.cpp throws here for SPM and silently drops the byte for gemma4; loom refuses in both cases.
Status push_byte_tokens(const Vocab& v, std::string_view t, std::vector<int32_t>& out) {
    for (char c : t) {
        const int32_t bt = v.byte_token(uint8_t(c));
        if (bt == kNoToken)
            return Error::invalid("tokenize: the vocabulary has no byte token for 0x{:02X} (needed for '{}')",
                                  uint8_t(c), t);
        out.push_back(bt);
    }
    return Ok{};
}

}  // namespace

// SentencePiece BPE (llama.cpp's llm_tokenizer_spm_session): start from characters, repeatedly merge
// the adjacent pair whose concatenation is the highest-scoring token (ties: leftmost), then emit each
// symbol's token, or its bytes as byte tokens when it is no token.
Status Tokenizer::encode_spm(std::string_view text_in, std::vector<int32_t>& out) const {
    const Vocab& v = *vocab_;
    std::string text;
    to_spm_spaces(text_in, text);
    if (text.empty()) return Ok{};

    std::vector<Symbol> sym;
    sym.reserve(text.size());
    for (uint32_t off = 0; off < text.size();) {
        const uint32_t n = uint32_t(std::min(utf8_len(uint8_t(text[off])), text.size() - off));
        const int32_t i = int32_t(sym.size());
        sym.push_back({i - 1, off + n == text.size() ? -1 : i + 1, off, n});
        off += n;
    }

    struct Bigram {
        int32_t left, right;
        float score;
        uint32_t size;
    };
    // Highest score first; equal scores: the leftmost pair first.
    auto lower = [](const Bigram& a, const Bigram& b) {
        return a.score < b.score || (a.score == b.score && a.left > b.left);
    };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(lower)> queue(lower);
    auto try_add = [&](int32_t l, int32_t r) {
        if (l < 0 || r < 0) return;
        const std::string_view t(text.data() + sym[size_t(l)].off, sym[size_t(l)].n + sym[size_t(r)].n);
        const int32_t id = v.find(t);
        if (id == kNoToken) return;
        queue.push({l, r, v.score(id), uint32_t(t.size())});
    };
    for (int32_t i = 1; i < int32_t(sym.size()); ++i) try_add(i - 1, i);

    while (!queue.empty()) {
        const Bigram b = queue.top();
        queue.pop();
        Symbol& l = sym[size_t(b.left)];
        Symbol& r = sym[size_t(b.right)];
        if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;  // stale: one side changed since
        l.n += r.n;
        r.n = 0;
        l.next = r.next;
        if (r.next >= 0) sym[size_t(r.next)].prev = b.left;
        try_add(l.prev, b.left);
        try_add(b.left, l.next);
    }

    for (int32_t i = 0; i != -1; i = sym[size_t(i)].next) {
        const Symbol& s = sym[size_t(i)];
        const std::string_view t(text.data() + s.off, s.n);
        const int32_t id = v.find(t);
        if (id != kNoToken) {
            out.push_back(id);
            continue;
        }
        // Only single characters can be no token (merges always make tokens): byte fallback.
        LOOM_RETURN_IF_ERROR(push_byte_tokens(v, t, out));
    }
    return Ok{};
}

// BPE (llama.cpp's llm_tokenizer_bpe_session): pre-tokenize into words, map each word's bytes to GPT-2
// characters (byte-level vocabularies) or keep them as they are with spaces escaped to ▁ (escape_spaces),
// merge adjacent symbols by lowest merge rank (ties: leftmost), emit tokens.
Status Tokenizer::encode_bpe(std::string_view text_in, std::vector<int32_t>& out) const {
    const Vocab& v = *vocab_;
    std::string escaped;
    std::string_view text = text_in;
    if (v.escape_spaces()) {
        to_spm_spaces(text_in, escaped);  // before decoding, as llama.cpp: a space may end a broken sequence
        text = escaped;
    }
    const std::vector<uint32_t> cpts = decode_utf8_lenient(text);
    for (uint32_t cp : cpts)
        if (cp > kMaxCodePoint)
            return Error::invalid("tokenize: invalid UTF-8: a 4-byte sequence encodes U+{:X}, beyond U+10FFFF", cp);
    LOOM_TRY(const std::vector<size_t> words, pre_->split(cpts));

    std::string utf8, word;
    std::vector<Symbol> sym;
    struct Bigram {
        int32_t left, right;
        int32_t rank;
        uint32_t size;
    };
    // Lowest rank first; equal ranks: the leftmost pair first.
    auto later = [](const Bigram& a, const Bigram& b) {
        return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
    };
    std::priority_queue<Bigram, std::vector<Bigram>, decltype(later)> queue(later);

    size_t start = 0;
    for (size_t len : words) {
        // The word's code points, re-encoded (so invalid input bytes are U+FFFD here), byte by byte mapped
        // unless the vocabulary holds raw UTF-8.
        utf8.clear();
        for (size_t i = start; i < start + len; ++i) append_utf8(utf8, cpts[i]);
        start += len;
        word.clear();
        if (v.escape_spaces()) word.assign(utf8);
        else
            for (char c : utf8) append_utf8(word, byte_to_codepoint(uint8_t(c)));

        // The word as one token when it is one: with ignore_merges any word; with the gemma4 pre-tokenizer a
        // word of newlines only (llama.cpp's Gemma 4 fix, ggml-org/llama.cpp#21343). Else it merges as usual.
        const bool whole =
            v.ignore_merges() || (v.pre() == PreTokenizer::gemma4 && word.find_first_not_of('\n') == std::string::npos);
        if (whole) {
            if (const int32_t id = v.find(word); id != kNoToken) {
                out.push_back(id);
                continue;
            }
        }
        sym.clear();
        for (uint32_t off = 0; off < word.size();) {
            const uint32_t n = uint32_t(std::min(utf8_len(uint8_t(word[off])), word.size() - off));
            const int32_t i = int32_t(sym.size());
            sym.push_back({i - 1, off + n == word.size() ? -1 : i + 1, off, n});
            off += n;
        }
        auto try_add = [&](int32_t l, int32_t r) {
            if (l < 0 || r < 0) return;
            const Symbol& a = sym[size_t(l)];
            const Symbol& b = sym[size_t(r)];
            const int32_t rank =
                v.merge_rank(std::string_view(word.data() + a.off, a.n), std::string_view(word.data() + b.off, b.n));
            if (rank < 0) return;
            queue.push({l, r, rank, a.n + b.n});
        };
        for (int32_t i = 1; i < int32_t(sym.size()); ++i) try_add(i - 1, i);
        while (!queue.empty()) {
            const Bigram b = queue.top();
            queue.pop();
            Symbol& l = sym[size_t(b.left)];
            Symbol& r = sym[size_t(b.right)];
            // Stale when either side was merged away or the right side grew (the left cannot grow
            // without absorbing the right), i.e. exactly when the text differs from the pair's.
            if (l.n == 0 || r.n == 0 || l.n + r.n != b.size) continue;
            l.n += r.n;
            r.n = 0;
            l.next = r.next;
            if (r.next >= 0) sym[size_t(r.next)].prev = b.left;
            try_add(l.prev, b.left);
            try_add(b.left, l.next);
        }
        for (int32_t i = 0; i != -1; i = sym[size_t(i)].next) {
            const Symbol& s = sym[size_t(i)];
            const std::string_view t(word.data() + s.off, s.n);
            if (const int32_t id = v.find(t); id != kNoToken) {
                out.push_back(id);
                continue;
            }
            if (v.escape_spaces()) {
                LOOM_RETURN_IF_ERROR(push_byte_tokens(v, t, out));
                continue;
            }
            // As llama.cpp: each byte of the (already mapped) text as a one-byte token, skipped if absent.
            for (char c : t)
                if (const int32_t id = v.find(std::string_view(&c, 1)); id != kNoToken) out.push_back(id);
        }
    }
    return Ok{};
}

std::string Tokenizer::decode(std::span<const int32_t> ids, DecodeOptions opt) const {
    const Vocab& v = *vocab_;
    bool strip_space = v.add_space_prefix();
    if (opt.remove_special && v.add_bos() && !ids.empty() && ids.front() == v.bos()) {
        ids = ids.subspan(1);
        strip_space = false;
    }
    if (opt.remove_special && v.add_eos() && !ids.empty() && ids.back() == v.eos()) ids = ids.first(ids.size() - 1);

    std::string text;
    for (size_t i = 0; i < ids.size(); ++i) {
        LOOM_ASSERT(v.valid(ids[i]), "decode: token id {} outside the vocabulary (0..{})", ids[i], v.n_tokens() - 1);
        std::string_view p = v.piece(ids[i], opt.unparse_special);
        if (i == 0 && strip_space && !p.empty() && p.front() == ' ') p.remove_prefix(1);
        text += p;
    }
    if (!v.clean_spaces() || text.empty()) return text;

    // llama.cpp's three clean-up passes, in place. Each keeps text[0] and reads the original bytes.
    // 1: drop the space before ? ! . ,
    size_t n = 1;
    for (size_t i = 1; i < text.size(); ++i) {
        const char x = text[i];
        if (text[i - 1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',')) --n;
        text[n++] = x;
    }
    text.resize(n);
    // 2: " ' " -> "'"; the space after is consumed (set to NUL so that it cannot start another match).
    n = 1;
    for (size_t i = 1; i < text.size(); ++i) {
        const char x = text[i];
        if (x == '\'' && i + 1 < text.size() && text[i - 1] == ' ' && text[i + 1] == ' ') {
            --n;
            text[++i] = '\0';
        }
        text[n++] = x;
    }
    text.resize(n);
    // 3: drop the space before 's 'm 're 've (not before 't 'd 'll).
    n = 1;
    for (size_t i = 1; i < text.size(); ++i) {
        const char x = text[i];
        if (text[i - 1] == ' ' && x == '\'' && i + 1 < text.size()) {
            const char x1 = text[i + 1];
            if (x1 == 's' || x1 == 'm') {
                --n;
            } else if (i + 2 < text.size()) {
                const char x2 = text[i + 2];
                if ((x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e')) --n;
            }
        }
        text[n++] = x;
    }
    text.resize(n);
    return text;
}

namespace {

// Moves the complete characters at the front of `pending` to the result; invalid bytes become U+FFFD.
// With `final`, an unfinished character at the end is replaced too.
std::string drain(std::string& pending, bool final) {
    std::string out;
    size_t i = 0;
    while (i < pending.size()) {
        bool incomplete = false;
        const size_t n = valid_utf8_char(pending, i, &incomplete);
        if (n > 0) {
            out.append(pending, i, n);
            i += n;
        } else if (incomplete && !final) {
            break;
        } else {
            out += "\xEF\xBF\xBD";
            i += 1;
        }
    }
    pending.erase(0, i);
    return out;
}

}  // namespace

std::string StreamingDecoder::push(int32_t id) {
    LOOM_ASSERT(vocab_->valid(id), "StreamingDecoder: token id {} outside the vocabulary", id);
    pending_ += vocab_->piece(id, special_);
    return drain(pending_, false);
}

std::string StreamingDecoder::flush() { return drain(pending_, true); }

}  // namespace loom::tokenizer
