// Response shaping: SSE framing, chunk and logprobs shapes, errors that survive invalid UTF-8, reasoning
// split, and the HTTP helpers (loopback, key comparison).
#include "server/response.h"

#include <gtest/gtest.h>

#include "server/api_error.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "server/reasoning.h"

namespace loom::server {
namespace {

TEST(ServerResponse, SseFraming) {
    EXPECT_EQ(sse_event(Json{{"a", 1}}), "data: {\"a\":1}\n\n");
    EXPECT_STREQ(kSseDone, "data: [DONE]\n\n");
}

TEST(ServerResponse, InvalidUtf8DoesNotThrow) {
    Json j = {{"text", std::string("a\xff\xfe")}};
    std::string s;
    ASSERT_NO_THROW(s = dump_json(j));
    EXPECT_NE(s.find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD
}

TEST(ServerResponse, ChunkShapes) {
    const ResponseMeta meta{"chatcmpl-x", "m", "loom-test", 123};
    Json c = chat_chunk(meta, 1, {{"content", "hi"}}, nullptr);
    EXPECT_EQ(c["object"], "chat.completion.chunk");
    EXPECT_EQ(c["choices"][0]["index"], 1);
    EXPECT_EQ(c["choices"][0]["delta"]["content"], "hi");
    EXPECT_TRUE(c["choices"][0]["finish_reason"].is_null());
    EXPECT_EQ(c["system_fingerprint"], "loom-test");
    Json u = usage_chunk(meta, "chat.completion.chunk", {5, 7});
    EXPECT_TRUE(u["choices"].empty());
    EXPECT_EQ(u["usage"]["total_tokens"], 12);
    Json t = completion_chunk(meta, 0, "x", "stop");
    EXPECT_EQ(t["object"], "text_completion");
    EXPECT_EQ(t["choices"][0]["finish_reason"], "stop");
}

TEST(ServerResponse, ErrorShape) {
    const Json j = ApiError::field("n", "invalid_value", "must be at most {}", 4).to_json();
    EXPECT_EQ(j["error"]["message"], "n: must be at most 4");
    EXPECT_EQ(j["error"]["param"], "n");
    const Json k = ApiError::make(503, "server_error", "", "busy").to_json();
    EXPECT_TRUE(k["error"]["param"].is_null());
    EXPECT_TRUE(k["error"]["code"].is_null());
}

TEST(ServerResponse, ReasoningSplitAnyCut) {
    const std::string text = "<think>let me see</think>\n\nThe answer.";
    for (size_t cut = 0; cut <= text.size(); ++cut) {
        ReasoningSplitter sp(true, false);
        ReasoningSplitter::Out a = sp.feed(text.substr(0, cut)), b = sp.feed(text.substr(cut)), c = sp.flush();
        EXPECT_EQ(a.reasoning + b.reasoning + c.reasoning, "let me see") << cut;
        EXPECT_EQ(a.content + b.content + c.content, "The answer.") << cut;
    }
    ReasoningSplitter inside(true, true);
    auto o = inside.feed("hmm</think>ok");
    EXPECT_EQ(o.reasoning, "hmm");
    EXPECT_EQ(o.content, "ok");
    ReasoningSplitter off(false, false);
    EXPECT_EQ(off.feed("<think>x</think>y").content, "<think>x</think>y");
    ReasoningSplitter plain(true, false);
    auto p = plain.feed("Hello");
    auto q = plain.flush();
    EXPECT_EQ(p.content + q.content, "Hello");
    EXPECT_TRUE(ReasoningSplitter::prompt_opens_thinking("<|im_start|>assistant\n<think>\n"));
    EXPECT_FALSE(ReasoningSplitter::prompt_opens_thinking("<think>\n\n</think>\n\n"));
}

TEST(ServerHttp, LoopbackAndKeys) {
    EXPECT_TRUE(is_loopback("127.0.0.1"));
    EXPECT_TRUE(is_loopback("localhost"));
    EXPECT_TRUE(is_loopback("::1"));
    EXPECT_FALSE(is_loopback("0.0.0.0"));
    EXPECT_FALSE(is_loopback("192.168.1.2"));
    EXPECT_TRUE(key_matches("secret", "secret"));
    EXPECT_FALSE(key_matches("secre", "secret"));
    EXPECT_FALSE(key_matches("secret!", "secret"));
    EXPECT_FALSE(key_matches("", "secret"));
    EXPECT_FALSE(key_matches("Secret", "secret"));
}

TEST(ServerMetrics, PrometheusText) {
    Metrics m;
    m.request_done("/v1/completions", 200);
    m.time_to_first_token(0.03);
    m.set_load(2, 3, 100, 1000);
    m.set_memory(4096, 1500000);
    const std::string t = m.render();
    EXPECT_NE(t.find("loom_requests_total{route=\"/v1/completions\",status=\"200\"} 1"), std::string::npos) << t;
    EXPECT_NE(t.find("loom_time_to_first_token_seconds_bucket{le=\"0.05\"} 1"), std::string::npos) << t;
    EXPECT_NE(t.find("loom_time_to_first_token_seconds_bucket{le=\"0.025\"} 0"), std::string::npos) << t;
    EXPECT_NE(t.find("loom_queue_length 2"), std::string::npos);
    EXPECT_NE(t.find("loom_recurrent_state_bytes_per_sequence 1500000"), std::string::npos) << t;
    EXPECT_NE(t.find("loom_kv_cache_bytes_per_sequence 4096"), std::string::npos) << t;
}

}  // namespace
}  // namespace loom::server
