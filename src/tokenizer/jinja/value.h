// Values of loom's Jinja subset (chat templates): Python's data model as jinja2 sees it, reduced to what
// templates use: undefined, None, bool, int, float, str, list, dict (insertion-ordered), callables and
// namespace objects. Lists and dicts are immutable once built (HF renders in an immutable sandbox), so
// they are shared, not copied; only a namespace's attributes can be assigned.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/error.h"

namespace loom::tokenizer::jinja {

class Value;
using Array = std::vector<Value>;
struct Object;  // insertion-ordered string-keyed map
struct Namespace;
struct Callable;

class Value {
public:
    enum class Kind { undefined, none, boolean, integer, floating, string, array, object, callable, ns };

    Value() = default;  // undefined
    static Value none() { return Value(Kind::none); }
    // A string marked safe (jinja2's Markup, from |safe or |escape): `+` with a plain string escapes that
    // string first, as Markup.__add__ does.
    static Value markup(std::string s) {
        Value v(std::move(s));
        v.markup_ = true;
        return v;
    }
    Value(bool b) : kind_(Kind::boolean), i_(b) {}     // NOLINT: implicit, as Python literals
    Value(int64_t i) : kind_(Kind::integer), i_(i) {}  // NOLINT
    Value(int i) : kind_(Kind::integer), i_(i) {}      // NOLINT
    Value(double d) : kind_(Kind::floating), d_(d) {}  // NOLINT
    Value(std::string s) : kind_(Kind::string), s_(std::make_shared<const std::string>(std::move(s))) {}  // NOLINT
    Value(const char* s) : Value(std::string(s)) {}                                                       // NOLINT
    Value(Array a) : kind_(Kind::array), a_(std::make_shared<const Array>(std::move(a))) {}               // NOLINT
    // A tuple: an array that prints as Python's tuple, (a, b).
    static Value tuple(Array a) {
        Value v(std::move(a));
        v.markup_ = true;
        return v;
    }
    Value(std::shared_ptr<const Object> o) : kind_(Kind::object), o_(std::move(o)) {}  // NOLINT
    Value(std::shared_ptr<Callable> f) : kind_(Kind::callable), f_(std::move(f)) {}    // NOLINT
    Value(std::shared_ptr<Namespace> n) : kind_(Kind::ns), n_(std::move(n)) {}         // NOLINT

    Kind kind() const { return kind_; }
    bool is_undefined() const { return kind_ == Kind::undefined; }
    bool is_none() const { return kind_ == Kind::none; }
    bool is_bool() const { return kind_ == Kind::boolean; }
    bool is_int() const { return kind_ == Kind::integer; }
    bool is_float() const { return kind_ == Kind::floating; }
    bool is_number() const { return kind_ == Kind::integer || kind_ == Kind::floating || kind_ == Kind::boolean; }
    bool is_string() const { return kind_ == Kind::string; }
    bool is_array() const { return kind_ == Kind::array; }
    bool is_object() const { return kind_ == Kind::object || kind_ == Kind::ns; }
    bool is_callable() const { return kind_ == Kind::callable; }
    bool is_markup() const { return kind_ == Kind::string && markup_; }
    bool is_tuple() const { return kind_ == Kind::array && markup_; }

    bool as_bool() const { return i_ != 0; }
    int64_t as_int() const { return i_; }
    double as_double() const { return kind_ == Kind::floating ? d_ : double(i_); }
    const std::string& str() const { return *s_; }
    const Array& array() const { return *a_; }
    const Object& object() const;  // dict or namespace
    const std::shared_ptr<Callable>& callable() const { return f_; }
    const std::shared_ptr<Namespace>& ns() const { return n_; }

    bool truthy() const;                    // Python's bool()
    std::string type_name() const;          // Python's type name, for messages
    bool operator==(const Value& o) const;  // Python's ==

private:
    explicit Value(Kind k) : kind_(k) {}
    Kind kind_ = Kind::undefined;
    bool markup_ = false;  // a string: Markup; an array: a tuple
    int64_t i_ = 0;
    double d_ = 0;
    std::shared_ptr<const std::string> s_;
    std::shared_ptr<const Array> a_;
    std::shared_ptr<const Object> o_;
    std::shared_ptr<Callable> f_;
    std::shared_ptr<Namespace> n_;
};

// Dict keys are strings; other hashable keys (int, float, bool, None: Python allows them) are stored
// encoded by encode_key and read back by decode_key.
std::string encode_key(const Value& k);
Value decode_key(const std::string& k);
bool can_be_key(const Value& k);

struct Object {
    std::vector<std::pair<std::string, Value>> items;  // in insertion order; keys unique (encoded)
    const Value* find(std::string_view key) const;
    void set(std::string key, Value v);  // replaces or appends
};

struct Namespace {
    Object attrs;
};

// Arguments of a call: positional then keyword.
struct Args {
    std::vector<Value> pos;
    std::vector<std::pair<std::string, Value>> kw;
    const Value* get(size_t i, std::string_view name) const;  // positional i, else keyword `name`, else null
};

class Interpreter;
struct Callable {
    std::string name;
    std::function<Result<Value>(Interpreter&, const Args&)> fn;
};

inline std::shared_ptr<const Object> make_object(Object o) { return std::make_shared<const Object>(std::move(o)); }

// Python's str() (what {{ x }} prints) and repr() (how a list shows its strings).
std::string to_str(const Value& v);
std::string to_repr(const Value& v);
// Python's json.dumps(v, ensure_ascii=ensure_ascii, indent=indent, sort_keys=sort_keys) with the default
// separators (", " and ": "; "," and ": " with an indent): HF's tojson. indent < 0: none.
Result<std::string> to_json(const Value& v, int indent, bool sort_keys, bool ensure_ascii = false);
// JSON (the render context) -> Value, and back for tests.
Value from_json(const nlohmann::ordered_json& j);

}  // namespace loom::tokenizer::jinja
