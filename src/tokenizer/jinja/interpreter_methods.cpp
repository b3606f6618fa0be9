// The Jinja interpreter's attribute and item access, and the methods and globals chat templates call on values
// (str, list and dict methods, namespace, loop and cycler objects), with Python's semantics (interpreter.cpp has
// the statements and expressions).
#include <fmt/format.h>
#include <utf8proc.h>

#include <algorithm>

#include "tokenizer/jinja/interpreter.h"
#include "tokenizer/jinja/py_ops.h"
#include "tokenizer/unicode.h"

namespace loom::tokenizer::jinja {

using namespace py;

// ---------------------------------------------------------------- attributes, items, methods

Result<Value> Interpreter::attribute(const Value& v, const std::string& name, int line) {
    if (v.is_undefined()) return fail(line, fmt::format("undefined value has no attribute '{}'", name));
    if (v.kind() == Value::Kind::object) {
        const Value& self = v;  // each method captures its own copy
        if (name == "items" || name == "keys" || name == "values") {
            return Value(fn(name, [self, name](Interpreter&, const Args&) -> Result<Value> {
                Array out;
                for (const auto& [k, x] : self.object().items) {
                    if (name == "items") out.push_back(Value::tuple(Array{decode_key(k), x}));
                    else if (name == "keys") out.push_back(decode_key(k));
                    else out.push_back(x);
                }
                return Value(std::move(out));
            }));
        }
        if (name == "get") {
            return Value(fn(name, [self](Interpreter&, const Args& a) -> Result<Value> {
                const Value& k = arg(a, 0, "key");
                const Value* x = can_be_key(k) ? self.object().find(encode_key(k)) : nullptr;
                if (x) return *x;
                const Value* d = a.get(1, "default");
                return d ? *d : Value::none();
            }));
        }
        if (const Value* x = v.object().find(name)) return *x;
        return Value();
    }
    if (v.kind() == Value::Kind::ns) {
        const Value* x = v.object().find(name);
        return x ? *x : Value();
    }
    if (v.is_string()) {
        const std::string& s = v.str();  // each method captures its own copy
        auto method = [&](auto body) { return Value(fn(name, body)); };
        if (name == "strip" || name == "lstrip" || name == "rstrip")
            return method([s, name](Interpreter&, const Args& a) -> Result<Value> {
                return Value(strip(s, name != "rstrip", name != "lstrip", a.get(0, "chars")));
            });
        if (name == "upper" || name == "lower" || name == "title" || name == "capitalize")
            return method([s, name](Interpreter&, const Args&) -> Result<Value> {
                return Value(map_case(s, name == "lower" ? 0 : name == "upper" ? 1 : name == "title" ? 2 : 3));
            });
        if (name == "startswith" || name == "endswith")
            return method([s, name](Interpreter&, const Args& a) -> Result<Value> {
                const Value& p = arg(a, 0, "prefix");
                auto one = [&](const std::string& x) {
                    return name == "startswith"
                               ? s.compare(0, x.size(), x) == 0
                               : s.size() >= x.size() && s.compare(s.size() - x.size(), x.size(), x) == 0;
                };
                if (p.is_string()) return Value(one(p.str()));
                if (p.is_array()) {
                    for (const Value& x : p.array())
                        if (x.is_string() && one(x.str())) return Value(true);
                    return Value(false);
                }
                return fail(0, fmt::format("{}() needs a string", name));
            });
        if (name == "split" || name == "rsplit")
            return method([s](Interpreter&, const Args& a) -> Result<Value> {
                const Value& m = arg(a, 1, "maxsplit");
                return split(s, a.get(0, "sep"), m.is_int() ? m.as_int() : -1);
            });
        if (name == "replace")
            return method([s](Interpreter& in, const Args& a) -> Result<Value> {
                const Value& c = arg(a, 2, "count");
                std::string r =
                    replace_all(s, to_str(arg(a, 0, "old")), to_str(arg(a, 1, "new")), c.is_int() ? c.as_int() : -1);
                LOOM_RETURN_IF_ERROR(in.check_size(r.size(), "string"));
                return Value(std::move(r));
            });
        if (name == "find" || name == "count" || name == "index")
            return method([s, name](Interpreter&, const Args& a) -> Result<Value> {
                const std::string x = to_str(arg(a, 0, "sub"));
                if (name == "count") {
                    if (x.empty()) return Value(int64_t(cps_of(s).size() + 1));
                    int64_t n = 0;
                    for (size_t p = s.find(x); p != std::string::npos; p = s.find(x, p + x.size())) ++n;
                    return Value(n);
                }
                const size_t p = s.find(x);
                if (p == std::string::npos) {
                    if (name == "index") return fail(0, "substring not found");
                    return Value(int64_t(-1));
                }
                return Value(int64_t(cps_of(s.substr(0, p)).size()));
            });
        if (name == "join")
            return method([s](Interpreter& in, const Args& a) -> Result<Value> {
                LOOM_TRY(Array items, iterate(arg(a, 0, "iterable"), 0));
                std::string out;
                for (size_t i = 0; i < items.size(); ++i) {
                    if (i) out += s;
                    out += to_str(items[i]);
                    LOOM_RETURN_IF_ERROR(in.check_size(out.size(), "string"));
                }
                return Value(std::move(out));
            });
        if (name == "format")
            return method([s](Interpreter& in, const Args& a) -> Result<Value> {
                // Python's str.format with plain fields: {} {0} {name}; {{ and }} are braces. No format specs.
                std::string out;
                size_t next = 0;
                for (size_t i = 0; i < s.size(); ++i) {
                    const char c = s[i];
                    if ((c == '{' || c == '}') && i + 1 < s.size() && s[i + 1] == c) {
                        out += c;
                        ++i;
                        continue;
                    }
                    if (c != '{') {
                        out += c;
                        continue;
                    }
                    const size_t e = s.find('}', i);
                    if (e == std::string::npos) return fail(0, "format: single '{' in the format string");
                    std::string field = s.substr(i + 1, e - i - 1);
                    if (field.find(':') != std::string::npos || field.find('!') != std::string::npos)
                        return fail(0, "format: conversions and format specs are not supported");
                    const Value* v = nullptr;
                    if (field.empty()) v = a.get(next++, "");
                    else if (std::isdigit(uint8_t(field[0]))) v = a.get(size_t(std::stoul(field)), "");
                    else v = a.get(SIZE_MAX, field);
                    if (!v) return fail(0, fmt::format("format: no argument for '{{{}}}'", field));
                    out += to_str(*v);
                    LOOM_RETURN_IF_ERROR(in.check_size(out.size(), "string"));
                    i = e;
                }
                return Value(std::move(out));
            });
        if (name == "splitlines")
            return method([s](Interpreter&, const Args&) -> Result<Value> {
                Array out;
                size_t pos = 0;
                while (pos < s.size()) {
                    size_t e = s.find_first_of("\r\n", pos);
                    if (e == std::string::npos) {
                        out.push_back(s.substr(pos));
                        break;
                    }
                    out.push_back(s.substr(pos, e - pos));
                    pos = e + (s.compare(e, 2, "\r\n") == 0 ? 2 : 1);
                }
                return Value(std::move(out));
            });
        if (name == "isdigit" || name == "isalpha" || name == "isspace" || name == "isalnum" || name == "islower" ||
            name == "isupper")
            return method([s, name](Interpreter&, const Args&) -> Result<Value> {
                const auto cps = cps_of(s);
                if (cps.empty()) return Value(false);
                bool any_cased = false;
                for (uint32_t c : cps) {
                    const auto cat = utf8proc_category(utf8proc_int32_t(c));
                    const bool letter = cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
                    const bool digit = cat == UTF8PROC_CATEGORY_ND;
                    if (name == "isdigit" && !digit) return Value(false);
                    if (name == "isalpha" && !letter) return Value(false);
                    if (name == "isalnum" && !letter && !digit) return Value(false);
                    if (name == "isspace" && !py_space(c)) return Value(false);
                    if (name == "islower" && cat == UTF8PROC_CATEGORY_LU) return Value(false);
                    if (name == "isupper" && cat == UTF8PROC_CATEGORY_LL) return Value(false);
                    any_cased = any_cased || cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL;
                }
                return Value(name == "islower" || name == "isupper" ? any_cased : true);
            });
        return Value();
    }
    if (v.is_array() && (name == "index" || name == "count")) {
        const Value& self = v;  // captured by copy below
        return Value(fn(name, [self, name](Interpreter&, const Args& a) -> Result<Value> {
            const Value& x = arg(a, 0, "value");
            int64_t n = 0;
            for (size_t i = 0; i < self.array().size(); ++i) {
                if (!(self.array()[i] == x)) continue;
                if (name == "index") return Value(int64_t(i));
                ++n;
            }
            if (name == "index") return fail(0, "value is not in list");
            return Value(n);
        }));
    }
    if (v.is_array() || v.is_object()) {
        static const char* kMutators[] = {"append", "extend",     "pop",     "insert", "remove", "clear",
                                          "update", "setdefault", "popitem", "sort",   "reverse"};
        for (const char* m : kMutators)
            if (name == m) return fail(line, fmt::format("'{}' would modify an immutable value (sandbox)", name));
    }
    return Value();
}

Result<Value> Interpreter::item(const Value& v, const Value& key, int line) {
    if (v.is_undefined()) return fail(line, "undefined value is not subscriptable");
    if (v.is_array() && (key.is_int() || key.is_bool())) {
        int64_t i = key.as_int();
        const int64_t n = int64_t(v.array().size());
        if (i < 0) i += n;
        if (i < 0 || i >= n) return Value();
        return v.array()[size_t(i)];
    }
    if (v.is_string() && (key.is_int() || key.is_bool())) {
        const auto cps = cps_of(v.str());
        int64_t i = key.as_int();
        if (i < 0) i += int64_t(cps.size());
        if (i < 0 || i >= int64_t(cps.size())) return Value();
        return Value(utf8_of(cps, size_t(i), size_t(i) + 1));
    }
    if (v.is_object() && can_be_key(key)) {
        if (const Value* x = v.object().find(encode_key(key))) return *x;
        if (key.is_string()) return attribute(v, key.str(), line);
        return Value();
    }
    if (key.is_string()) return attribute(v, key.str(), line);
    return Value();
}

}  // namespace loom::tokenizer::jinja
