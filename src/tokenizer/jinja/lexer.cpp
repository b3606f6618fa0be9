// Template pieces and expression tokens (lexer.h).
#include "tokenizer/jinja/lexer.h"

#include <cctype>
#include <cstring>

namespace loom::tokenizer::jinja {
namespace {

// ---------------------------------------------------------------- template pieces

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

int line_at(std::string_view src, size_t pos) {
    int n = 1;
    for (size_t i = 0; i < pos && i < src.size(); ++i) n += src[i] == '\n';
    return n;
}

// The end of a tag opened at `from` (just after its opening delimiter): as jinja2's lexer, quoted strings
// are skipped and a closing delimiter counts only outside brackets, so "{{ {'a': {}} }}" ends at the last
// "}}". npos if unterminated.
size_t find_tag_end(std::string_view src, size_t from, char kind) {
    const char close = kind == '{' ? '}' : kind;  // "}}", "%}", "#}"
    int depth = 0;
    for (size_t i = from; i + 1 < src.size(); ++i) {
        const char c = src[i];
        if (kind == '#') {
            if (c == '#' && src[i + 1] == '}') return i;
            continue;
        }
        if (c == '\'' || c == '"') {
            for (++i; i < src.size() && src[i] != c; ++i)
                if (src[i] == '\\') ++i;
            continue;
        }
        if (depth == 0 && c == close && src[i + 1] == '}') return i;
        if (c == '(' || c == '[' || c == '{') ++depth;
        else if ((c == ')' || c == ']' || c == '}') && depth > 0) --depth;
    }
    return std::string_view::npos;
}

}  // namespace

Result<std::vector<Piece>> split_pieces(std::string_view src, const ParseOptions& opt) {
    std::vector<Piece> out;
    size_t pos = 0;
    while (pos <= src.size()) {
        size_t tag = pos;
        while (true) {
            tag = src.find('{', tag);
            if (tag == std::string_view::npos || tag + 1 >= src.size()) {
                tag = std::string_view::npos;
                break;
            }
            const char k = src[tag + 1];
            if (k == '{' || k == '%' || k == '#') break;
            ++tag;
        }
        std::string text(src.substr(pos, tag == std::string_view::npos ? std::string_view::npos : tag - pos));
        if (tag == std::string_view::npos) {
            if (!text.empty()) out.push_back({Piece::text, std::move(text), line_at(src, pos)});
            break;
        }
        const char kind = src[tag + 1];
        size_t p = tag + 2;
        const char lmod = p < src.size() && (src[p] == '-' || src[p] == '+') ? src[p] : 0;
        if (lmod) ++p;
        // Whitespace before the tag.
        if (lmod == '-') {
            while (!text.empty() && is_space(text.back())) text.pop_back();
        } else if (opt.lstrip_blocks && kind != '{' && lmod != '+') {
            const size_t nl = text.rfind('\n');
            const size_t l = nl == std::string::npos ? 0 : nl + 1;
            const bool line_start = l > 0 || pos == 0 || src[pos - 1] == '\n';
            bool blank = true;
            for (size_t i = l; i < text.size(); ++i) blank = blank && is_space(text[i]);
            if (line_start && blank) text.erase(l);
        }
        if (!text.empty()) out.push_back({Piece::text, std::move(text), line_at(src, pos)});

        const int line = line_at(src, tag);
        const size_t end = find_tag_end(src, p, kind == '{' ? '{' : kind);
        if (end == std::string_view::npos)
            return Error::invalid("chat template:{}: unterminated '{}{}' tag", line, '{', kind);
        size_t cend = end;
        const char rmod = cend > p && (src[cend - 1] == '-' || src[cend - 1] == '+') ? src[cend - 1] : 0;
        if (rmod) --cend;
        std::string content(src.substr(p, cend - p));
        pos = end + 2;
        // Whitespace after the tag.
        if (rmod == '-') {
            while (pos < src.size() && is_space(src[pos])) ++pos;
        } else if (opt.trim_blocks && kind != '{' && rmod != '+' && pos < src.size() && src[pos] == '\n') {
            ++pos;
        }
        if (kind == '#') continue;
        if (kind == '{') {
            out.push_back({Piece::var, std::move(content), line});
            continue;
        }
        // {% raw %}: everything up to {% endraw %} is text.
        size_t a = 0, b = content.size();
        while (a < b && is_space(content[a])) ++a;
        while (b > a && is_space(content[b - 1])) --b;
        if (content.substr(a, b - a) == "raw") {
            size_t search = pos;
            while (true) {
                const size_t t = src.find("{%", search);
                if (t == std::string_view::npos)
                    return Error::invalid("chat template:{}: 'raw' without 'endraw'", line);
                size_t q = t + 2;
                const bool strip_left = q < src.size() && src[q] == '-';
                if (q < src.size() && (src[q] == '-' || src[q] == '+')) ++q;
                while (q < src.size() && is_space(src[q])) ++q;
                if (src.compare(q, 6, "endraw") != 0) {
                    search = t + 2;
                    continue;
                }
                const size_t e = find_tag_end(src, q, '%');
                if (e == std::string_view::npos) return Error::invalid("chat template:{}: unterminated endraw", line);
                std::string raw(src.substr(pos, t - pos));
                if (strip_left)
                    while (!raw.empty() && is_space(raw.back())) raw.pop_back();
                if (!raw.empty()) out.push_back({Piece::text, std::move(raw), line});
                pos = e + 2;
                const bool strip_right = src[e - 1] == '-';
                if (strip_right) {
                    while (pos < src.size() && is_space(src[pos])) ++pos;
                } else if (opt.trim_blocks && src[e - 1] != '+' && pos < src.size() && src[pos] == '\n') {
                    ++pos;
                }
                break;
            }
            continue;
        }
        out.push_back({Piece::block, std::move(content), line});
    }
    return out;
}

// ---------------------------------------------------------------- expression tokens

Result<std::vector<Tok>> lex(std::string_view s, int line) {
    std::vector<Tok> out;
    size_t i = 0;
    static const char* kOps[] = {"**", "//", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<",
                                 ">",  "=",  "(",  ")",  "[",  "]",  "{", "}", ",", ".", ":", "|"};
    while (i < s.size()) {
        const char c = s[i];
        if (is_space(c)) {
            ++i;
        } else if (std::isalpha(uint8_t(c)) || c == '_') {
            size_t j = i;
            while (j < s.size() && (std::isalnum(uint8_t(s[j])) || s[j] == '_')) ++j;
            out.push_back({Tok::name, std::string(s.substr(i, j - i)), {}});
            i = j;
        } else if (std::isdigit(uint8_t(c))) {
            size_t j = i;
            while (j < s.size() && (std::isdigit(uint8_t(s[j])) || s[j] == '_')) ++j;
            bool is_float = false;
            if (j + 1 < s.size() && s[j] == '.' && std::isdigit(uint8_t(s[j + 1]))) {
                is_float = true;
                for (++j; j < s.size() && std::isdigit(uint8_t(s[j])); ++j) {
                }
            }
            if (j < s.size() && (s[j] == 'e' || s[j] == 'E')) {
                size_t k = j + 1;
                if (k < s.size() && (s[k] == '+' || s[k] == '-')) ++k;
                if (k < s.size() && std::isdigit(uint8_t(s[k]))) {
                    is_float = true;
                    for (j = k; j < s.size() && std::isdigit(uint8_t(s[j])); ++j) {
                    }
                }
            }
            std::string num;
            for (char d : s.substr(i, j - i))
                if (d != '_') num += d;
            if (is_float) {
                out.push_back({Tok::floating, num, Value(std::strtod(num.c_str(), nullptr))});
            } else {
                errno = 0;
                const long long v = std::strtoll(num.c_str(), nullptr, 10);
                if (errno == ERANGE) return Error::invalid("chat template:{}: integer {} out of range", line, num);
                out.push_back({Tok::integer, num, Value(int64_t(v))});
            }
            i = j;
        } else if (c == '\'' || c == '"') {
            std::string v;
            size_t j = i + 1;
            for (; j < s.size() && s[j] != c; ++j) {
                if (s[j] != '\\' || j + 1 >= s.size()) {
                    v += s[j];
                    continue;
                }
                const char e = s[++j];
                switch (e) {
                    case 'n': v += '\n'; break;
                    case 't': v += '\t'; break;
                    case 'r': v += '\r'; break;
                    case '0': v += '\0'; break;
                    case '\\': v += '\\'; break;
                    case '\'': v += '\''; break;
                    case '"': v += '"'; break;
                    case '\n': break;            // line continuation
                    default: v += '\\', v += e;  // Python keeps unknown escapes as written
                }
            }
            if (j >= s.size()) return Error::invalid("chat template:{}: unterminated string", line);
            out.push_back({Tok::string, std::string(), Value(std::move(v))});
            i = j + 1;
        } else {
            bool found = false;
            for (const char* op : kOps) {
                const size_t n = std::strlen(op);
                if (s.compare(i, n, op) == 0) {
                    out.push_back({Tok::op, op, {}});
                    i += n;
                    found = true;
                    break;
                }
            }
            if (!found) return Error::invalid("chat template:{}: unexpected character '{}'", line, c);
        }
    }
    out.push_back({Tok::end, "", {}});
    return out;
}

}  // namespace loom::tokenizer::jinja
