// Grammar-constrained sampling on the default model's vocabulary (Gemma 3: 262,144 tokens): the token mask per
// step (cold: a trie walk, whole subtrees allowed from their summaries, in an unbounded and a bounded string; warm:
// the per-state cache), the one-token fast-path check, a whole JSON document step by step from a fresh
// constraint, and compiling a large JSON schema. Compare with a decode step of the same model
// (`loom bench -p 16 -n 32 -r 2`); README.md gives the figures. Needs the default model (core/default_model.h);
// without it the benchmarks report an error and skip.
#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>

#include "core/default_model.h"
#include "formats/gguf_reader.h"
#include "grammar/gbnf_parser.h"
#include "grammar/json_schema.h"
#include "grammar/token_constraint.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace {

using namespace loom;

struct DefaultVocab {
    std::unique_ptr<tokenizer::Vocab> vocab;
    std::unique_ptr<tokenizer::Tokenizer> tok;
    std::shared_ptr<const grammar::VocabTrie> trie;
    std::string error;
};

const DefaultVocab& default_vocab() {
    static const DefaultVocab v = [] {
        DefaultVocab d;
        auto path = default_model_path();
        if (!path.ok()) {
            d.error = path.error().message();
            return d;
        }
        auto file = formats::GgufFile::open(*path);
        if (!file.ok()) {
            d.error = file.error().message();
            return d;
        }
        auto vocab = tokenizer::Vocab::load(*file);
        if (!vocab.ok()) {
            d.error = vocab.error().message();
            return d;
        }
        d.vocab = std::make_unique<tokenizer::Vocab>(std::move(vocab).value());
        d.tok = std::make_unique<tokenizer::Tokenizer>(*d.vocab);
        d.trie = grammar::VocabTrie::from_vocab(*d.vocab);
        return d;
    }();
    return v;
}

const char* kSchema = R"({"type": "object", "properties": {
    "name": {"type": "string"}, "born": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}},
    "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                "required": ["city"]}}, "required": ["name", "born"]})";
const char* kDocument =
    R"({"name": "Ada Lovelace, Countess of Lovelace", "born": 1815, "tags": ["mathematics", "poetry", "engines"], )"
    R"("address": {"city": "London", "zip": "W1"}})";

grammar::Grammar compiled(const char* schema) {
    auto text = grammar::json_schema_to_gbnf(nlohmann::ordered_json::parse(schema));
    return grammar::parse_gbnf(text.value()).value();
}

// A string with a length bound: each character is a new automaton state, which never loops back to itself.
const char* kBoundedSchema = R"({"type": "object", "properties": {"name": {"type": "string", "maxLength": 200}}})";

// A constraint in the middle of a string value: `{"name": "Ada` accepted.
std::unique_ptr<grammar::TokenConstraint> inside_string(const DefaultVocab& v, const char* schema = kSchema) {
    auto c = std::make_unique<grammar::TokenConstraint>(compiled(schema), v.trie);
    const auto ids = v.tok->encode(R"({"name": "Ada)", false, false);
    if (!ids.ok()) return nullptr;
    for (const int32_t t : *ids)
        if (!c->accept(t).ok()) return nullptr;
    return c;
}

void BM_vocab_trie_build(benchmark::State& state) {
    const DefaultVocab& v = default_vocab();
    if (!v.vocab) return state.SkipWithError(v.error.c_str());
    for (auto _ : state) benchmark::DoNotOptimize(grammar::VocabTrie::from_vocab(*v.vocab));
    state.counters["nodes"] = double(v.trie->nodes().size());
    state.counters["summaries"] = double(v.trie->summaries().size());
}

void BM_mask_cold_in_string(benchmark::State& state) {
    const DefaultVocab& v = default_vocab();
    if (!v.vocab) return state.SkipWithError(v.error.c_str());
    auto c = inside_string(v);
    if (!c) return state.SkipWithError("the prefix does not fit the grammar");
    size_t allowed = 0;
    for (auto _ : state) {
        c->clear_mask_cache();
        const auto& bits = c->mask();
        benchmark::DoNotOptimize(bits.data());
        allowed = 0;
        for (const uint64_t w : bits) allowed += size_t(__builtin_popcountll(w));
    }
    state.counters["allowed"] = double(allowed);
    state.counters["whole_subtrees"] = double(c->n_subtrees_allowed()) / double(c->n_masks_computed());
}

void BM_mask_cold_in_bounded_string(benchmark::State& state) {
    const DefaultVocab& v = default_vocab();
    if (!v.vocab) return state.SkipWithError(v.error.c_str());
    auto c = inside_string(v, kBoundedSchema);
    if (!c) return state.SkipWithError("the prefix does not fit the grammar");
    for (auto _ : state) {
        c->clear_mask_cache();
        benchmark::DoNotOptimize(c->mask().data());
    }
}

void BM_mask_warm_apply_in_string(benchmark::State& state) {
    const DefaultVocab& v = default_vocab();
    if (!v.vocab) return state.SkipWithError(v.error.c_str());
    auto c = inside_string(v);
    if (!c) return state.SkipWithError("the prefix does not fit the grammar");
    std::vector<float> logits(size_t(v.trie->n_vocab()), 0.5f);
    for (auto _ : state) {
        c->apply(logits);  // cached mask → -inf on the rejected logits: the slow path's cost past the walk
        benchmark::DoNotOptimize(logits.data());
    }
}

void BM_fast_path_one_token(benchmark::State& state) {
    const DefaultVocab& v = default_vocab();
    if (!v.vocab) return state.SkipWithError(v.error.c_str());
    auto c = inside_string(v);
    if (!c) return state.SkipWithError("the prefix does not fit the grammar");
    std::mt19937 rng(1);
    for (auto _ : state) benchmark::DoNotOptimize(c->allows(int32_t(rng() % uint32_t(v.trie->n_vocab()))));
}

// A realistic document token by token from a fresh constraint: the full mask at every step (as if the fast
// path always failed), cache misses included. Time per step = time / steps.
void BM_document_every_step_masked(benchmark::State& state) {
    const DefaultVocab& v = default_vocab();
    if (!v.vocab) return state.SkipWithError(v.error.c_str());
    const std::vector<int32_t> tokens = v.tok->encode(kDocument, false, false).value();
    const grammar::Grammar g = compiled(kSchema);
    size_t walks = 0;
    for (auto _ : state) {
        grammar::TokenConstraint c(g, v.trie);
        for (const int32_t t : tokens) {
            benchmark::DoNotOptimize(c.mask().data());
            if (!c.accept(t).ok()) return state.SkipWithError("the document does not fit the grammar");
        }
        walks = c.n_masks_computed();
    }
    state.counters["steps"] = double(tokens.size());
    state.counters["walks"] = double(walks);
    state.counters["per_step_us"] =
        benchmark::Counter(double(tokens.size()),
                           benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// A large schema: 200 properties of every supported kind, nested objects and $refs.
std::string large_schema() {
    std::string props;
    for (int i = 0; i < 200; ++i) {
        const char* kinds[] = {
            R"({"type": "string", "maxLength": 40})",
            R"({"type": "integer", "minimum": 0, "maximum": 500})",
            R"({"enum": ["alpha", "beta", "gamma", "delta"]})",
            R"({"type": "array", "items": {"$ref": "#/$defs/item"}, "maxItems": 8})",
            R"({"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "string", "format": "date"}}, "required": ["a"]})",
            R"({"anyOf": [{"type": "null"}, {"type": "boolean"}, {"$ref": "#/$defs/item"}]})",
            R"({"type": "string", "pattern": "^[A-Z]{2}-\\d{4}(-[a-z]+)?$"})",
            R"({"type": "number", "minimum": -90.25, "exclusiveMaximum": 1000000.5})",
        };
        props += fmt::format(R"({}"p{}": {})", i ? ", " : "", i, kinds[i % 8]);
    }
    return fmt::format(
        R"({{"$defs": {{"item": {{"type": "object", "properties": {{"id": {{"type": "string", "format": "uuid"}},
        "next": {{"anyOf": [{{"$ref": "#/$defs/item"}}, {{"type": "null"}}]}}}}, "required": ["id"]}}}},
        "type": "object", "properties": {{{}}}, "required": ["p0", "p1"]}})",
        props);
}

void BM_schema_compile_large(benchmark::State& state) {
    const nlohmann::ordered_json schema = nlohmann::ordered_json::parse(large_schema());
    size_t bytes = 0, elements = 0;
    for (auto _ : state) {
        auto text = grammar::json_schema_to_gbnf(schema);
        if (!text.ok()) return state.SkipWithError(text.error().message().c_str());
        auto g = grammar::parse_gbnf(*text);
        if (!g.ok()) return state.SkipWithError(g.error().message().c_str());
        bytes = text->size();
        elements = g->elements.size();
        grammar::Automaton a(std::move(g).value());  // the start state too: what a request pays before its prompt
        benchmark::DoNotOptimize(a.n_states());
    }
    state.counters["gbnf_bytes"] = double(bytes);
    state.counters["elements"] = double(elements);
}

BENCHMARK(BM_vocab_trie_build)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_mask_cold_in_string)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_mask_cold_in_bounded_string)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_mask_warm_apply_in_string)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_fast_path_one_token)->Unit(benchmark::kNanosecond);
BENCHMARK(BM_document_every_step_masked)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_schema_compile_large)->Unit(benchmark::kMillisecond);

}  // namespace
