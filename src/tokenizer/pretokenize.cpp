// Pre-tokenizer regex lists (llama.cpp llama-vocab.cpp, llm_tokenizer_bpe) run through PCRE2.
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pretokenize.h"

#include <pcre2.h>

#include "tokenizer/unicode.h"

namespace loom::tokenizer {
namespace {

// The patterns exactly as llama.cpp lists them, with its non-ASCII literals written as \x{..}.
// Contractions are spelled '[sS] ... as llama.cpp adapted them (no (?i) case folding).
constexpr const char* kGpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S))";
constexpr const char* kLlama3 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen35 =
    R"((?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM: cased letters as an explicit class (llama.cpp's list, which includes U+2126 and U+212A).
constexpr const char* kDeepseekLlmCased =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293}\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A}\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556}\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF}\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D}\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D}\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3}\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107}\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D}\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184}\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D}\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF}\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F}\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2}\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* kCjkHangul = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

std::vector<std::string> patterns_of(PreTokenizer p) {
    switch (p) {
        case PreTokenizer::llama3: return {kLlama3};
        case PreTokenizer::qwen2: return {kQwen2};
        case PreTokenizer::qwen35: return {kQwen35};
        case PreTokenizer::deepseek_llm:
            return {R"([\r\n])",
                    kDeepseekLlmCased,
                    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)",
                    R"(\s+$)",
                    kCjkHangul,
                    R"(\p{N}+)"};
        case PreTokenizer::deepseek_coder: return {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kCjkHangul, R"(\p{N})"};
        case PreTokenizer::deepseek_v3:
            return {
                R"(\p{N}{1,3})", R"([\x{4E00}-\x{9FA5}\x{3040}-\x{309F}\x{30A0}-\x{30FF}]+)",
                R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};
        case PreTokenizer::gpt2: return {kGpt2};
        case PreTokenizer::starcoder: return {R"(\p{N})", kGpt2};
        case PreTokenizer::falcon: return {R"([\p{P}\$\+<=>\^~\|`]+)", kGpt2, R"([0-9][0-9][0-9])"};
        case PreTokenizer::default_bpe: return {R"([\p{P}\$\+<=>\^~\|]+)", kGpt2, R"(\p{N}+)", R"([0-9][0-9][0-9])"};
        // Gemma 4 merges over whole lines (spaces are ▁ by now): only newline runs are cut apart.
        case PreTokenizer::gemma4: return {R"([^\n]+|[\n]+)"};
        case PreTokenizer::none: break;
    }
    return {};
}

// One class representative per CharClass, each classified alike by every Unicode version PCRE2 may carry.
constexpr uint32_t kRepLetter = 0x00E0;       // à  Ll
constexpr uint32_t kRepNumber = 0x00B2;       // ²  No
constexpr uint32_t kRepPunctuation = 0x00A1;  // ¡  Po
constexpr uint32_t kRepSymbol = 0x00A2;       // ¢  Sc
constexpr uint32_t kRepMark = 0x0300;         // combining grave, Mn
constexpr uint32_t kRepSpace = 0x2000;        // en quad, Zs (\s under UCP)
constexpr uint32_t kRepOther = 0x0080;        // a C1 control, Cc: no class, not \s

}  // namespace

uint32_t class_representative(uint32_t cp) {
    if (cp < 0x80) return cp;
    if (is_whitespace(cp)) return kRepSpace;
    switch (char_class(cp)) {
        case CharClass::letter: return kRepLetter;
        case CharClass::number: return kRepNumber;
        case CharClass::punctuation: return kRepPunctuation;
        case CharClass::symbol: return kRepSymbol;
        case CharClass::mark: return kRepMark;
        default: return kRepOther;
    }
}

struct Pretokenizer::Compiled {
    pcre2_code* code = nullptr;
    bool uses_classes = false;  // the pattern has \p{..}: match against the class-representative text
    ~Compiled() { pcre2_code_free(code); }
};

Pretokenizer::~Pretokenizer() = default;

Result<std::shared_ptr<const Pretokenizer>> Pretokenizer::make(PreTokenizer p) {
    std::shared_ptr<Pretokenizer> pt(new Pretokenizer());
    pt->patterns_ = patterns_of(p);
    if (pt->patterns_.empty()) return Error::invalid("pre-tokenizer '{}' has no regexes", name(p));
    for (const std::string& pat : pt->patterns_) {
        auto c = std::make_unique<Compiled>();
        int err = 0;
        PCRE2_SIZE err_off = 0;
        // DOLLAR_ENDONLY: '$' means the end of the word, as in ECMAScript, not also "before a final newline".
        c->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pat.data()), pat.size(),
                                PCRE2_UTF | PCRE2_UCP | PCRE2_DOLLAR_ENDONLY, &err, &err_off, nullptr);
        if (!c->code) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(err, msg, sizeof(msg));
            return Error::make(ErrorCode::internal, "pre-tokenizer '{}': PCRE2 rejects /{}/ at {}: {}", name(p), pat,
                               err_off, reinterpret_cast<const char*>(msg));
        }
        pcre2_jit_compile(c->code, PCRE2_JIT_COMPLETE);  // when JIT is unavailable, the interpreter runs it
        c->uses_classes = pat.find("\\p{") != std::string::npos;
        pt->compiled_.push_back(std::move(c));
    }
    return std::shared_ptr<const Pretokenizer>(std::move(pt));
}

namespace {

// A UTF-8 text for PCRE2 with, for each code point, where it starts (byte_at) and for each byte offset
// which code point starts there (cp_at; only read at match boundaries, which are character boundaries).
struct Subject {
    std::string text;
    std::vector<uint32_t> byte_at;  // size n + 1
    std::vector<uint32_t> cp_at;    // size text.size() + 1
};

Subject make_subject(std::span<const uint32_t> cpts, bool classes) {
    Subject s;
    s.text.reserve(cpts.size() * 2);
    s.byte_at.resize(cpts.size() + 1);
    for (size_t i = 0; i < cpts.size(); ++i) {
        s.byte_at[i] = uint32_t(s.text.size());
        uint32_t cp = cpts[i];
        if (classes) {
            cp = class_representative(cp);
        } else if (cp >= 0x80 && is_whitespace(cp)) {
            cp = 0x0B;  // as llama.cpp does before its std::wregex
        } else if (cp >= 0xD800 && cp <= 0xDFFF) {
            cp = kRepOther;  // a surrogate from lenient decoding: PCRE2 wants valid UTF-8; no range holds either
        }
        append_utf8(s.text, cp);
    }
    s.byte_at[cpts.size()] = uint32_t(s.text.size());
    s.cp_at.assign(s.text.size() + 1, 0);
    for (size_t i = 0; i <= cpts.size(); ++i) s.cp_at[s.byte_at[i]] = uint32_t(i);
    return s;
}

}  // namespace

Result<std::vector<size_t>> Pretokenizer::split(std::span<const uint32_t> cpts) const {
    std::vector<size_t> words;
    if (cpts.empty()) return words;
    words.push_back(cpts.size());
    if (cpts.size() > UINT32_MAX / 4)
        return Error::invalid("pre-tokenizer: text of {} code points is too long", cpts.size());

    std::unique_ptr<Subject> with_classes, literal;  // built on first need
    pcre2_match_data* md = nullptr;
    struct MdFree {
        pcre2_match_data*& md;
        ~MdFree() { pcre2_match_data_free(md); }
    } md_free{md};

    for (const auto& c : compiled_) {
        std::unique_ptr<Subject>& sp = c->uses_classes ? with_classes : literal;
        if (!sp) sp = std::make_unique<Subject>(make_subject(cpts, c->uses_classes));
        const Subject& s = *sp;
        pcre2_match_data_free(md);
        md = pcre2_match_data_create_from_pattern(c->code, nullptr);
        if (!md) return Error::make(ErrorCode::internal, "pre-tokenizer: out of memory for PCRE2 match data");

        std::vector<size_t> out;
        out.reserve(words.size() * 2);
        size_t start = 0;  // code point index of the current word
        for (size_t len : words) {
            const size_t b0 = s.byte_at[start], b1 = s.byte_at[start + len];
            const auto* subj = reinterpret_cast<PCRE2_SPTR>(s.text.data() + b0);
            const size_t subj_len = b1 - b0;
            size_t prev = 0;  // bytes into the word consumed so far
            size_t at = 0;
            while (at < subj_len) {
                const int rc = pcre2_match(c->code, subj, subj_len, at, PCRE2_NO_UTF_CHECK, md, nullptr);
                if (rc == PCRE2_ERROR_NOMATCH) break;
                if (rc < 0) {
                    PCRE2_UCHAR msg[256];
                    pcre2_get_error_message(rc, msg, sizeof(msg));
                    return Error::invalid("pre-tokenizer: PCRE2 failed on a word of {} bytes: {}", subj_len,
                                          reinterpret_cast<const char*>(msg));
                }
                const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(md);
                size_t m0 = ov[0], m1 = ov[1];
                if (m1 == m0) {  // none of the patterns matches empty text; step over a character regardless
                    at = m0 + utf8_len(uint8_t(s.text[b0 + m0]));
                    continue;
                }
                auto cps = [&](size_t from, size_t to) { return size_t(s.cp_at[b0 + to] - s.cp_at[b0 + from]); };
                if (m0 > prev) out.push_back(cps(prev, m0));
                out.push_back(cps(m0, m1));
                prev = at = m1;
            }
            if (prev < subj_len) out.push_back(size_t(s.cp_at[b1] - s.cp_at[b0 + prev]));
            start += len;
        }
        words = std::move(out);
    }
    return words;
}

}  // namespace loom::tokenizer
