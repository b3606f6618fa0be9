// The HTTP layer without a model: while loading every route answers 503 (/health too), errors are OpenAI-shaped,
// and the key is checked before anything else.
#include "server/http_server.h"

#include <httplib.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/metrics.h"

namespace loom::server {
namespace {

struct Running {
    Metrics metrics;
    HttpServer http;
    explicit Running(HttpOptions o) : http((o.port = 0, o), metrics) {
        EXPECT_TRUE(http.bind().ok());
        http.start();
    }
    httplib::Client client() { return httplib::Client("127.0.0.1", http.port()); }
};

TEST(ServerHttp, LoadingAnswers503Everywhere) {
    Running r({});
    auto c = r.client();
    auto health = c.Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 503);
    EXPECT_EQ(health->get_header_value("Retry-After"), "1");
    auto chat = c.Post("/v1/chat/completions", R"({"messages": []})", "application/json");
    ASSERT_TRUE(chat);
    EXPECT_EQ(chat->status, 503);
    const auto j = nlohmann::json::parse(chat->body);
    EXPECT_EQ(j["error"]["code"], "loading");
    EXPECT_EQ(c.Get("/v1/models")->status, 503);
    EXPECT_EQ(c.Get("/")->status, 200);  // the page itself is static
}

TEST(ServerHttp, KeyFirstThenLimits) {
    HttpOptions o;
    o.api_key = "k3y";
    o.max_body_bytes = 1024;
    Running r(o);
    auto c = r.client();
    auto no_key = c.Get("/v1/models");
    ASSERT_TRUE(no_key);
    EXPECT_EQ(no_key->status, 401);
    EXPECT_EQ(nlohmann::json::parse(no_key->body)["error"]["type"], "authentication_error");
    EXPECT_EQ(no_key->get_header_value("Access-Control-Allow-Origin"), "");  // no CORS unless configured
    c.set_bearer_token_auth("k3y");
    EXPECT_EQ(c.Get("/v1/models")->status, 503);  // past the key: loading
    // While loading, "loading" comes before routing and before the body is read (413 and 404 once loaded are
    // checked by tests/server/live_test.py).
    auto big = c.Post("/v1/completions", std::string(4096, 'x'), "application/json");
    ASSERT_TRUE(big);
    EXPECT_EQ(big->status, 503);
    auto missing = c.Get("/nope");
    ASSERT_TRUE(missing);
    EXPECT_EQ(missing->status, 503);
    EXPECT_EQ(nlohmann::json::parse(missing->body)["error"]["code"], "loading");
}

}  // namespace
}  // namespace loom::server
