// `loom serve`'s GET /diagram: the loaded model's diagram as SVG, without the API key (the chat page links it),
// and the chat page carries the link.
#include <httplib.h>
#include <gtest/gtest.h>

#include "diagram/render.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/routes.h"
#include "server/scheduler.h"
#include "server/served_model.h"
#include "server/web_page.h"
#include "unit/test_env.h"

namespace loom::server {
namespace {

TEST(DiagramServe, ServesTheModelsDiagram) {
    if (diagram::graphviz_backend() == "none") GTEST_SKIP() << "no Graphviz here (libgvc or the dot program)";
    auto m = runtime::Model::load(test::synth_model("gemma3", "f32"));
    ASSERT_TRUE(m.ok()) << m.error().message();
    auto served = ServedModel::create(std::move(*m), "served_gemma3", 64, "");
    ASSERT_TRUE(served.ok()) << served.error().message();
    runtime::SessionOptions so;
    so.n_threads = 1;
    so.n_ctx = 64;
    so.n_seq = 1;
    auto session = runtime::Session::create(*served->model, so);
    ASSERT_TRUE(session.ok()) << session.error().message();
    Metrics metrics;
    Scheduler scheduler(**session, *served->vocab, {1, 4, 64}, &metrics);
    Api api(*served, scheduler, metrics);
    HttpOptions o;
    o.port = 0;
    o.api_key = "secret";
    HttpServer http(o, metrics);
    ASSERT_TRUE(http.bind().ok());
    http.set_api(&api);
    http.start();
    httplib::Client c("127.0.0.1", http.port());
    for (int i = 0; i < 2; ++i) {  // drawn once, then kept
        auto r = c.Get("/diagram");
        ASSERT_TRUE(r);
        EXPECT_EQ(r->status, 200) << r->body;
        EXPECT_EQ(r->get_header_value("Content-Type"), "image/svg+xml");
        EXPECT_NE(r->body.find("<svg"), std::string::npos);
        EXPECT_NE(r->body.find("served_gemma3"), std::string::npos);
        EXPECT_NE(r->body.find("sliding 32"), std::string::npos);
    }
    EXPECT_EQ(c.Get("/v1/models")->status, 401);  // the key still guards the API
    http.stop();
    EXPECT_NE(web_page().find("href=\"/diagram\""), std::string::npos);
}

}  // namespace
}  // namespace loom::server
