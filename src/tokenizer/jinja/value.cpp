// Jinja values: Python truthiness, equality, str()/repr() and json.dumps as jinja2 + HF print them.
#include "tokenizer/jinja/value.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace loom::tokenizer::jinja {

const Object& Value::object() const { return kind_ == Kind::ns ? n_->attrs : *o_; }

bool Value::truthy() const {
    switch (kind_) {
        case Kind::undefined:
        case Kind::none: return false;
        case Kind::boolean:
        case Kind::integer: return i_ != 0;
        case Kind::floating: return d_ != 0;
        case Kind::string: return !s_->empty();
        case Kind::array: return !a_->empty();
        case Kind::object: return !o_->items.empty();
        case Kind::callable:
        case Kind::ns: return true;
    }
    return false;
}

std::string Value::type_name() const {
    switch (kind_) {
        case Kind::undefined: return "Undefined";
        case Kind::none: return "NoneType";
        case Kind::boolean: return "bool";
        case Kind::integer: return "int";
        case Kind::floating: return "float";
        case Kind::string: return "str";
        case Kind::array: return "list";
        case Kind::object: return "dict";
        case Kind::callable: return "function";
        case Kind::ns: return "Namespace";
    }
    return "?";
}

bool Value::operator==(const Value& o) const {
    if (is_number() && o.is_number()) {
        if (kind_ != Kind::floating && o.kind_ != Kind::floating) return i_ == o.i_;
        return as_double() == o.as_double();
    }
    if (kind_ != o.kind_) return false;
    switch (kind_) {
        case Kind::undefined:
        case Kind::none: return true;
        case Kind::string: return *s_ == *o.s_;
        case Kind::array: return *a_ == *o.a_;
        case Kind::object: {
            if (o_->items.size() != o.o_->items.size()) return false;
            for (const auto& [k, v] : o_->items) {
                const Value* w = o.o_->find(k);
                if (!w || !(*w == v)) return false;
            }
            return true;
        }
        case Kind::callable: return f_ == o.f_;
        case Kind::ns: return n_ == o.n_;
        default: return false;
    }
}

std::string encode_key(const Value& k) {
    switch (k.kind()) {
        case Value::Kind::string: return k.str();
        case Value::Kind::integer: return std::string("\0i", 2) + std::to_string(k.as_int());
        case Value::Kind::boolean: return std::string("\0b", 2) + (k.as_bool() ? "1" : "0");
        case Value::Kind::none: return std::string("\0n", 2);
        case Value::Kind::floating: return std::string("\0f", 2) + to_str(k);
        default: return std::string("\0?", 2);
    }
}

Value decode_key(const std::string& k) {
    if (k.size() < 2 || k[0] != '\0') return Value(k);
    switch (k[1]) {
        case 'i': return Value(int64_t(std::strtoll(k.c_str() + 2, nullptr, 10)));
        case 'b': return Value(k[2] == '1');
        case 'n': return Value::none();
        case 'f': return Value(std::strtod(k.c_str() + 2, nullptr));
        default: return Value(k);
    }
}

bool can_be_key(const Value& k) { return k.is_string() || k.is_int() || k.is_bool() || k.is_none() || k.is_float(); }

const Value* Object::find(std::string_view key) const {
    for (const auto& [k, v] : items)
        if (k == key) return &v;
    return nullptr;
}

void Object::set(std::string key, Value v) {
    for (auto& [k, old] : items) {
        if (k == key) {
            old = std::move(v);
            return;
        }
    }
    items.emplace_back(std::move(key), std::move(v));
}

const Value* Args::get(size_t i, std::string_view name) const {
    if (i < pos.size()) return &pos[i];
    for (const auto& [k, v] : kw)
        if (k == name) return &v;
    return nullptr;
}

namespace {

// Python's repr(float): the shortest digits that read back, with ".0" for integral values and
// Python's exponent form (1e+16, 1e-05).
std::string py_float(double d) {
    if (std::isnan(d)) return "nan";
    if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
    if (d == std::floor(d) && std::fabs(d) < 1e16) return fmt::format("{:.1f}", d);
    std::string s = fmt::format("{}", d);  // shortest round-trip
    const size_t e = s.find('e');
    if (e != std::string::npos) {  // fmt writes 1e-05 / 1e+16 like Python; make sure of the sign and 2 digits
        std::string mant = s.substr(0, e), ex = s.substr(e + 1);
        char sign = '+';
        if (!ex.empty() && (ex[0] == '-' || ex[0] == '+')) sign = ex[0], ex = ex.substr(1);
        while (ex.size() < 2) ex = "0" + ex;
        s = mant + "e" + sign + ex;
    }
    return s;
}

std::string py_str_repr(const std::string& s) {
    const bool dq = s.find('\'') != std::string::npos && s.find('"') == std::string::npos;
    const char q = dq ? '"' : '\'';
    std::string out(1, q);
    for (unsigned char c : s) {
        if (c == '\\') out += "\\\\";
        else if (c == uint8_t(q)) out += std::string("\\") + char(q);
        else if (c == '\n') out += "\\n";
        else if (c == '\r') out += "\\r";
        else if (c == '\t') out += "\\t";
        else if (c < 0x20 || c == 0x7F) out += fmt::format("\\x{:02x}", c);
        else out += char(c);
    }
    out += q;
    return out;
}

}  // namespace

std::string to_str(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::undefined: return "";
        case Value::Kind::none: return "None";
        case Value::Kind::boolean: return v.as_bool() ? "True" : "False";
        case Value::Kind::integer: return std::to_string(v.as_int());
        case Value::Kind::floating: return py_float(v.as_double());
        case Value::Kind::string: return v.str();
        default: return to_repr(v);
    }
}

std::string to_repr(const Value& v) {
    switch (v.kind()) {
        case Value::Kind::string: return py_str_repr(v.str());
        case Value::Kind::array: {
            std::string s = v.is_tuple() ? "(" : "[";
            for (size_t i = 0; i < v.array().size(); ++i) s += (i ? ", " : "") + to_repr(v.array()[i]);
            if (v.is_tuple()) return s + (v.array().size() == 1 ? ",)" : ")");
            return s + "]";
        }
        case Value::Kind::object: {
            std::string s = "{";
            bool first = true;
            for (const auto& [k, x] : v.object().items) {
                s += (first ? "" : ", ") + to_repr(decode_key(k)) + ": " + to_repr(x);
                first = false;
            }
            return s + "}";
        }
        case Value::Kind::callable: return "<function " + v.callable()->name + ">";
        case Value::Kind::ns: return "<Namespace>";
        default: return to_str(v);
    }
}

namespace {

void json_string(std::string& out, const std::string& s, bool ensure_ascii) {
    out += '"';
    for (size_t i = 0; i < s.size(); ++i) {
        const unsigned char c = uint8_t(s[i]);
        if (ensure_ascii && c >= 0x80) {  // \uXXXX, with a surrogate pair above U+FFFF (Python's json)
            uint32_t cp = 0xFFFD;
            size_t n = 1;
            if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) cp = (c & 0x1Fu) << 6 | (uint8_t(s[i + 1]) & 0x3F), n = 2;
            else if ((c & 0xF0) == 0xE0 && i + 2 < s.size())
                cp = (c & 0x0Fu) << 12 | (uint8_t(s[i + 1]) & 0x3Fu) << 6 | (uint8_t(s[i + 2]) & 0x3F), n = 3;
            else if ((c & 0xF8) == 0xF0 && i + 3 < s.size())
                cp = (c & 0x07u) << 18 | (uint8_t(s[i + 1]) & 0x3Fu) << 12 | (uint8_t(s[i + 2]) & 0x3Fu) << 6 |
                     (uint8_t(s[i + 3]) & 0x3F),
                n = 4;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                out += fmt::format("\\u{:04x}\\u{:04x}", 0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF));
            } else {
                out += fmt::format("\\u{:04x}", cp);
            }
            i += n - 1;
            continue;
        }
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            case '\b': out += "\\b"; break;
            case '\f': out += "\\f"; break;
            default:
                if (c < 0x20) out += fmt::format("\\u{:04x}", c);
                else out += char(c);
        }
    }
    out += '"';
}

// A dict key as json.dumps writes it: strings as they are, other keys through their JSON form.
std::string json_key(const std::string& k) {
    const Value v = decode_key(k);
    if (v.is_string()) return v.str();
    if (v.is_none()) return "null";
    if (v.is_bool()) return v.as_bool() ? "true" : "false";
    return to_str(v);
}

Status json_value(std::string& out, const Value& v, int indent, bool sort_keys, bool ascii, int depth) {
    if (depth > 512) return Error::invalid("tojson: nesting deeper than 512");
    auto newline = [&](int d) {
        if (indent < 0) return;
        out += '\n';
        out.append(size_t(indent) * size_t(d), ' ');
    };
    const char* item_sep = indent < 0 ? ", " : ",";
    switch (v.kind()) {
        case Value::Kind::undefined:
        case Value::Kind::none: out += "null"; return Ok{};
        case Value::Kind::boolean: out += v.as_bool() ? "true" : "false"; return Ok{};
        case Value::Kind::integer: out += std::to_string(v.as_int()); return Ok{};
        case Value::Kind::floating: {
            const double d = v.as_double();
            out += std::isnan(d) ? "NaN" : std::isinf(d) ? (d > 0 ? "Infinity" : "-Infinity") : py_float(d);
            return Ok{};
        }
        case Value::Kind::string: json_string(out, v.str(), ascii); return Ok{};
        case Value::Kind::array: {
            const Array& a = v.array();
            if (a.empty()) {
                out += "[]";
                return Ok{};
            }
            out += '[';
            for (size_t i = 0; i < a.size(); ++i) {
                if (i) out += item_sep;
                newline(depth + 1);
                LOOM_RETURN_IF_ERROR(json_value(out, a[i], indent, sort_keys, ascii, depth + 1));
            }
            newline(depth);
            out += ']';
            return Ok{};
        }
        case Value::Kind::object:
        case Value::Kind::ns: {
            std::vector<const std::pair<std::string, Value>*> items;
            for (const auto& kv : v.object().items) items.push_back(&kv);
            if (sort_keys)
                std::stable_sort(items.begin(), items.end(), [](auto* a, auto* b) { return a->first < b->first; });
            if (items.empty()) {
                out += "{}";
                return Ok{};
            }
            out += '{';
            for (size_t i = 0; i < items.size(); ++i) {
                if (i) out += item_sep;
                newline(depth + 1);
                json_string(out, json_key(items[i]->first), ascii);
                out += ": ";
                LOOM_RETURN_IF_ERROR(json_value(out, items[i]->second, indent, sort_keys, ascii, depth + 1));
            }
            newline(depth);
            out += '}';
            return Ok{};
        }
        case Value::Kind::callable: return Error::invalid("tojson: a function is not JSON serializable");
    }
    return Ok{};
}

}  // namespace

Result<std::string> to_json(const Value& v, int indent, bool sort_keys, bool ensure_ascii) {
    std::string out;
    LOOM_RETURN_IF_ERROR(json_value(out, v, indent, sort_keys, ensure_ascii, 0));
    return out;
}

Value from_json(const nlohmann::ordered_json& j) {
    switch (j.type()) {
        case nlohmann::json::value_t::null: return Value::none();
        case nlohmann::json::value_t::boolean: return Value(j.get<bool>());
        case nlohmann::json::value_t::number_integer: return Value(j.get<int64_t>());
        case nlohmann::json::value_t::number_unsigned: return Value(int64_t(j.get<uint64_t>()));
        case nlohmann::json::value_t::number_float: return Value(j.get<double>());
        case nlohmann::json::value_t::string: return Value(j.get<std::string>());
        case nlohmann::json::value_t::array: {
            Array a;
            a.reserve(j.size());
            for (const auto& x : j) a.push_back(from_json(x));
            return Value(std::move(a));
        }
        case nlohmann::json::value_t::object: {
            Object o;
            for (const auto& [k, x] : j.items()) o.set(k, from_json(x));
            return Value(make_object(std::move(o)));
        }
        default: return Value();
    }
}

}  // namespace loom::tokenizer::jinja
