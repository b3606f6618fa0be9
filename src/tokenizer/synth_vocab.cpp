// Synthetic vocabularies: SentencePiece-style filler, and Gemma 4's layout with BPE merges learned from a
// built-in corpus (a few thousand word types, weighted roughly by Zipf's law).
#include "tokenizer/synth_vocab.h"

#include <algorithm>
#include <array>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace loom::tokenizer {
namespace {

using formats::GgufValue;

constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kByte = 6;
constexpr std::string_view kSpace = "\xe2\x96\x81";  // ▁, SentencePiece's space

std::string repeat(std::string_view s, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += s;
    return out;
}

struct TokenList {
    std::vector<std::string> text;
    std::vector<int32_t> type;
    std::unordered_map<std::string, int32_t> id;

    void add(std::string t, int32_t ty) {
        id.emplace(t, int32_t(text.size()));
        text.push_back(std::move(t));
        type.push_back(ty);
    }
    bool has(const std::string& t) const { return id.count(t) != 0; }
};

// A synthetic SentencePiece-style vocabulary: <unk>, <s>, </s>, the 256 byte tokens, then pieces.
void add_spm_vocab(formats::GgufWriter& w, const std::string& model, int64_t size) {
    std::vector<std::string> tokens;
    std::vector<float> scores;
    std::vector<int32_t> types;
    auto add = [&](std::string t, int32_t type) {
        scores.push_back(-float(tokens.size()));
        tokens.push_back(std::move(t));
        types.push_back(type);
    };
    add("<unk>", 2);
    add("<s>", 3);
    add("</s>", 3);
    for (int b = 0; b < 256 && int64_t(tokens.size()) < size; ++b) add(fmt::format("<0x{:02X}>", b), 6);
    for (int64_t i = int64_t(tokens.size()); i < size; ++i) add(fmt::format("\xe2\x96\x81t{}", i), 1);
    w.set("tokenizer.ggml.model", model);
    w.set("tokenizer.ggml.tokens", std::move(tokens));
    w.set("tokenizer.ggml.scores", std::move(scores));
    w.set("tokenizer.ggml.token_type", std::move(types));
    w.set("tokenizer.ggml.unknown_token_id", uint32_t(0));
    w.set("tokenizer.ggml.bos_token_id", uint32_t(1));
    w.set("tokenizer.ggml.eos_token_id", uint32_t(2));
}

// ---- Gemma 4 ----

// Gemma 4's first 238 ids: special and control tokens where the real vocabulary has them (its converter
// makes the markers the chat parser must see user-defined), unused slots (normal, as converted), newline
// and ▁ runs, HTML tags.
void add_gemma4_head(TokenList& t) {
    int unused = 0;
    auto unused_until = [&](size_t id) {
        while (t.text.size() < id) t.add(fmt::format("<unused{}>", unused++), kNormal);
    };
    for (const char* s : {"<pad>", "<eos>", "<bos>", "<unk>", "<mask>"}) t.add(s, kControl);
    t.add("[multimodal]", kNormal);
    unused_until(46);
    t.add("<|tool>", kControl);
    t.add("<tool|>", kControl);
    for (const char* s : {"<|tool_call>", "<tool_call|>", "<|tool_response>", "<tool_response|>", "<|\"|>"})
        t.add(s, kUserDefined);
    unused_until(98);
    t.add("<|think|>", kControl);
    unused_until(100);
    t.add("<|channel>", kUserDefined);
    t.add("<channel|>", kUserDefined);
    unused_until(105);
    t.add("<|turn>", kControl);
    t.add("<turn|>", kControl);
    for (int n = 1; n <= 31; ++n) t.add(repeat("\n", n), kNormal);
    for (int n = 2; n <= 31; ++n) t.add(repeat(kSpace, n), kNormal);
    static constexpr std::array<std::string_view, 35> kTags = {
        "table", "caption", "thead",      "tbody",  "tfoot", "tr",   "th", "td", "h1",  "h2",     "h3",    "h4",
        "h5",    "h6",      "blockquote", "strong", "em",    "b",    "i",  "u",  "s",   "sub",    "sup",   "code",
        "a",     "html",    "body",       "img",    "span",  "bbox", "ul", "li", "div", "iframe", "footer"};
    // As in the real vocabulary: each group's opening tags, then its closing tags.
    for (auto [from, to] : {std::pair{0, 8}, std::pair{8, 15}, std::pair{15, 24}, std::pair{24, 35}}) {
        for (int i = from; i < to; ++i) t.add(fmt::format("<{}>", kTags[size_t(i)]), kNormal);
        for (int i = from; i < to; ++i) t.add(fmt::format("</{}>", kTags[size_t(i)]), kNormal);
    }
}

// The training corpus: pieces as SentencePiece would see them (a word after a space starts with ▁; words
// are never merged across), with counts.
std::map<std::string, int64_t> gemma4_corpus() {
    std::map<std::string, int64_t> c;
    static constexpr std::string_view kEnglish[] = {
        "the",     "of",       "and",      "to",     "in",        "is",      "you",    "that",    "it",       "he",
        "was",     "for",      "on",       "are",    "as",        "with",    "his",    "they",    "at",       "be",
        "this",    "have",     "from",     "or",     "one",       "had",     "by",     "word",    "but",      "not",
        "what",    "all",      "were",     "we",     "when",      "your",    "can",    "said",    "there",    "use",
        "an",      "each",     "which",    "she",    "do",        "how",     "their",  "if",      "will",     "up",
        "other",   "about",    "out",      "many",   "then",      "them",    "these",  "so",      "some",     "her",
        "would",   "make",     "like",     "him",    "into",      "time",    "has",    "look",    "two",      "more",
        "write",   "go",       "see",      "number", "no",        "way",     "could",  "people",  "my",       "than",
        "first",   "water",    "been",     "call",   "who",       "its",     "now",    "find",    "long",     "down",
        "day",     "did",      "get",      "come",   "made",      "may",     "part",   "over",    "new",      "sound",
        "take",    "only",     "little",   "work",   "know",      "place",   "year",   "live",    "back",     "give",
        "most",    "very",     "after",    "thing",  "our",       "just",    "name",   "good",    "sentence", "man",
        "think",   "say",      "great",    "where",  "help",      "through", "much",   "before",  "line",     "right",
        "mean",    "old",      "any",      "same",   "tell",      "follow",  "came",   "want",    "show",     "also",
        "around",  "form",     "three",    "small",  "set",       "put",     "end",    "does",    "another",  "well",
        "large",   "must",     "big",      "even",   "such",      "because", "turn",   "here",    "why",      "ask",
        "went",    "read",     "need",     "land",   "different", "home",    "move",   "try",     "kind",     "hand",
        "picture", "again",    "change",   "play",   "spell",     "away",    "animal", "house",   "point",    "page",
        "letter",  "mother",   "answer",   "found",  "study",     "still",   "learn",  "should",  "world",    "model",
        "token",   "language", "function", "value",  "return",    "string",  "number", "example", "question", "result"};
    const int64_t n_english = int64_t(std::size(kEnglish));
    for (int64_t r = 0; r < n_english; ++r) {
        const std::string w(kEnglish[r]);
        const int64_t n = 40000 / (r + 8);  // Zipf-like
        c[std::string(kSpace) + w] += n;
        c[w] += n / 6 + 1;  // at the start of a line or after punctuation
        std::string cap = w;
        cap[0] = char(cap[0] - 'a' + 'A');
        c[std::string(kSpace) + cap] += n / 5 + 1;
    }
    // Made-up words from syllables, spread over ranks by a multiplicative hash.
    static constexpr std::string_view kOnset[] = {"",   "b",  "c",  "d",  "f",  "g",  "h",  "k",  "l",  "m",
                                                  "n",  "p",  "r",  "s",  "t",  "v",  "w",  "st", "tr", "ch",
                                                  "sh", "th", "pl", "gr", "br", "cl", "sp", "qu", "z",  "j"};
    static constexpr std::string_view kNucleus[] = {"a", "e", "i", "o", "u", "ai", "ea", "ou", "ee", "io", "y"};
    static constexpr std::string_view kCoda[] = {"", "", "", "n", "r", "s", "t", "l", "m", "nd", "st", "ng", "ck", "x"};
    for (uint64_t k = 0; k < 2500; ++k) {
        uint64_t h = (k + 1) * 0x9E3779B97F4A7C15ull;
        std::string w;
        const int syllables = 1 + int((h >> 60) % 3);
        for (int s = 0; s < syllables; ++s) {
            h = h * 6364136223846793005ull + 1442695040888963407ull;
            w += kOnset[(h >> 33) % std::size(kOnset)];
            w += kNucleus[(h >> 41) % std::size(kNucleus)];
            w += kCoda[(h >> 49) % std::size(kCoda)];
        }
        const int64_t n = 1 + int64_t(3000 / (k + 20));
        c[std::string(kSpace) + w] += n;
        if (k % 7 == 0) c[w] += 1 + n / 4;
    }
    // Other scripts: their letters become tokens and merge; scripts absent here fall back to bytes.
    static constexpr std::string_view kWorld[] = {"über",    "für",     "Straße",     "schön",      "Grüße",
                                                  "Mädchen", "déjà",    "été",        "français",   "naïve",
                                                  "garçon",  "niño",    "año",        "señor",      "información",
                                                  "São",     "coração", "Ελλάδα",     "καλημέρα",   "λόγος",
                                                  "και",     "привет",  "мир",        "спасибо",    "язык",
                                                  "и",       "日本",    "中文",       "東京",       "学生",
                                                  "한국어",  "안녕",    "こんにちは", "ありがとう", "の"};
    for (size_t i = 0; i < std::size(kWorld); ++i) {
        const int64_t n = 120 / int64_t(i % 5 + 1);
        c[std::string(kSpace) + std::string(kWorld[i])] += n;
        c[std::string(kWorld[i])] += n / 3 + 1;
    }
    // Code and punctuation; contractions.
    static constexpr std::string_view kSymbols[] = {".",   ",",  ":",  ";",  "!",  "?",   "...", "(",   ")",    "()",
                                                    "();", ");", "){", "{",  "}",  "[",   "]",   "//",  "/*",   "*/",
                                                    "==",  "!=", "->", "::", "+=", "++",  "\"",  "\",", "'",    "_",
                                                    "__",  "#",  "=",  "'s", "'t", "'re", "'ll", "n't", "self", "std",
                                                    "i",   "x",  "y",  "$",  "%",  "&&",  "||",  "<",   ">",    "</",
                                                    "/>",  "@",  "^",  "`",  "~",  "|",   "*",   "**",  "-",    "--"};
    for (size_t i = 0; i < std::size(kSymbols); ++i) c[std::string(kSymbols[i])] += 3000 / int64_t(i + 4);
    static constexpr std::string_view kSpaced[] = {"=",     "+",    "-",    "*",     "/",    "{",     "(",     "\"",
                                                   "def",   "int",  "if",   "else",  "for",  "while", "class", "import",
                                                   "const", "void", "true", "false", "None", "null",  "std",   "self"};
    for (size_t i = 0; i < std::size(kSpaced); ++i)
        c[std::string(kSpace) + std::string(kSpaced[i])] += 1500 / int64_t(i + 3);
    return c;
}

// The UTF-8 characters of a piece.
std::vector<std::string> chars_of(std::string_view s) {
    static constexpr uint8_t kLen[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    std::vector<std::string> out;
    for (size_t i = 0; i < s.size();) {
        const size_t n = std::min<size_t>(kLen[uint8_t(s[i]) >> 4], s.size() - i);
        out.emplace_back(s.substr(i, n));
        i += n;
    }
    return out;
}

// Byte-pair encoding training over the corpus: repeatedly the most frequent adjacent pair (ties: the
// smaller texts) becomes a symbol, until `max_merges` or no pair occurs twice. Returns "left right" merges.
std::vector<std::string> learn_merges(const std::map<std::string, int64_t>& corpus, size_t max_merges,
                                      std::vector<std::string>& symbols) {
    std::unordered_map<std::string, int32_t> sym_id;
    auto intern = [&](const std::string& s) {
        auto [it, fresh] = sym_id.emplace(s, int32_t(symbols.size()));
        if (fresh) symbols.push_back(s);
        return it->second;
    };
    struct Word {
        std::vector<int32_t> sym;
        int64_t count;
    };
    std::vector<Word> words;
    for (const auto& [piece, n] : corpus) {
        Word w{{}, n};
        for (const std::string& ch : chars_of(piece)) w.sym.push_back(intern(ch));
        words.push_back(std::move(w));
    }
    auto key = [](int32_t a, int32_t b) { return uint64_t(uint32_t(a)) << 32 | uint32_t(b); };
    std::unordered_map<uint64_t, int64_t> pairs;
    auto count = [&](const Word& w, int64_t sign) {
        for (size_t i = 1; i < w.sym.size(); ++i) pairs[key(w.sym[i - 1], w.sym[i])] += sign * w.count;
    };
    for (const Word& w : words) count(w, +1);

    std::vector<std::string> merges;
    auto text = [&](uint64_t p) {
        return std::pair<std::string_view, std::string_view>{symbols[p >> 32], symbols[p & 0xffffffffu]};
    };
    while (merges.size() < max_merges) {
        std::optional<uint64_t> best;
        int64_t best_n = 0;
        for (auto it = pairs.begin(); it != pairs.end();) {
            const auto [k, n] = *it;
            if (n <= 0) {
                it = pairs.erase(it);
                continue;
            }
            ++it;
            if (n < 2) continue;  // a pair seen once is no pattern
            if (!best || n > best_n || (n == best_n && text(k) < text(*best))) best = k, best_n = n;
        }
        if (!best) break;
        const int32_t a = int32_t(*best >> 32), b = int32_t(*best & 0xffffffffu);
        const std::string left = symbols[size_t(a)], right = symbols[size_t(b)];
        const int32_t c = intern(left + right);
        for (Word& w : words) {
            bool has = false;
            for (size_t i = 1; i < w.sym.size() && !has; ++i) has = w.sym[i - 1] == a && w.sym[i] == b;
            if (!has) continue;
            count(w, -1);
            std::vector<int32_t> merged;
            for (size_t i = 0; i < w.sym.size(); ++i) {
                if (i + 1 < w.sym.size() && w.sym[i] == a && w.sym[i + 1] == b) {
                    merged.push_back(c);
                    ++i;
                } else {
                    merged.push_back(w.sym[i]);
                }
            }
            w.sym = std::move(merged);
            count(w, +1);
        }
        merges.push_back(left + " " + right);
    }
    return merges;
}

// The corpus's characters, most frequent first (ties: by bytes), with printable ASCII and ▁ always there.
std::vector<std::string> gemma4_alphabet(const std::map<std::string, int64_t>& corpus) {
    std::map<std::string, int64_t> freq;
    for (int ch = 0x21; ch < 0x7f; ++ch) freq[std::string(1, char(ch))] += 0;
    freq[std::string(kSpace)] += 0;
    for (const auto& [piece, n] : corpus)
        for (const std::string& ch : chars_of(piece)) freq[ch] += n;
    std::vector<std::pair<std::string, int64_t>> v(freq.begin(), freq.end());
    std::stable_sort(v.begin(), v.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
    std::vector<std::string> out;
    out.reserve(v.size());
    for (auto& [ch, n] : v) out.push_back(ch);
    return out;
}

constexpr int kTabRuns = 31;
constexpr std::string_view kMultimodalTail[] = {"<|image>", "<|audio>", "<|image|>", "<|audio|>",
                                                "<image|>", "<audio|>", "<|video|>"};

Status add_gemma4_vocab(formats::GgufWriter& w, int64_t size) {
    const int64_t min_size = gemma4_min_vocab_size();
    if (size < min_size)
        return Error::invalid("a gemma4 vocabulary needs at least {} tokens (its fixed tokens and characters), not {}",
                              min_size, size);
    TokenList t;
    add_gemma4_head(t);
    for (int b = 0; b < 256; ++b) t.add(fmt::format("<0x{:02X}>", b), kByte);

    const auto corpus = gemma4_corpus();
    const std::vector<std::string> alphabet = gemma4_alphabet(corpus);
    const size_t learnable = size_t(size - min_size);
    std::vector<std::string> symbols;
    const std::vector<std::string> learned = learn_merges(corpus, learnable, symbols);

    // Merges: newline runs only by doubling (as training would find them), so that BPE spells most runs
    // in several pieces although each up to 31 is a token: llama.cpp then takes a newline-only word whole,
    // which Gemma 4's own merges (every split) would not show. Then every split of the ▁ and tab runs as
    // Gemma 4 has them (left part longest first), then what was learned. Every merge makes a token.
    std::vector<std::string> merges;
    for (int n = 1; n <= 8; n *= 2) merges.push_back(repeat("\n", n) + " " + repeat("\n", n));
    for (int left = 30; left >= 1; --left)
        for (int right = 31 - left; right >= 1; --right)
            for (std::string_view ch : {kSpace, std::string_view("\t")})
                merges.push_back(repeat(ch, left) + " " + repeat(ch, right));
    for (const std::string& m : learned) {
        merges.push_back(m);
        std::string joined = m;
        joined.erase(joined.find(' '), 1);  // symbols never hold a space: the separator is the only one
        if (!t.has(joined)) t.add(std::move(joined), kNormal);
    }
    for (const std::string& ch : alphabet)
        if (!t.has(ch)) t.add(ch, kNormal);
    for (int n = 1; n <= kTabRuns; ++n) t.add(repeat("\t", n), kNormal);
    // Unused slots up to the multimodal markers, which end the vocabulary.
    int unused = 89;  // the head holds <unused0>..<unused88>
    while (int64_t(t.text.size()) < size - int64_t(std::size(kMultimodalTail)))
        t.add(fmt::format("<unused{}>", unused++), kNormal);
    for (std::string_view s : kMultimodalTail) t.add(std::string(s), kControl);
    if (int64_t(t.text.size()) != size)
        return Error::make(ErrorCode::internal, "gemma4 vocabulary: made {} tokens, asked for {}", t.text.size(), size);

    w.set("tokenizer.ggml.model", std::string("gemma4"));
    w.set("tokenizer.ggml.tokens", t.text);
    w.set("tokenizer.ggml.scores", std::vector<float>(t.text.size(), -1000.0f));
    w.set("tokenizer.ggml.token_type", t.type);
    w.set("tokenizer.ggml.merges", std::move(merges));
    w.set("tokenizer.ggml.bos_token_id", uint32_t(2));
    w.set("tokenizer.ggml.eos_token_id", uint32_t(1));
    w.set("tokenizer.ggml.unknown_token_id", uint32_t(3));
    w.set("tokenizer.ggml.padding_token_id", uint32_t(0));
    w.set("tokenizer.ggml.mask_token_id", uint32_t(4));
    w.set("tokenizer.ggml.add_space_prefix", false);
    w.set("tokenizer.ggml.add_bos_token", true);
    return Ok{};
}

}  // namespace

int64_t gemma4_min_vocab_size() {
    static const int64_t n = [] {
        TokenList t;
        add_gemma4_head(t);
        int64_t chars = 0;
        for (const std::string& ch : gemma4_alphabet(gemma4_corpus())) chars += t.has(ch) ? 0 : 1;
        return int64_t(t.text.size()) + 256 + chars + kTabRuns + int64_t(std::size(kMultimodalTail));
    }();
    return n;
}

Status add_vocab(formats::GgufWriter& w, const std::string& model, int64_t size) {
    if (model == "gemma4") return add_gemma4_vocab(w, size);
    add_spm_vocab(w, model, size);
    return Ok{};
}

}  // namespace loom::tokenizer
