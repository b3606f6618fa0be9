// A model file loaded with a 2-thread session on it, for the runtime tests. A failure to load fails the test and
// leaves the pointers empty (callers ASSERT_TRUE(l.session)).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "runtime/model.h"
#include "runtime/session.h"

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

}  // namespace loom::runtime::test_models
