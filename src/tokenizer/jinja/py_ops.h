// Python's semantics for the interpreter and its filters (interpreter.cpp, filters.cpp): strings by code point,
// comparisons, iteration, and the small helpers that build callables and read their arguments.
// Include only from tokenizer/jinja/*.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/jinja/interpreter.h"

namespace loom::tokenizer::jinja::py {

// A string's code points, and code points [from, to) back to UTF-8 (Python indexes strings by code point).
std::vector<uint32_t> cps_of(const std::string& s);
std::string utf8_of(const std::vector<uint32_t>& cps, size_t from = 0, size_t to = SIZE_MAX);

// Python's str.isspace: White_Space plus the information separators U+001C..U+001F.
bool py_space(uint32_t cp);

// str.strip / lstrip / rstrip (chars: the set to strip; whitespace when null or not a string).
std::string strip(const std::string& s, bool left, bool right, const Value* chars);

// str.lower / upper / title / capitalize.
std::string map_case(const std::string& s, int mode);  // 0 lower, 1 upper, 2 title, 3 capitalize

// str.replace(from, to, count) (count < 0: all).
std::string replace_all(const std::string& s, const std::string& from, const std::string& to, int64_t count);

// str.split(sep, maxsplit) (sep null or none: runs of whitespace).
Value split(const std::string& s, const Value* sep, int64_t maxsplit);

// Python's ordering (−1, 0, 1); an error for values Python cannot order.
Result<int> compare(const Value& a, const Value& b, int line);

// The items a for-loop sees (a mapping's keys, a string's characters); an error for what is not iterable.
Result<Array> iterate(const Value& v, int line);

// The `in` operator.
bool contains(const Value& hay, const Value& needle);

// markupsafe's escape.
std::string html_escape(const std::string& s);

// Python's // on integers (rounds toward −inf). PRECONDITION: b != 0.
int64_t py_floordiv(int64_t a, int64_t b);

// A built-in callable, and argument i (or keyword `name`) of a call, undefined when absent.
std::shared_ptr<Callable> fn(std::string name, std::function<Result<Value>(Interpreter&, const Args&)> f);
const Value& arg(const Args& a, size_t i, std::string_view name);

}  // namespace loom::tokenizer::jinja::py
