// Request parsing and validation: every field's type and range, with the field named in the error.
#include "server/request.h"

#include <gtest/gtest.h>

namespace loom::server {
namespace {

Limits limits() {
    Limits l;
    l.n_vocab = 1000;
    l.n_ctx = 512;
    l.max_n = 4;
    return l;
}

Json chat_body(Json extra = Json::object()) {
    Json b = {{"model", "m"}, {"messages", {{{"role", "user"}, {"content", "hi"}}}}};
    for (auto& [k, v] : extra.items()) b[k] = v;
    return b;
}

// The error's param, or "" when parsing succeeded.
std::string chat_error(const Json& body) {
    ChatRequest r;
    auto e = parse_chat_request(body, limits(), r);
    return e ? e->param : "";
}

std::string completion_error(const Json& body) {
    CompletionRequest r;
    auto e = parse_completion_request(body, limits(), r);
    return e ? e->param : "";
}

TEST(ServerRequest, BodyMustBeAJsonObject) {
    Json j;
    EXPECT_TRUE(parse_body("{bad", j).has_value());
    EXPECT_TRUE(parse_body("[1,2]", j).has_value());
    EXPECT_TRUE(parse_body("\"x\"", j).has_value());
    EXPECT_TRUE(parse_body("", j).has_value());
    EXPECT_TRUE(parse_body("{\"a\": NaN}", j).has_value());
    EXPECT_FALSE(parse_body("{\"a\": 1}", j).has_value());
    auto e = parse_body("[]", j);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->status, 400);
    EXPECT_NE(e->message.find("an array"), std::string::npos) << e->message;
}

TEST(ServerRequest, ChatDefaultsAreOpenAIs) {
    ChatRequest r;
    ASSERT_FALSE(parse_chat_request(chat_body(), limits(), r));
    EXPECT_EQ(r.gen.sampling.temperature, 1.0f);
    EXPECT_EQ(r.gen.sampling.top_p, 1.0f);
    EXPECT_EQ(r.gen.sampling.top_k, 0);
    EXPECT_EQ(r.gen.sampling.min_p, 0.0f);
    EXPECT_EQ(r.gen.n, 1);
    EXPECT_EQ(r.gen.max_tokens, -1);
    EXPECT_EQ(r.gen.logprobs, -1);
    EXPECT_FALSE(r.gen.stream);
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(r.messages[0].content, "hi");
}

TEST(ServerRequest, ChatFieldsAreRead) {
    ChatRequest r;
    const Json b = chat_body({{"temperature", 0.5},
                              {"top_p", 0.9},
                              {"top_k", 40},
                              {"min_p", 0.05},
                              {"seed", 7},
                              {"max_completion_tokens", 16},
                              {"n", 2},
                              {"stream", true},
                              {"stream_options", {{"include_usage", true}}},
                              {"logprobs", true},
                              {"top_logprobs", 3},
                              {"stop", {"\n\n", 2}},
                              {"logit_bias", {{"5", -100}}},
                              {"presence_penalty", 0.5},
                              {"frequency_penalty", -0.5},
                              {"repetition_penalty", 1.1},
                              {"user", "u"},
                              {"chat_template_kwargs", {{"enable_thinking", false}}}});
    ASSERT_FALSE(parse_chat_request(b, limits(), r));
    EXPECT_EQ(r.gen.sampling.temperature, 0.5f);
    EXPECT_EQ(r.gen.sampling.top_k, 40);
    EXPECT_TRUE(r.gen.seed_given);
    EXPECT_EQ(r.gen.sampling.seed, 7u);
    EXPECT_EQ(r.gen.max_tokens, 16);
    EXPECT_EQ(r.gen.n, 2);
    EXPECT_TRUE(r.gen.include_usage);
    EXPECT_EQ(r.gen.logprobs, 3);
    EXPECT_EQ(r.gen.stop, std::vector<std::string>{"\n\n"});
    EXPECT_EQ(r.gen.stop_ids, std::vector<int32_t>{2});
    EXPECT_EQ(r.gen.sampling.logit_bias.at(5), -100.0f);
    EXPECT_EQ(r.template_kwargs["enable_thinking"], false);
    EXPECT_TRUE(r.gen.sampling.validate(1000).ok());
}

TEST(ServerRequest, EveryBadFieldIsNamed) {
    const std::vector<std::pair<Json, std::string>> cases = {
        {{{"messages", nullptr}}, "messages"},
        {{{"messages", Json::array()}}, "messages"},
        {{{"messages", "hi"}}, "messages"},
        {{{"messages", {1}}}, "messages[0]"},
        {{{"messages", {{{"role", "robot"}, {"content", "x"}}}}}, "messages[0].role"},
        {{{"messages", {{{"role", "tool"}, {"content", "x"}}}}}, "messages[0].tool_call_id"},
        {{{"messages", {{{"role", "user"}}}}}, "messages[0].content"},
        {{{"messages", {{{"role", "user"}, {"content", {{{"type", "image_url"}}}}}}}}, "messages[0].content[0].type"},
        {chat_body({{"temperature", "hot"}}), "temperature"},
        {chat_body({{"temperature", -0.1}}), "temperature"},
        {chat_body({{"temperature", 3}}), "temperature"},
        {chat_body({{"top_p", 2}}), "top_p"},
        {chat_body({{"top_k", -1}}), "top_k"},
        {chat_body({{"min_p", -1}}), "min_p"},
        {chat_body({{"max_tokens", 0}}), "max_tokens"},
        {chat_body({{"max_tokens", -5}}), "max_tokens"},
        {chat_body({{"max_tokens", 1.5}}), "max_tokens"},
        {chat_body({{"max_tokens", 1e300}}), "max_tokens"},
        {chat_body({{"max_tokens", 18446744073709551615ull}}), "max_tokens"},
        {chat_body({{"max_completion_tokens", "10"}}), "max_completion_tokens"},
        {chat_body({{"n", 5}}), "n"},
        {chat_body({{"n", 0}}), "n"},
        {chat_body({{"seed", 1.5}}), "seed"},
        {chat_body({{"stream", 1}}), "stream"},
        {chat_body({{"stream_options", {{"include_usage", true}}}}), "stream_options"},
        {chat_body({{"logprobs", 1}}), "logprobs"},
        {chat_body({{"logprobs", true}, {"top_logprobs", 21}}), "top_logprobs"},
        {chat_body({{"top_logprobs", 1}}), "top_logprobs"},
        {chat_body({{"stop", {""}}}), "stop[0]"},
        {chat_body({{"stop", {1000}}}), "stop[0]"},
        {chat_body({{"stop", {true}}}), "stop[0]"},
        {chat_body({{"stop", Json::array({"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "n", "o",
                                          "p", "q"})}}),
         "stop"},
        {chat_body({{"logit_bias", {{"1000", 1}}}}), "logit_bias.1000"},
        {chat_body({{"logit_bias", {{"-1", 1}}}}), "logit_bias.-1"},
        {chat_body({{"logit_bias", {{"x", 1}}}}), "logit_bias.x"},
        {chat_body({{"logit_bias", {{"1", "a"}}}}), "logit_bias.1"},
        {chat_body({{"logit_bias", {{"1", 101}}}}), "logit_bias.1"},
        {chat_body({{"logit_bias", {1, 2}}}), "logit_bias"},
        {chat_body({{"presence_penalty", 2.5}}), "presence_penalty"},
        {chat_body({{"frequency_penalty", -3}}), "frequency_penalty"},
        {chat_body({{"repetition_penalty", 0}}), "repetition_penalty"},
        {chat_body({{"user", 5}}), "user"},
        {chat_body({{"model", 5}}), "model"},
        {chat_body({{"response_format", {{"type", "xml"}}}}), "response_format.type"},
        {chat_body({{"tools", {{{"type", "function"}}}}}), "tools[0].function"},
        {chat_body({{"tool_choice", "auto"}}), "tool_choice"},
        {chat_body({{"chat_template_kwargs", 3}}), "chat_template_kwargs"},
    };
    for (const auto& [body, param] : cases) {
        Json b = body;
        if (!b.contains("model")) b["model"] = "m";
        EXPECT_EQ(chat_error(b), param) << b.dump();
    }
}

TEST(ServerRequest, TextAndUnknownFieldsPass) {
    EXPECT_EQ(chat_error(chat_body({{"response_format", {{"type", "text"}}},
                                    {"tools", Json::array()},
                                    {"tool_choice", "none"},
                                    {"something_new", 1},
                                    {"temperature", nullptr}})),
              "");
    EXPECT_EQ(chat_error(chat_body({{"messages",
                                     {{{"role", "developer"}, {"content", {{{"type", "text"}, {"text", "a"}}}}},
                                      {{"role", "assistant"}, {"content", nullptr}}}}})),
              "");
}

TEST(ServerRequest, CompletionPrompts) {
    CompletionRequest r;
    ASSERT_FALSE(parse_completion_request({{"prompt", "abc"}}, limits(), r));
    ASSERT_EQ(r.prompts.size(), 1u);
    EXPECT_FALSE(r.prompts[0].is_tokens);
    r = {};
    ASSERT_FALSE(parse_completion_request({{"prompt", {1, 2, 3}}, {"logprobs", 2}, {"echo", true}}, limits(), r));
    ASSERT_EQ(r.prompts.size(), 1u);
    EXPECT_EQ(r.prompts[0].tokens, (std::vector<int32_t>{1, 2, 3}));
    EXPECT_EQ(r.gen.logprobs, 2);
    EXPECT_TRUE(r.echo);
    r = {};
    ASSERT_FALSE(parse_completion_request({{"prompt", {"a", "b"}}}, limits(), r));
    EXPECT_EQ(r.prompts.size(), 2u);
    r = {};
    ASSERT_FALSE(parse_completion_request({{"prompt", {{1, 2}, {3}}}}, limits(), r));
    EXPECT_EQ(r.prompts.size(), 2u);

    EXPECT_EQ(completion_error(Json::object()), "prompt");
    EXPECT_EQ(completion_error({{"prompt", ""}}), "prompt");
    EXPECT_EQ(completion_error({{"prompt", Json::array()}}), "prompt");
    EXPECT_EQ(completion_error({{"prompt", {1, 1000}}}), "prompt[1]");
    EXPECT_EQ(completion_error({{"prompt", {-1}}}), "prompt[0]");
    EXPECT_EQ(completion_error({{"prompt", {{1}, Json::array()}}}), "prompt[1]");
    EXPECT_EQ(completion_error({{"prompt", {"a", 3.5}}}), "prompt[1]");
    EXPECT_EQ(completion_error({{"prompt", 5}}), "prompt");
    EXPECT_EQ(completion_error({{"prompt", "a"}, {"logprobs", 21}}), "logprobs");
    EXPECT_EQ(completion_error({{"prompt", "a"}, {"logprobs", true}}), "logprobs");
    EXPECT_EQ(completion_error({{"prompt", "a"}, {"suffix", "b"}}), "suffix");
    EXPECT_EQ(completion_error({{"prompt", "a"}, {"best_of", 2}}), "best_of");
    EXPECT_EQ(completion_error({{"prompt", "a"}, {"echo", true}, {"stream", true}}), "echo");
}

TEST(ServerRequest, ErrorsAreOpenAIShaped) {
    ChatRequest r;
    auto e = parse_chat_request(chat_body({{"top_logprobs", 30}, {"logprobs", true}}), limits(), r);
    ASSERT_TRUE(e);
    const Json j = e->to_json();
    EXPECT_EQ(j["error"]["param"], "top_logprobs");
    EXPECT_EQ(j["error"]["type"], "invalid_request_error");
    EXPECT_TRUE(j["error"]["code"].is_string());
    EXPECT_NE(j["error"]["message"].get<std::string>().find("20"), std::string::npos) << j.dump();
}

TEST(ServerRequest, TokenizeAndDetokenize) {
    TokenizeRequest t;
    EXPECT_FALSE(parse_tokenize_request({{"content", "x"}, {"add_special", true}}, t));
    EXPECT_TRUE(t.add_special);
    EXPECT_TRUE(parse_tokenize_request(Json::object(), t));
    DetokenizeRequest d;
    EXPECT_FALSE(parse_detokenize_request({{"tokens", {1, 2}}}, limits(), d));
    auto e = parse_detokenize_request({{"tokens", {1, 5000}}}, limits(), d);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->param, "tokens[1]");
}

}  // namespace
}  // namespace loom::server
