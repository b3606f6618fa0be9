// Vocab::load: GGUF tokenizer keys -> validated vocabulary, with llama.cpp's defaults (its fix-ups are in
// vocab_fixups.cpp; llama-vocab.cpp, llama_vocab::impl::load) so that ids, flags and the EOG set agree with it.
#include "tokenizer/vocab.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "formats/gguf_reader.h"
#include "tokenizer/unicode.h"

namespace loom::tokenizer {
namespace {

using formats::GgufFile;
using formats::GgufType;

constexpr std::string_view kPrefix = "tokenizer.ggml.";

// tokenizer.ggml.pre values loom knows, with the flags llama.cpp sets for them. Any other value is an
// error: tokenizing with the wrong regexes would silently give other ids than the model was trained on.
struct PreInfo {
    std::string_view name;
    PreTokenizer pre;
    bool ignore_merges = false;
    bool add_bos = false;
    bool clean_spaces = true;
    bool escape_spaces = false;  // Vocab::escape_spaces()
};
constexpr PreInfo kPreTable[] = {
    {"default", PreTokenizer::default_bpe},
    {"llama3", PreTokenizer::llama3, true, true},
    {"llama-v3", PreTokenizer::llama3, true, true},
    {"llama-bpe", PreTokenizer::llama3, true, true},
    {"falcon3", PreTokenizer::llama3, true, true},
    {"falcon-h1", PreTokenizer::llama3, true, true},
    {"pixtral", PreTokenizer::llama3, true, true},
    {"midm-2.0", PreTokenizer::llama3, true, true},
    {"lfm2", PreTokenizer::llama3, true, true},
    {"jina-v5-nano", PreTokenizer::llama3, true, true},
    {"dbrx", PreTokenizer::llama3},
    {"smaug-bpe", PreTokenizer::llama3},
    {"qwen2", PreTokenizer::qwen2, false, false, false},
    {"deepseek-r1-qwen", PreTokenizer::qwen2, false, false, false},
    {"kormo", PreTokenizer::qwen2, false, false, false},
    {"f2llmv2", PreTokenizer::qwen2, false, false, false},
    {"megrez", PreTokenizer::qwen2},
    {"stablelm2", PreTokenizer::qwen2},
    {"hunyuan", PreTokenizer::qwen2, false, false, false},
    {"solar-open", PreTokenizer::qwen2, false, false, false},
    {"qwen35", PreTokenizer::qwen35, false, false, false},
    {"deepseek-llm", PreTokenizer::deepseek_llm, false, false, false},
    {"deepseek-coder", PreTokenizer::deepseek_coder, false, false, false},
    {"deepseek-v3", PreTokenizer::deepseek_v3, false, false, false},
    {"hunyuan-dense", PreTokenizer::deepseek_v3, false, false, false},
    {"joyai-llm", PreTokenizer::deepseek_v3, false, false, false},
    {"hy_v4", PreTokenizer::deepseek_v3, false, false, false},
    {"gpt-2", PreTokenizer::gpt2},
    {"phi-2", PreTokenizer::gpt2},
    {"jina-es", PreTokenizer::gpt2},
    {"jina-de", PreTokenizer::gpt2},
    {"gigachat", PreTokenizer::gpt2},
    {"jina-v2-es", PreTokenizer::gpt2},
    {"jina-v2-de", PreTokenizer::gpt2},
    {"a.x-4.0", PreTokenizer::gpt2},
    {"mellum", PreTokenizer::gpt2},
    {"modern-bert", PreTokenizer::gpt2},
    {"mpt", PreTokenizer::gpt2},
    {"olmo", PreTokenizer::gpt2},
    {"jais", PreTokenizer::gpt2},
    {"exaone4", PreTokenizer::gpt2},
    {"trillion", PreTokenizer::gpt2, false, false, false},
    {"granite-docling", PreTokenizer::gpt2, false, false, false},
    {"starcoder", PreTokenizer::starcoder},
    {"refact", PreTokenizer::starcoder},
    {"command-r", PreTokenizer::starcoder, false, false, false},
    {"smollm", PreTokenizer::starcoder, false, false, false},
    {"codeshell", PreTokenizer::starcoder},
    {"exaone", PreTokenizer::starcoder},
    {"minerva-7b", PreTokenizer::starcoder},
    {"mellum2", PreTokenizer::starcoder},
    {"falcon", PreTokenizer::falcon},
    // Also what a gemma4 vocabulary always gets. Its BOS is forced on after the keys (Vocab::read_ids).
    {"gemma4", PreTokenizer::gemma4, false, true, true, true},
    {"granite-embed-multi-311m", PreTokenizer::gemma4, false, true, true, true},
};

std::string known_pre_names() {
    std::string s;
    for (const auto& p : kPreTable) {
        if (!s.empty()) s += ", ";
        s += p.name;
    }
    return s;
}

uint32_t attr_of(TokenType t) {
    switch (t) {
        case TokenType::normal: return kAttrNormal;
        case TokenType::unknown: return kAttrUnknown;
        case TokenType::control: return kAttrControl;
        case TokenType::user_defined: return kAttrUserDefined;
        case TokenType::unused: return kAttrUnused;
        case TokenType::byte: return kAttrByte;
        case TokenType::undefined: return kAttrUndefined;
    }
    return kAttrUndefined;
}

std::string key(std::string_view name) { return std::string(kPrefix) + std::string(name); }

}  // namespace

int parse_byte_token(std::string_view t) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        return -1;
    };
    if (t.size() != 6 || t.substr(0, 3) != "<0x" || t[5] != '>') return -1;
    const int hi = hex(t[3]), lo = hex(t[4]);
    return hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
}

std::string_view name(PreTokenizer p) {
    switch (p) {
        case PreTokenizer::none: return "none";
        case PreTokenizer::default_bpe: return "default";
        case PreTokenizer::llama3: return "llama3";
        case PreTokenizer::qwen2: return "qwen2";
        case PreTokenizer::qwen35: return "qwen35";
        case PreTokenizer::deepseek_llm: return "deepseek-llm";
        case PreTokenizer::deepseek_coder: return "deepseek-coder";
        case PreTokenizer::deepseek_v3: return "deepseek-v3";
        case PreTokenizer::gpt2: return "gpt-2";
        case PreTokenizer::starcoder: return "starcoder";
        case PreTokenizer::falcon: return "falcon";
        case PreTokenizer::gemma4: return "gemma4";
    }
    return "?";
}

namespace {

// The id keys, in the order llama.cpp reads them: the deprecated prefix/suffix/middle keys come last, so
// they win over fim_* as in llama.cpp.
constexpr std::string_view kIdKeys[] = {
    "bos_token_id",       "eos_token_id",     "eot_token_id",     "eom_token_id",     "unknown_token_id",
    "seperator_token_id", "padding_token_id", "mask_token_id",    "fim_pre_token_id", "fim_suf_token_id",
    "fim_mid_token_id",   "fim_pad_token_id", "fim_rep_token_id", "fim_sep_token_id", "prefix_token_id",
    "suffix_token_id",    "middle_token_id",
};

}  // namespace

Result<RawVocab> RawVocab::from_gguf(const GgufFile& f) {
    auto fail = [&](const Error& e) { return e.with_context(f.source()); };
    RawVocab r;
    r.source = f.source();
    auto model = f.get_string(key("model"));
    if (!model) return fail(model.error());
    r.model = std::string(*model);
    if (f.has(key("pre"))) {
        auto pre = f.get_string(key("pre"));
        if (!pre) return fail(pre.error());
        r.pre = std::string(*pre);
    }
    auto tokens = f.get_string_array(key("tokens"));
    if (!tokens) return fail(tokens.error());
    r.tokens.assign(tokens->begin(), tokens->end());
    if (const auto* e = f.find(key("scores"))) {
        if (e->type != GgufType::array || (e->elem_type != GgufType::f32 && e->elem_type != GgufType::i32))
            return Error::invalid("{}: {}: expected an array of f32 (or i32), got {}", f.source(), key("scores"),
                                  e->type == GgufType::array ? "array of " + std::string(formats::name(e->elem_type))
                                                             : std::string(formats::name(e->type)));
        std::vector<float> scores(e->count);
        if (e->elem_type == GgufType::f32) {
            auto a = f.get_array<float>(key("scores"));
            for (size_t i = 0; i < scores.size(); ++i) scores[i] = (*a)[i];
        } else {
            auto a = f.get_array<int32_t>(key("scores"));
            for (size_t i = 0; i < scores.size(); ++i) scores[i] = float((*a)[i]);
        }
        r.scores = std::move(scores);
    }
    if (f.has(key("token_type"))) {
        auto types = f.get_array<int32_t>(key("token_type"));
        if (!types) return fail(types.error());
        r.types = types->to_vector();
    }
    if (f.has(key("merges")) || r.model == "gpt2") {
        auto merges = f.get_string_array(key("merges"));
        if (!merges) return fail(merges.error());
        r.merges = std::vector<std::string>(merges->begin(), merges->end());
    }
    for (std::string_view k : kIdKeys) {
        const std::string full = key(k);
        if (!f.has(full)) continue;
        auto id = f.get_int(full);
        if (!id) return fail(id.error());
        r.ids.emplace_back(std::string(k), *id);
    }
    for (auto [name, dst] :
         {std::pair{"add_bos_token", &r.add_bos}, std::pair{"add_eos_token", &r.add_eos},
          std::pair{"add_sep_token", &r.add_sep}, std::pair{"add_space_prefix", &r.add_space_prefix}}) {
        if (!f.has(key(name))) continue;
        auto b = f.get<bool>(key(name));
        if (!b) return fail(b.error());
        *dst = *b;
    }
    if (f.has("general.name")) {
        if (auto nm = f.get_string("general.name")) r.general_name = std::string(*nm);
    }
    return r;
}

Result<Vocab> Vocab::load(const GgufFile& f) {
    LOOM_TRY(RawVocab raw, RawVocab::from_gguf(f));
    return build(raw);
}

Result<Vocab> Vocab::build(const RawVocab& r) {
    const std::string& src = r.source;
    Vocab v;

    // ---- model type and its defaults ----
    v.model_ = r.model;
    if (v.model_ == "llama") {
        v.type_ = VocabType::spm;
        v.bos_ = 1, v.eos_ = 2, v.unk_ = 0;
        v.add_space_prefix_ = true, v.add_bos_ = true;
    } else if (v.model_ == "gpt2") {
        v.type_ = VocabType::bpe;
        v.bos_ = 11, v.eos_ = 11;
        v.clean_spaces_ = true;
    } else if (v.model_ == "gemma4") {
        // No default ids; llama.cpp replaces whatever tokenizer.ggml.pre says (Gemma 4 files have none).
        v.type_ = VocabType::bpe;
        v.pre_name_ = "gemma4";
    } else {
        return Error::unsupported("{}: {}: unsupported tokenizer model '{}' (loom supports: llama, gpt2, gemma4)", src,
                                  key("model"), v.model_);
    }
    if (r.pre && v.pre_name_.empty()) v.pre_name_ = *r.pre;
    if (v.type_ == VocabType::bpe) {
        // llama.cpp falls back to "default" (with a warning) when the key is missing.
        const std::string_view want = v.pre_name_.empty() ? std::string_view("default") : v.pre_name_;
        const PreInfo* info = nullptr;
        for (const auto& p : kPreTable)
            if (p.name == want) info = &p;
        if (!info)
            return Error::unsupported("{}: {}: unknown pre-tokenizer '{}' (known: {})", src, key("pre"), want,
                                      known_pre_names());
        v.pre_ = info->pre;
        v.ignore_merges_ = info->ignore_merges;
        v.add_bos_ = v.add_bos_ || info->add_bos;
        v.clean_spaces_ = info->clean_spaces;
        v.escape_spaces_ = info->escape_spaces;
    }
    if (r.add_space_prefix) v.add_space_prefix_ = *r.add_space_prefix;

    // ---- tokens, scores, types ----
    const size_t n = r.tokens.size();
    if (n == 0) return Error::invalid("{}: {}: the vocabulary is empty", src, key("tokens"));
    if (n > size_t(INT32_MAX))
        return Error::invalid("{}: {}: {} tokens, more than int32 ids can hold", src, key("tokens"), n);
    v.tokens_.resize(n);
    for (size_t i = 0; i < n; ++i) {
        TokenData& t = v.tokens_[i];
        t.text = r.tokens[i];
        if (t.text.empty()) t.text = "[EMPTY_" + std::to_string(i) + "]";  // as llama.cpp names empty tokens
        if (!v.by_text_.insert(t.text, int32_t(i)))
            return Error::invalid("{}: {}: token {} repeats the text of token {} ('{}')", src, key("tokens"), i,
                                  v.by_text_.find(t.text), t.text);
    }
    if (r.scores) {
        if (r.scores->size() != n)
            return Error::invalid("{}: {}: {} elements, expected {} (one per token)", src, key("scores"),
                                  r.scores->size(), n);
        for (size_t i = 0; i < n; ++i) v.tokens_[i].score = (*r.scores)[i];
    }
    if (r.types) {
        if (r.types->size() != n)
            return Error::invalid("{}: {}: {} elements, expected {} (one per token)", src, key("token_type"),
                                  r.types->size(), n);
        for (size_t i = 0; i < n; ++i) {
            const int32_t t = (*r.types)[i];
            if (t < 0 || t > 6)
                return Error::invalid("{}: {}[{}]: token type {} (expected 0..6)", src, key("token_type"), i, t);
            v.tokens_[i].type = TokenType(t);
            v.tokens_[i].attr = attr_of(TokenType(t));
        }
    }

    // ---- merges (BPE) ----
    if (v.type_ == VocabType::bpe) {
        if (!r.merges)
            return Error::not_found("{}: {}: missing (a {} vocabulary needs its merges)", src, key("merges"), v.model_);
        for (size_t i = 0; i < r.merges->size(); ++i) {
            const std::string_view m = (*r.merges)[i];
            // "left right", split at the first space after the first byte (a left part may be a space).
            const size_t sp = m.size() > 1 ? m.find(' ', 1) : std::string_view::npos;
            if (sp == std::string_view::npos)
                return Error::invalid("{}: {}[{}]: '{}' is not two tokens separated by a space", src, key("merges"), i,
                                      m);
            v.merges_.insert(m, int32_t(i));  // the first occurrence keeps its rank, as in llama.cpp
        }
    }

    LOOM_RETURN_IF_ERROR(v.read_ids(r));
    // Byte-typed tokens must spell their byte: decoding reads it from the text.
    for (size_t i = 0; i < n; ++i)
        if (v.tokens_[i].type == TokenType::byte && parse_byte_token(v.tokens_[i].text) < 0)
            return Error::invalid("{}: {}[{}]: byte token '{}' is not of the form <0xHH>", src, key("tokens"), i,
                                  v.tokens_[i].text);
    v.apply_fixups();
    v.build_tables(r.general_name);
    return v;
}

Status Vocab::read_ids(const RawVocab& r) {
    int32_t* const dst[] = {&bos_,     &eos_,     &eot_,     &eom_,     &unk_,     &sep_,
                            &pad_,     &mask_,    &fim_pre_, &fim_suf_, &fim_mid_, &fim_pad_,
                            &fim_rep_, &fim_sep_, &fim_pre_, &fim_suf_, &fim_mid_};
    static_assert(std::size(dst) == std::size(kIdKeys));
    for (int32_t* id : dst)
        if (!valid(*id)) *id = kNoToken;  // a model default beyond a small vocabulary
    for (size_t k = 0; k < std::size(kIdKeys); ++k) {
        for (const auto& [name, id] : r.ids) {
            if (name != kIdKeys[k]) continue;
            if (id < 0 || id >= n_tokens())
                return Error::make(ErrorCode::out_of_range, "{}: {}: token id {} outside the vocabulary (0..{})",
                                   r.source, key(name), id, n_tokens() - 1);
            *dst[k] = int32_t(id);
        }
    }
    if (r.add_bos) add_bos_ = *r.add_bos;
    if (r.add_eos) add_eos_ = *r.add_eos;
    if (r.add_sep) add_sep_ = *r.add_sep;
    if (pre_ == PreTokenizer::gemma4) {
        add_bos_ = true;  // llama.cpp overrides add_bos_token = false for it
        if (bos_ == kNoToken)
            return Error::not_found("{}: {}: missing (the {} pre-tokenizer always adds a BOS token)", r.source,
                                    key("bos_token_id"), pre_name_);
    }
    if (add_bos_ && bos_ == kNoToken)
        return Error::invalid("{}: {}: the vocabulary adds a BOS token but has none", r.source, key("add_bos_token"));
    if (add_eos_ && eos_ == kNoToken)
        return Error::invalid("{}: {}: the vocabulary adds an EOS token but has none", r.source, key("add_eos_token"));
    return Ok{};
}

void Vocab::build_tables(std::string_view model_name) {
    // Byte fallback tokens.
    for (int b = 0; b < 256; ++b) {
        if (type_ == VocabType::spm || escape_spaces_) {
            static constexpr char kHex[] = "0123456789ABCDEF";
            const char name[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
            int32_t id = find(std::string_view(name, 6));
            // SPM falls back to the byte as a one-character token; BPE with escaped spaces does not.
            if (id == kNoToken && b != 0 && type_ == VocabType::spm)
                id = find(std::string_view(reinterpret_cast<const char*>(&b), 1));
            byte_tokens_[b] = id;
        } else {
            std::string ch;
            append_utf8(ch, byte_to_codepoint(uint8_t(b)));
            byte_tokens_[b] = find(ch);
        }
    }

    // Tokens split out of raw text, longest first. std::sort (not stable_sort) on ascending ids with this
    // comparator is what llama.cpp does; with the same standard library, ties end up in the same order.
    special_tokens_.clear();
    for (int32_t i = 0; i < n_tokens(); ++i)
        if (attr(i) & (kAttrControl | kAttrUserDefined | kAttrUnknown)) special_tokens_.push_back(i);
    std::sort(special_tokens_.begin(), special_tokens_.end(),
              [&](int32_t a, int32_t b) { return text(a).size() > text(b).size(); });

    // Pieces as llama.cpp's token_to_piece(special = true) gives them.
    pieces_.assign(tokens_.size(), std::string());
    for (size_t i = 0; i < tokens_.size(); ++i) {
        const TokenData& t = tokens_[i];
        std::string& p = pieces_[i];
        if (t.attr & (kAttrUnknown | kAttrControl | kAttrUserDefined)) {
            p = t.text;
        } else if (t.attr & kAttrNormal) {
            p = type_ == VocabType::spm || escape_spaces_ ? spm_unescape(t.text) : bpe_unmap(t.text);
        } else if (t.attr & kAttrByte) {
            p = std::string(1, char(parse_byte_token(t.text)));
        }  // undefined and unused tokens render as nothing
    }

    // Per-model attributes llama.cpp sets by name (not stored in GGUF): Phi-3 strips spaces after specials.
    std::string lower(model_name);
    for (char& c : lower) c = char(std::tolower(uint8_t(c)));
    if (lower.find("phi-3") != std::string::npos || lower.find("phi3") != std::string::npos) {
        for (int32_t id : special_tokens_) tokens_[size_t(id)].attr |= kAttrRstrip;
        if (int32_t id = find("</s>"); id != kNoToken) tokens_[size_t(id)].attr |= kAttrRstrip;
        for (std::string_view t : {"<unk>", "<s>", "<|endoftext|>"})
            if (int32_t id = find(t); id != kNoToken) tokens_[size_t(id)].attr &= ~uint32_t(kAttrRstrip);
    }
}

bool Vocab::is_eog(int32_t id) const { return valid(id) && is_eog_[size_t(id)]; }

int32_t Vocab::find(std::string_view t) const { return by_text_.find(t); }

uint8_t Vocab::token_byte(int32_t id) const {
    LOOM_ASSERT(is_byte(id), "token {} ('{}') is not a byte token", id, text(id));
    return uint8_t(parse_byte_token(text(id)));
}

int32_t Vocab::merge_rank(std::string_view left, std::string_view right) const {
    thread_local std::string k;
    k.assign(left);
    k += ' ';
    k += right;
    return merges_.find(k);
}

const std::string& Vocab::piece(int32_t id, bool special) const {
    static const std::string kEmpty;
    if (!special && (attr(id) & (kAttrUnknown | kAttrControl))) return kEmpty;
    return pieces_[size_t(id)];
}

std::string spm_unescape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        if (text.compare(i, 3, "\xE2\x96\x81") == 0) {
            out += ' ';
            i += 3;
        } else {
            out += text[i++];
        }
    }
    return out;
}

std::string bpe_unmap(std::string_view text) {
    // llama.cpp's llama_decode_text: a character outside GPT-2's alphabet is written out as
    // "[UNK_BYTE_0x<its UTF-8 in hex><the whole token text>]".
    std::string out;
    for (uint32_t cp : decode_utf8_lenient(text)) {
        const int b = codepoint_to_byte(cp);
        if (b >= 0) {
            out += char(b);
            continue;
        }
        std::string utf8;
        if (cp <= kMaxCodePoint) append_utf8(utf8, cp);
        out += "[UNK_BYTE_0x";
        for (unsigned char c : utf8) out += fmt::format("{:02x}", c);
        out += text;
        out += ']';
    }
    return out;
}

}  // namespace loom::tokenizer
