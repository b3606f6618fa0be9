// Errors the HTTP API answers with, in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with an
// HTTP status. Bad input is always a 4xx naming the field (`param`), never a 5xx.
#pragma once

#include <optional>
#include <string>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace loom::server {

struct ApiError {
    int status = 400;
    std::string message;
    std::string type = "invalid_request_error";
    std::string param;  // the field at fault, e.g. "messages[2].role"; empty: none
    std::string code;   // machine-readable reason, e.g. "invalid_type"; empty: none

    nlohmann::json to_json() const;

    // A 400 about one field: message reads "<param>: <what>".
    template <typename... Args>
    static ApiError field(std::string param, std::string code, fmt::format_string<Args...> f, Args&&... args) {
        ApiError e;
        e.message = param + ": " + fmt::format(f, std::forward<Args>(args)...);
        e.param = std::move(param);
        e.code = std::move(code);
        return e;
    }
    // Any status, no field.
    static ApiError make(int status, std::string type, std::string code, std::string message) {
        ApiError e;
        e.status = status;
        e.type = std::move(type);
        e.code = std::move(code);
        e.message = std::move(message);
        return e;
    }
};

// What a parse or check step returns: nothing when fine.
using MaybeError = std::optional<ApiError>;

// JSON text for a response body. Never throws on invalid UTF-8 (a token's bytes may end inside a character):
// such bytes become U+FFFD.
std::string dump_json(const nlohmann::json& j);
std::string dump_json(const nlohmann::ordered_json& j);

}  // namespace loom::server
