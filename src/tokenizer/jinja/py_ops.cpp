// Python's semantics for the Jinja interpreter (py_ops.h).
#include "tokenizer/jinja/py_ops.h"

#include <utf8proc.h>

#include <algorithm>

#include "tokenizer/unicode.h"

namespace loom::tokenizer::jinja::py {

namespace {
const Value kUndefined;
}  // namespace

// ---------------------------------------------------------------- strings as Python sees them

std::vector<uint32_t> cps_of(const std::string& s) { return decode_utf8_lenient(s); }

std::string utf8_of(const std::vector<uint32_t>& cps, size_t from, size_t to) {
    std::string out;
    for (size_t i = from; i < std::min(to, cps.size()); ++i) append_utf8(out, std::min(cps[i], kMaxCodePoint));
    return out;
}

// Python's str.isspace: White_Space plus the information separators U+001C..U+001F.
bool py_space(uint32_t cp) { return is_whitespace(cp) || (cp >= 0x1C && cp <= 0x1F); }

std::string strip(const std::string& s, bool left, bool right, const Value* chars) {
    const auto cps = cps_of(s);
    std::vector<uint32_t> set;
    if (chars && chars->is_string()) set = cps_of(chars->str());
    auto drop = [&](uint32_t c) {
        return chars && chars->is_string() ? std::find(set.begin(), set.end(), c) != set.end() : py_space(c);
    };
    size_t a = 0, b = cps.size();
    if (left)
        while (a < b && drop(cps[a])) ++a;
    if (right)
        while (b > a && drop(cps[b - 1])) --b;
    return utf8_of(cps, a, b);
}

std::string map_case(const std::string& s, int mode) {  // 0 lower, 1 upper, 2 title, 3 capitalize
    const auto cps = cps_of(s);
    std::string out;
    bool prev_cased = false;
    for (size_t i = 0; i < cps.size(); ++i) {
        const auto c = utf8proc_int32_t(cps[i]);
        utf8proc_int32_t m = c;
        if (mode == 0) m = utf8proc_tolower(c);
        else if (mode == 1) m = utf8proc_toupper(c);
        else if (mode == 2) m = prev_cased ? utf8proc_tolower(c) : utf8proc_totitle(c);
        else m = i == 0 ? utf8proc_totitle(c) : utf8proc_tolower(c);
        const auto cat = utf8proc_category(c);
        prev_cased = cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT;
        append_utf8(out, uint32_t(m) <= kMaxCodePoint ? uint32_t(m) : cps[i]);
    }
    return out;
}

std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count) {
    if (from.empty()) {  // Python inserts `to` between characters
        const auto cps = cps_of(s);
        std::string out;
        int64_t n = 0;
        for (size_t i = 0; i <= cps.size(); ++i) {
            if (count < 0 || n < count) out += to, ++n;
            if (i < cps.size()) append_utf8(out, std::min(cps[i], kMaxCodePoint));
        }
        return out;
    }
    std::string out;
    size_t pos = 0;
    int64_t n = 0;
    while (count < 0 || n < count) {
        const size_t f = s.find(from, pos);
        if (f == std::string::npos) break;
        out.append(s, pos, f - pos);
        out += to;
        pos = f + from.size();
        ++n;
    }
    out.append(s, pos);
    return out;
}

Value split(const std::string& s, const Value* sep, int64_t maxsplit) {
    Array out;
    if (!sep || sep->is_none() || sep->is_undefined()) {  // runs of whitespace, no empty strings
        const auto cps = cps_of(s);
        size_t i = 0;
        while (i < cps.size()) {
            while (i < cps.size() && py_space(cps[i])) ++i;
            if (i >= cps.size()) break;
            size_t j = i;
            if (maxsplit >= 0 && int64_t(out.size()) >= maxsplit) {
                size_t e = cps.size();
                while (e > i && py_space(cps[e - 1])) --e;
                out.push_back(utf8_of(cps, i, e));
                break;
            }
            while (j < cps.size() && !py_space(cps[j])) ++j;
            out.push_back(utf8_of(cps, i, j));
            i = j;
        }
        return out;
    }
    const std::string& d = sep->str();
    size_t pos = 0;
    while (maxsplit < 0 || int64_t(out.size()) < maxsplit) {
        const size_t f = d.empty() ? std::string::npos : s.find(d, pos);
        if (f == std::string::npos) break;
        out.push_back(s.substr(pos, f - pos));
        pos = f + d.size();
    }
    out.push_back(s.substr(pos));
    return out;
}

// ---------------------------------------------------------------- comparisons and iteration

Result<int> compare(const Value& a, const Value& b, int line) {
    if (a.is_number() && b.is_number()) {
        if (!a.is_float() && !b.is_float()) return a.as_int() < b.as_int() ? -1 : a.as_int() > b.as_int();
        return a.as_double() < b.as_double() ? -1 : a.as_double() > b.as_double();
    }
    if (a.is_string() && b.is_string()) return a.str() < b.str() ? -1 : a.str() > b.str();
    if (a.is_array() && b.is_array()) {
        const Array &x = a.array(), &y = b.array();
        for (size_t i = 0; i < std::min(x.size(), y.size()); ++i) {
            if (x[i] == y[i]) continue;
            return compare(x[i], y[i], line);
        }
        return x.size() < y.size() ? -1 : x.size() > y.size();
    }
    return fail(line, fmt::format("'<' not supported between '{}' and '{}'", a.type_name(), b.type_name()));
}

Result<Array> iterate(const Value& v, int line) {
    switch (v.kind()) {
        case Value::Kind::undefined: return Array{};
        case Value::Kind::array: return v.array();
        case Value::Kind::object:
        case Value::Kind::ns: {
            Array keys;
            for (const auto& kv : v.object().items) keys.push_back(decode_key(kv.first));
            return keys;
        }
        case Value::Kind::string: {
            Array chars;
            for (uint32_t c : cps_of(v.str())) {
                std::string s;
                append_utf8(s, std::min(c, kMaxCodePoint));
                chars.push_back(std::move(s));
            }
            return chars;
        }
        default: return fail(line, fmt::format("'{}' object is not iterable", v.type_name()));
    }
}

bool contains(const Value& hay, const Value& needle) {
    if (hay.is_string()) return needle.is_string() && hay.str().find(needle.str()) != std::string::npos;
    if (hay.is_array()) return std::find(hay.array().begin(), hay.array().end(), needle) != hay.array().end();
    if (hay.is_object()) return can_be_key(needle) && hay.object().find(encode_key(needle)) != nullptr;
    return false;
}

// markupsafe's escape.
std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&#34;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

int64_t py_floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
    return q;
}

std::shared_ptr<Callable> fn(std::string name, std::function<Result<Value>(Interpreter&, const Args&)> f) {
    return std::make_shared<Callable>(Callable{std::move(name), std::move(f)});
}

const Value& arg(const Args& a, size_t i, std::string_view name) {
    const Value* v = a.get(i, name);
    return v ? *v : kUndefined;
}

}  // namespace loom::tokenizer::jinja::py
