// The tokenizer test corpus (tests/data/tokenizer/corpus.jsonl.gz: a JSON string per line, or {"b64": ...} for
// bytes that are not UTF-8), read once.
#pragma once

#include <cstdlib>
#include <string>
#include <vector>
#include <nlohmann/json.hpp>

#include "unit/tokenizer/gz_lines.h"

namespace loom::tokenizer {

// tests/data/tokenizer ($LOOM_TEST_DATA_DIR/tokenizer when set).
inline std::string tokenizer_data_dir() {
    const char* d = std::getenv("LOOM_TEST_DATA_DIR");
    return std::string(d && *d ? d : LOOM_TEST_DATA_DIR) + "/tokenizer";
}

inline std::string from_b64(const std::string& s) {
    auto val = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        return c == '+' ? 62 : c == '/' ? 63 : -1;
    };
    std::string out;
    int acc = 0, bits = 0;
    for (char c : s) {
        const int v = val(c);
        if (v < 0) continue;
        acc = acc << 6 | v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += char((acc >> bits) & 0xFF);
        }
    }
    return out;
}

inline const std::vector<std::string>& corpus() {
    static const std::vector<std::string> texts = [] {
        std::vector<std::string> t;
        for (const std::string& line : read_gz_lines(tokenizer_data_dir() + "/corpus.jsonl.gz")) {
            const auto j = nlohmann::json::parse(line);
            t.push_back(j.is_string() ? j.get<std::string>() : from_b64(j["b64"].get<std::string>()));
        }
        return t;
    }();
    return texts;
}

}  // namespace loom::tokenizer
