// Output under a JSON schema always parses and validates, even from random-weight models: every seed, several
// schemas, a SentencePiece vocabulary (llama) and Gemma 4's BPE one. Every run must end by completing the grammar
// within the token budget where the schema is a finite language; the recursive one may nest past any budget, so
// there only the runs that complete are checked (and some must).
#include <gtest/gtest.h>

#include "grammar/gbnf_parser.h"
#include "grammar/json_schema.h"
#include "runtime/generate.h"
#include "tokenizer/tokenizer.h"
#include "unit/grammar/schema_validator.h"
#include "unit/runtime/loaded_model.h"

namespace loom::grammar {
namespace {

using OJson = nlohmann::ordered_json;

struct Case {
    const char* schema;
    bool finite;  // a finite language: every run must complete within the budget
};

const Case kCases[] = {
    {R"({"type": "object", "properties": {"name": {"type": "string", "pattern": "^[A-Z][a-z]{0,8}( [A-Z]\\.)?$"},
        "age": {"type": "integer", "minimum": 18, "maximum": 130000}, "ok": {"type": "boolean"},
        "tags": {"type": "array", "items": {"enum": ["x", "y", "é"]}, "maxItems": 3}}, "required": ["name", "age"]})",
     true},
    {R"({"anyOf": [{"type": "null"}, {"type": "array", "items": {"type": "number", "exclusiveMinimum": -2.5, "maximum": 1e3}, "minItems": 1, "maxItems": 4}]})",
     true},
    {R"({"$defs": {"pt": {"type": "object", "properties": {"at": {"type": "string", "format": "date-time"},
        "id": {"type": "string", "format": "uuid"}, "next": {"anyOf": [{"$ref": "#/$defs/pt"}, {"type": "null"}]}},
        "required": ["at", "next"]}}, "type": "array", "items": {"$ref": "#/$defs/pt"}, "maxItems": 1})",
     false},
};

void generate_valid(const std::string& family, int n_seeds) {
    auto model = runtime::Model::load(test::synth_model(family, "q8_0"));
    ASSERT_TRUE(model.ok()) << model.error().message();
    runtime::SessionOptions so;
    so.n_threads = 1;  // these models are small: a second thread only spins while the first works
    so.n_ctx = 1024;
    auto session = runtime::Session::create(**model, so);
    ASSERT_TRUE(session.ok()) << session.error().message();
    struct {
        std::unique_ptr<runtime::Model> model;
        std::unique_ptr<runtime::Session> session;
    } l{std::move(model).value(), std::move(session).value()};
    auto vocab = tokenizer::Vocab::load(l.model->file());
    ASSERT_TRUE(vocab.ok()) << vocab.error().message();
    tokenizer::Tokenizer tok(*vocab);
    auto trie = VocabTrie::from_vocab(*vocab);
    auto prompt = tok.encode("Answer in JSON:", true, false);
    ASSERT_TRUE(prompt.ok());
    for (const auto& [schema_text, finite] : kCases) {
        int completed = 0;
        const OJson schema = OJson::parse(schema_text);
        auto gbnf = json_schema_to_gbnf(schema);
        ASSERT_TRUE(gbnf.ok()) << gbnf.error().message();
        auto g = parse_gbnf(*gbnf);
        ASSERT_TRUE(g.ok()) << g.error().message();
        for (int seed = 1; seed <= n_seeds; ++seed) {
            runtime::GenerateOptions opt;
            opt.sampling.temperature = 1.5f;  // a flat distribution tries the grammar's corners
            opt.sampling.top_k = 0;
            opt.sampling.top_p = 1.0f;
            opt.sampling.min_p = 0.0f;
            opt.sampling.seed = uint64_t(seed);
            opt.n_predict = 1000;
            opt.eog = vocab->eog_ids();
            opt.grammar = std::make_shared<const Grammar>(*g);
            opt.trie = trie;
            std::vector<int32_t> out;
            auto st = runtime::generate(*l.session, *prompt, opt, [&](int32_t t) {
                out.push_back(t);
                return true;
            });
            ASSERT_TRUE(st.ok()) << st.error().message();
            std::string text;
            for (const int32_t t : out) text += vocab->piece(t, false);
            const std::string where = fmt::format("{} seed {} schema {}: {}", family, seed, schema_text, text);
            if (!finite && st->stop == runtime::GenerateStats::Stop::length) continue;  // nested past the budget
            EXPECT_EQ(st->stop, runtime::GenerateStats::Stop::eog) << where;
            ++completed;
            const OJson value = OJson::parse(text, nullptr, /*allow_exceptions=*/false);
            ASSERT_FALSE(value.is_discarded()) << "not JSON: " << where;
            EXPECT_EQ(testing::validate(value, schema, schema), "") << where;
        }
        EXPECT_GT(completed, 0) << schema_text;
    }
}

TEST(ConstrainedGeneration, OutputValidatesSentencePiece) { generate_valid("llama", 8); }
TEST(ConstrainedGeneration, OutputValidatesGemma4Bpe) { generate_valid("gemma4", 4); }

TEST(ConstrainedGeneration, WithoutTheGrammarTheSameModelWritesNoJson) {
    // The check above can fail: the same model unconstrained does not produce valid JSON.
    auto l = runtime::test_models::load(test::synth_model("llama", "q8_0"), DType::f32, 512);
    ASSERT_TRUE(l.session);
    auto vocab = tokenizer::Vocab::load(l.model->file());
    ASSERT_TRUE(vocab.ok());
    tokenizer::Tokenizer tok(*vocab);
    auto prompt = tok.encode("Answer in JSON:", true, false);
    ASSERT_TRUE(prompt.ok());
    runtime::GenerateOptions opt;
    opt.n_predict = 40;
    opt.sampling.seed = 1;
    std::string text;
    auto st = runtime::generate(*l.session, *prompt, opt, [&](int32_t t) {
        text += vocab->piece(t, false);
        return true;
    });
    ASSERT_TRUE(st.ok());
    EXPECT_TRUE(OJson::parse(text, nullptr, false).is_discarded()) << text;
}

}  // namespace
}  // namespace loom::grammar
