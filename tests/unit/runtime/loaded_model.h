// A model file loaded with a 2-thread session on it, for the runtime tests. A failure to load fails the test and
// leaves the pointers empty (callers ASSERT_TRUE(l.session)).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "unit/test_env.h"

namespace loom::runtime::test_models {

struct Loaded {
    std::unique_ptr<Model> model;
    std::unique_ptr<Session> session;
};

inline Loaded load(const std::string& path, DType kv = DType::f32, int64_t n_ctx = 256, int n_seq = 1,
                   int64_t n_batch = 512) {
    Loaded l;
    auto m = Model::load(path);
    EXPECT_TRUE(m.ok()) << m.error().message();
    if (!m.ok()) return l;
    l.model = std::move(m).value();
    SessionOptions so;
    so.n_threads = 2;
    so.n_ctx = n_ctx;
    so.kv_type = kv;
    so.n_seq = n_seq;
    so.n_batch = n_batch;
    auto s = Session::create(*l.model, so);
    EXPECT_TRUE(s.ok()) << s.error().message();
    if (s.ok()) l.session = std::move(s).value();
    return l;
}

// A family's f32 test model with its metadata rewritten, loaded: edit(writer, key) returns whether to keep the
// key as it is (it may set others, or this one, itself).
template <typename Edit>
Result<std::unique_ptr<Model>> load_edited(const std::string& family, const std::string& name, Edit edit) {
    auto src = formats::GgufFile::open(test::synth_model(family, "f32"));
    EXPECT_TRUE(src.ok());
    formats::GgufWriter w;
    for (const auto& e : src->metadata())
        if (edit(w, std::string(e.key))) w.set(std::string(e.key), e.to_owned());
    for (const auto& t : src->tensors())
        w.add_tensor(std::string(t.name), t.type, t.shape, std::vector<uint8_t>(t.data, t.data + t.bytes));
    const std::string path = test::scratch_path(name + ".gguf");
    EXPECT_TRUE(w.write(path).ok());
    return Model::load(path);
}

}  // namespace loom::runtime::test_models
