// response_format, grammar and json_schema: parsed into a grammar, refused with the field named, and enforced
// by the scheduler on every sequence of a request.
#include "server/output_format.h"

#include <gtest/gtest.h>

#include "runtime/model.h"
#include "runtime/session.h"
#include "server/request.h"
#include "server/scheduler.h"
#include "tokenizer/vocab.h"
#include "unit/grammar/grammar_testing.h"
#include "unit/test_env.h"

namespace loom::server {
namespace {

// A chat request with `extra` fields, parsed against a 1000-token vocabulary.
ChatRequest parse_chat(Json extra, MaybeError& error, std::string_view raw = {}) {
    extra["messages"] = Json::array({{{"role", "user"}, {"content", "hi"}}});
    Limits lim;
    lim.n_vocab = 1000;
    lim.n_ctx = 512;
    ChatRequest r;
    error = parse_chat_request(extra, lim, r, raw);
    return r;
}

struct Parsed {
    MaybeError error;
    std::shared_ptr<const grammar::Grammar> grammar;
};

Parsed chat(const Json& extra) {
    Parsed p;
    p.grammar = parse_chat(extra, p.error).gen.grammar;
    return p;
}

bool accepts(const std::shared_ptr<const grammar::Grammar>& g, std::string_view text) {
    grammar::Automaton a(*g);
    return grammar::testing::full_match(a, text);
}

TEST(ServerOutputFormat, FieldsBecomeGrammars) {
    EXPECT_EQ(chat({{"response_format", {{"type", "text"}}}}).grammar, nullptr);
    auto obj = chat({{"response_format", {{"type", "json_object"}}}});
    ASSERT_FALSE(obj.error) << obj.error->message;
    ASSERT_TRUE(obj.grammar);
    EXPECT_TRUE(accepts(obj.grammar, R"({"a": [1]})"));
    EXPECT_FALSE(accepts(obj.grammar, "[1]"));

    const Json schema = {{"type", "object"},
                         {"properties", {{"n", {{"type", "integer"}}}}},
                         {"required", {"n"}},
                         {"additionalProperties", false}};
    auto js =
        chat({{"response_format",
               {{"type", "json_schema"}, {"json_schema", {{"name", "x"}, {"strict", true}, {"schema", schema}}}}}});
    ASSERT_FALSE(js.error) << js.error->message;
    EXPECT_TRUE(accepts(js.grammar, R"({"n": 3})"));
    EXPECT_FALSE(accepts(js.grammar, R"({"n": "3"})"));

    auto top = chat({{"json_schema", schema}});  // llama-server's field
    ASSERT_FALSE(top.error) << top.error->message;
    EXPECT_TRUE(accepts(top.grammar, R"({"n":-1})"));

    auto gbnf = chat({{"grammar", "root ::= \"yes\" | \"no\""}});
    ASSERT_FALSE(gbnf.error) << gbnf.error->message;
    EXPECT_TRUE(accepts(gbnf.grammar, "no"));
    EXPECT_FALSE(accepts(gbnf.grammar, "maybe"));

    // Completions take the same fields.
    CompletionRequest c;
    Limits lim;
    lim.n_vocab = 1000;
    ASSERT_FALSE(parse_completion_request({{"prompt", "x"}, {"grammar", "root ::= [0-9]+"}}, lim, c));
    ASSERT_TRUE(c.gen.grammar);
    EXPECT_TRUE(accepts(c.gen.grammar, "42"));
}

TEST(ServerOutputFormat, RawBodyKeepsThePropertyOrder) {
    const std::string raw =
        R"({"messages": [{"role": "user", "content": "hi"}], "json_schema": {"type": "object",
            "properties": {"zeta": {"type": "integer"}, "alpha": {"type": "integer"}}, "required": ["zeta", "alpha"]}})";
    Json body;
    ASSERT_FALSE(parse_body(raw, body));
    MaybeError error;
    const ChatRequest r = parse_chat(body, error, raw);
    ASSERT_FALSE(error);
    EXPECT_TRUE(accepts(r.gen.grammar, R"({"zeta": 1, "alpha": 2})"));
    EXPECT_FALSE(accepts(r.gen.grammar, R"({"alpha": 2, "zeta": 1})"));
    const ChatRequest sorted = parse_chat(body, error);  // without the raw text: Json's sorted key order
    ASSERT_FALSE(error);
    EXPECT_TRUE(accepts(sorted.gen.grammar, R"({"alpha": 2, "zeta": 1})"));
}

TEST(ServerOutputFormat, BadInputIsA400NamingTheFieldAndTheProblem) {
    auto check = [](const Json& extra, const std::string& param, const std::string& message) {
        auto p = chat(extra);
        ASSERT_TRUE(p.error) << extra.dump();
        EXPECT_EQ(p.error->status, 400);
        EXPECT_EQ(p.error->param, param) << extra.dump();
        EXPECT_EQ(p.error->message, message) << extra.dump();
    };
    check({{"grammar", "root ::= \"a"}}, "grammar", "grammar: 1:12: unterminated string literal (expected '\"')");
    check({{"grammar", 5}}, "grammar", "grammar: expected a GBNF string");
    check({{"json_schema", {{"type", "number"}, {"multipleOf", 2}}}}, "json_schema",
          "json_schema: keyword 'multipleOf' at / is not supported");
    check({{"response_format",
            {{"type", "json_schema"},
             {"json_schema",
              {{"name", "x"}, {"schema", {{"properties", {{"a", {{"patternProperties", Json::object()}}}}}}}}}}}},
          "response_format.json_schema.schema",
          "response_format.json_schema.schema: keyword 'patternProperties' at /properties/a is not supported");
    check({{"response_format", {{"type", "json_schema"}}}}, "response_format.json_schema",
          "response_format.json_schema: is required with type json_schema (an object with \"name\" and \"schema\")");
    check({{"response_format", {{"type", "yaml"}}}}, "response_format.type",
          "response_format.type: unknown type \"yaml\" (expected text, json_object or json_schema)");
    check({{"response_format", "json"}}, "response_format",
          "response_format: expected an object with a \"type\": text, json_object or json_schema");
    check({{"response_format", {{"type", "json_object"}}}, {"grammar", "root ::= \"a\""}}, "grammar",
          "grammar: cannot be combined with response_format: give one output constraint");
}

TEST(ServerOutputFormat, SchedulerOutputMatchesOnEverySequence) {
    auto m = runtime::Model::load(test::synth_model("llama", "q8_0"));
    ASSERT_TRUE(m.ok()) << m.error().message();
    auto vocab = tokenizer::Vocab::load((*m)->file());
    ASSERT_TRUE(vocab.ok());
    runtime::SessionOptions so;
    so.n_threads = 1;  // a small model: a second thread would only spin
    so.n_ctx = 512;
    so.n_seq = 4;
    auto session = runtime::Session::create(**m, so);
    ASSERT_TRUE(session.ok());
    Scheduler sched(**session, *vocab, {4, 16, 512}, nullptr);
    auto g = grammar::parse_gbnf("root ::= \"[\" ( [0-9] ( \",\" [0-9] ){0,5} )? \"]\"");
    ASSERT_TRUE(g.ok());
    auto shared = std::make_shared<const grammar::Grammar>(std::move(g).value());
    std::vector<SequenceSpec> seqs;
    for (int i = 0; i < 8; ++i) {  // more than the slots: some wait in the queue
        SequenceSpec s;
        s.index = i;
        s.prompt = {1, 50, 60, 70};
        s.sampling.temperature = 1.5f;
        s.sampling.top_k = 0;
        s.sampling.top_p = 1.0f;
        s.sampling.min_p = 0.0f;
        s.sampling.seed = uint64_t(i + 1);
        s.max_tokens = 100;
        s.grammar = i % 2 ? shared : nullptr;  // free and constrained sequences side by side
        seqs.push_back(std::move(s));
    }
    auto st = std::make_shared<RequestStream>();
    ASSERT_EQ(sched.submit(seqs, st), Scheduler::Submit::ok);
    std::vector<std::string> text(8);
    std::vector<Finish> finish(8, Finish::none);
    for (int done = 0; done < 8;) {
        SequenceEvent e;
        ASSERT_TRUE(st->next(e, std::chrono::seconds(60))) << "no event";
        text[size_t(e.index)] += e.text;
        if (e.finish != Finish::none) {
            finish[size_t(e.index)] = e.finish;
            EXPECT_EQ(e.error, "");
            ++done;
        }
    }
    grammar::Automaton check(*shared);
    for (int i = 1; i < 8; i += 2) {
        EXPECT_EQ(finish[size_t(i)], Finish::stop) << text[size_t(i)];
        EXPECT_TRUE(grammar::testing::full_match(check, text[size_t(i)])) << i << ": " << text[size_t(i)];
    }
    int free_matches = 0;
    for (int i = 0; i < 8; i += 2) free_matches += grammar::testing::full_match(check, text[size_t(i)]);
    EXPECT_EQ(free_matches, 0);  // the unconstrained ones show the constraint is what makes the others match
}

}  // namespace
}  // namespace loom::server
