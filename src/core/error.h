// Errors for bad input (Result<T>, Error with a code and a context chain) and for bugs (LOOM_ASSERT).
// Bad input never aborts; a broken invariant always does, in every build type.
#pragma once

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace loom {

enum class ErrorCode {
    invalid_input,  // malformed file, request, TOML, text
    io,             // open/read/map failures
    unsupported,    // valid input we do not handle (unknown type, missing kernel)
    out_of_range,   // a value outside its legal range
    type_mismatch,  // metadata of another type than asked for
    not_found,      // missing key, tensor, file
    internal,       // should not happen; carries context for a bug report
};

const char* to_string(ErrorCode c);

// An error message in the form `<source>: <where>: <what> (expected X, got Y)`.
// `with_context` prepends one more `<where>: ` level as the error travels up.
class Error {
public:
    Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}

    template <typename... Args>
    static Error make(ErrorCode code, fmt::format_string<Args...> f, Args&&... args) {
        return Error(code, fmt::format(f, std::forward<Args>(args)...));
    }
    template <typename... Args>
    static Error invalid(fmt::format_string<Args...> f, Args&&... args) {
        return make(ErrorCode::invalid_input, f, std::forward<Args>(args)...);
    }
    template <typename... Args>
    static Error unsupported(fmt::format_string<Args...> f, Args&&... args) {
        return make(ErrorCode::unsupported, f, std::forward<Args>(args)...);
    }
    template <typename... Args>
    static Error io(fmt::format_string<Args...> f, Args&&... args) {
        return make(ErrorCode::io, f, std::forward<Args>(args)...);
    }
    template <typename... Args>
    static Error not_found(fmt::format_string<Args...> f, Args&&... args) {
        return make(ErrorCode::not_found, f, std::forward<Args>(args)...);
    }

    Error with_context(std::string_view where) const& { return Error(code_, fmt::format("{}: {}", where, message_)); }
    Error with_context(std::string_view where) && {
        message_ = fmt::format("{}: {}", where, message_);
        return std::move(*this);
    }

    ErrorCode code() const { return code_; }
    const std::string& message() const { return message_; }

private:
    ErrorCode code_;
    std::string message_;
};

// Result<T>: a value or an Error. Result<void> is spelled Status.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
    Result(Error error) : v_(std::move(error)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return check(), std::get<0>(v_); }
    const T& value() const& { return check(), std::get<0>(v_); }
    T&& value() && { return check(), std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const Error& error() const& { return std::get<1>(v_); }
    Error&& error() && { return std::get<1>(std::move(v_)); }

private:
    void check() const {
        if (!ok()) {
            std::fprintf(stderr, "loom: Result::value() on an error: %s\n", std::get<1>(v_).message().c_str());
            std::abort();
        }
    }
    std::variant<T, Error> v_;
};

struct Ok {};
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Ok) {}                                                  // NOLINT
    Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
    bool ok() const { return ok_; }
    explicit operator bool() const { return ok_; }
    const Error& error() const& { return error_; }
    Error&& error() && { return std::move(error_); }

private:
    Error error_{ErrorCode::internal, ""};
    bool ok_ = true;
};

}  // namespace loom

// Abort with the values when an invariant does not hold: these are bugs, not bad input.
#define LOOM_ASSERT(cond, ...)                                                                   \
    do {                                                                                         \
        if (!(cond)) [[unlikely]] {                                                              \
            std::fprintf(stderr, "%s:%d: assertion failed: %s: %s\n", __FILE__, __LINE__, #cond, \
                         fmt::format(__VA_ARGS__).c_str());                                      \
            std::abort();                                                                        \
        }                                                                                        \
    } while (0)

#define LOOM_CONCAT_INNER(a, b) a##b
#define LOOM_CONCAT(a, b) LOOM_CONCAT_INNER(a, b)

// Propagate an error from an expression yielding Status or Result<T>.
#define LOOM_RETURN_IF_ERROR(expr)                                      \
    do {                                                                \
        auto&& loom_status_ = (expr);                                   \
        if (!loom_status_.ok()) return std::move(loom_status_).error(); \
    } while (0)

// `LOOM_TRY(auto x, expr);` binds the value of a Result or returns its error.
// NOLINTBEGIN(bugprone-macro-parentheses): `decl` is a declaration, which parentheses would break.
#define LOOM_TRY(decl, expr) LOOM_TRY_IMPL(LOOM_CONCAT(loom_result_, __LINE__), decl, expr)
#define LOOM_TRY_IMPL(tmp, decl, expr)            \
    auto tmp = (expr);                            \
    if (!tmp.ok()) return std::move(tmp).error(); \
    decl = std::move(tmp).value()
// NOLINTEND(bugprone-macro-parentheses)
