// libFuzzer target for the safetensors reader: parse arbitrary bytes, and when they are accepted, check the
// invariants the reader promises (tensors tile the data section, views inside the buffer, byte counts match
// shapes) and touch every byte of every tensor so that ASan sees a view that escapes the buffer.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "formats/safetensors_reader.h"

namespace {

using loom::formats::SafeTensor;
using loom::formats::SafetensorsFile;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "safetensors_fuzz: invariant broken: %s\n", what);
    std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<uint8_t> bytes(data, data + size);
    const uint8_t* base = bytes.data();  // the reader keeps this buffer: a moved vector keeps its storage
    auto f = SafetensorsFile::parse(std::move(bytes), "fuzz.safetensors");
    if (!f.ok()) {
        if (f.error().message().rfind("fuzz.safetensors: ", 0) != 0)
            fail("error message does not start with the source");
        return 0;
    }
    if (f->file_size() != size || f->data_offset() < 8 || f->data_offset() > size) fail("file size or data offset");
    uint64_t expect = f->data_offset();
    volatile uint8_t sink = 0;
    for (const SafeTensor& t : f->tensors()) {
        if (f->tensor(t.name) != &t) fail("tensor() does not return the tensor");
        if (t.offset != expect) fail("tensors do not tile the data section");
        if (t.data != base + t.offset || t.bytes > size - t.offset) fail("tensor data range");
        if (uint64_t(t.n_elements()) * loom::formats::safetensors_dtype_size(t.dtype) != t.bytes) fail("byte count");
        for (uint64_t i = 0; i < t.bytes; ++i) sink = sink ^ t.data[i];
        expect = t.offset + t.bytes;
    }
    if (expect != size) fail("bytes after the last tensor");
    return 0;
}
