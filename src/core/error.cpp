// Names of error codes, for messages and JSON.
#include "core/error.h"

namespace loom {

const char* to_string(ErrorCode c) {
    switch (c) {
        case ErrorCode::invalid_input: return "invalid_input";
        case ErrorCode::io: return "io";
        case ErrorCode::unsupported: return "unsupported";
        case ErrorCode::out_of_range: return "out_of_range";
        case ErrorCode::type_mismatch: return "type_mismatch";
        case ErrorCode::not_found: return "not_found";
        case ErrorCode::internal: return "internal";
    }
    return "unknown";
}

}  // namespace loom
