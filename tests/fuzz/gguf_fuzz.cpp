// libFuzzer target for the GGUF reader: parse arbitrary bytes, and when they are accepted, touch every
// view the reader hands out (each metadata value through to_owned and the typed getters, every byte of
// every tensor's data) so that ASan sees any view that escapes the buffer. Broken invariants abort.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "formats/gguf_reader.h"

namespace {

using loom::formats::GgufFile;
using loom::formats::GgufType;
using loom::formats::MetaEntry;
using loom::formats::TensorInfo;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "gguf_fuzz: invariant broken: %s\n", what);
    std::abort();
}

// Reads through a byte range so that a bad range is an ASan report, not a silent pass.
uint8_t touch(const void* p, uint64_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    uint8_t acc = 0;
    for (uint64_t i = 0; i < n; ++i) acc ^= b[i];
    return acc;
}

void exercise(const GgufFile& f, const uint8_t* base, size_t size) {
    auto inside = [&](const void* p, uint64_t n) {
        const auto* q = static_cast<const uint8_t*>(p);
        return q >= base && q <= base + size && n <= uint64_t(base + size - q);
    };
    volatile uint8_t sink = 0;
    if (f.file_size() != size || f.data_offset() > size) fail("file size or data offset");
    for (const MetaEntry& e : f.metadata()) {
        if (e.key.empty() || !inside(e.key.data(), e.key.size())) fail("key view");
        if (f.find(e.key) != &e) fail("find() does not return the entry");
        sink = sink ^ touch(e.key.data(), e.key.size());
        if (e.type == GgufType::string && !inside(e.str.data(), e.str.size())) fail("string view");
        for (std::string_view s : e.strs)
            if (!inside(s.data(), s.size())) fail("string array element view");
        (void)e.to_owned();
        // The typed getters must answer (value or type error) for any stored type.
        (void)f.get_int(e.key);
        (void)f.get_float(e.key);
        (void)f.get_string(e.key);
        (void)f.get_string_array(e.key);
        if (auto a = f.get_array<uint32_t>(e.key); a.ok() && !a->empty()) sink = sink ^ uint8_t((*a)[a->size() - 1]);
        if (auto a = f.get_array<float>(e.key); a.ok()) (void)a->to_vector();
    }
    uint64_t prev_end = 0;
    std::vector<const TensorInfo*> by_start;
    for (const TensorInfo& t : f.tensors()) {
        if (f.tensor(t.name) != &t) fail("tensor() does not return the tensor");
        if (t.data != base + t.offset || !inside(t.data, t.bytes)) fail("tensor data range");
        if (t.offset < f.data_offset() || t.offset % f.alignment() != 0) fail("tensor offset");
        if (t.n_elements() <= 0 || t.shape.empty() || t.shape.size() > 4) fail("tensor shape");
        sink = sink ^ touch(t.data, t.bytes);
        by_start.push_back(&t);
    }
    std::sort(by_start.begin(), by_start.end(), [](auto* x, auto* y) { return x->offset < y->offset; });
    for (const TensorInfo* t : by_start) {
        if (t->offset < prev_end) fail("tensors overlap");
        prev_end = t->offset + t->bytes;
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<uint8_t> bytes(data, data + size);
    const uint8_t* base = bytes.data();  // the reader keeps this buffer: a moved vector keeps its storage
    auto f = GgufFile::parse(std::move(bytes), "fuzz.gguf");
    if (!f.ok()) {
        if (f.error().message().rfind("fuzz.gguf: ", 0) != 0) fail("error message does not start with the source");
        return 0;
    }
    exercise(*f, base, size);
    return 0;
}
