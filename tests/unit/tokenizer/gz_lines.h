// Reads the lines of a gzip file (the recorded test data is gzipped to stay small).
#pragma once

#include <zlib.h>

#include <string>
#include <vector>

namespace loom::tokenizer {

// The lines of a gzip file, without their '\n'; empty when the file cannot be opened.
inline std::vector<std::string> read_gz_lines(const std::string& path) {
    std::vector<std::string> lines;
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) return lines;
    std::string cur;
    char buf[1 << 16];
    int n;
    while ((n = gzread(f, buf, sizeof(buf))) > 0) {
        for (int i = 0; i < n; ++i) {
            if (buf[i] == '\n') {
                lines.push_back(std::move(cur));
                cur.clear();
            } else {
                cur += buf[i];
            }
        }
    }
    gzclose(f);
    return lines;
}

}  // namespace loom::tokenizer
