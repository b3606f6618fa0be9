// The [hf] section of architecture files (arch/hf_map.h): parsing, its errors, name patterns, and the shipped
// sections.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "arch/arch_file.h"
#include "arch/arch_lookup.h"
#include "arch/embedded_archs.h"
#include "arch/hf_map.h"
#include "runtime/hf_transform.h"

namespace loom::arch {
namespace {

const char* kToy = R"toml([arch]
name = "toy"
[params]
n_vocab = { value = "shape('token_embd.weight', 0)" }
n_embd = "{arch}.embedding_length"
n_ctx_train = { key = "{arch}.context_length", default = 128 }
[model]
input = ["embed"]
output = ["embed"]
[layer]
count = "1"
residual = [["embed"]]
[blocks.embed]
kind = "embedding"
weight = "token_embd.weight"
)toml";

Result<ArchFile> with_hf(const std::string& hf) { return ArchFile::parse(std::string(kToy) + hf, "toy.arch.toml"); }

TEST(HfMap, ParsesConfigTensorsAndTransforms) {
    auto f = with_hf(R"toml([hf]
architectures = ["ToyForCausalLM"]
ignore = ["model.layers.{layer}.buffer"]
[hf.config]
"{arch}.embedding_length" = "hidden_size"
"{arch}.context_length" = { key = ["max_position_embeddings", "n_ctx"], default = 2048 }
"{arch}.attention.layer_norm_rms_epsilon" = { key = "rms_norm_eps", default = 1e-6 }
[hf.tensors]
"model.embed_tokens.weight" = "token_embd.weight"
"model.layers.{layer}.q.weight" = { name = "blk.{layer}.attn_q.weight", transform = ["rope_permute({arch}.attention.head_count)", "add(1)"] }
)toml");
    ASSERT_TRUE(f.ok()) << f.error().message();
    ASSERT_TRUE(f->hf);
    const HfMap& m = *f->hf;
    EXPECT_EQ(m.architectures, std::vector<std::string>{"ToyForCausalLM"});
    ASSERT_EQ(m.config.size(), 3u);
    const HfConfigKey* ctx = nullptr;
    for (const HfConfigKey& c : m.config)
        if (c.key == "toy.context_length") ctx = &c;
    ASSERT_NE(ctx, nullptr);
    EXPECT_EQ(ctx->from, (std::vector<std::string>{"max_position_embeddings", "n_ctx"}));
    EXPECT_EQ(*ctx->number, 2048);
    EXPECT_FALSE(ctx->fraction);
    ASSERT_EQ(m.tensors.size(), 2u);
    const HfTensorRule& q = m.tensors[1];
    EXPECT_EQ(q.to, "blk.{layer}.attn_q.weight");
    ASSERT_EQ(q.transforms.size(), 2u);
    EXPECT_EQ(q.transforms[0].op, "rope_permute");
    EXPECT_EQ(q.transforms[0].args, std::vector<std::string>{"toy.attention.head_count"});
    EXPECT_EQ(q.transforms[1].args, std::vector<std::string>{"1"});
}

TEST(HfMap, RefusesMistakesWithTheirLine) {
    const std::string head = "[hf]\narchitectures = [\"X\"]\n[hf.tensors]\n";
    const std::pair<std::string, std::string> cases[] = {
        {"[hf]\narchitectures = [\"X\"]\n", "needs a [hf.tensors] table"},
        {"[hf]\n[hf.tensors]\n", "needs architectures"},
        {"[hf]\narchitectures = [\"X\"]\nmapping = 1\n[hf.tensors]\n", "unknown key 'mapping'"},
        {head + "\"model.layers.{layer}.w\" = \"w.weight\"\n", "{layer} must be in both names or neither"},
        {head + "\"a.{expert}.w\" = \"blk.{expert}.w\"\n", "{expert} belongs in the checkpoint name only"},
        {head + "\"a\" = { name = \"b\", transform = [\"Bad(1)\"] }\n", "lower_snake"},
        {head + "\"a\" = { name = \"b\", transform = [\"add(1\"] }\n", "missing ')'"},
        {head + "\"a\" = { name = \"b\", transform = [\"add(1,)\"] }\n", "an empty argument"},
        {head + "\"a\" = { nam = \"b\" }\n", "unknown key 'nam'"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.config]\n\"k\" = { default = [\"a\"] }\n[hf.tensors]\n",
         "default must be a number, string, boolean or numbers"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.config]\n\"k\" = { value = \"a +\" }\n[hf.tensors]\n", "[hf.config] 'k':"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.config]\n\"k\" = { key = \"a\", value = \"b\" }\n[hf.tensors]\n",
         "value is an expression string, without key"},
        {"[hf]\narchitectures = [\"X\"]\nprefixes = { \"a.\" = 1 }\n[hf.tensors]\n",
         "prefixes: 'a.' must map to a string"},
        {head + "\"a\" = []\n", "an empty array of outputs"},
        {"[hf]\narchitectures = [\"X\"]\nsentencepiece = true\n[hf.tensors]\n", "sentencepiece must be a table"},
        {"[hf]\narchitectures = [\"X\"]\nsentencepiece = { add_space_prefix = 0 }\n[hf.tensors]\n",
         "sentencepiece must be a table"},
        {"[hf]\narchitectures = [\"X\"]\nsentencepiece = { prefix = false }\n[hf.tensors]\n", "unknown key 'prefix'"},
        {"[hf]\narchitectures = [\"X\"]\nbyte_fallback_bpe = true\n[hf.tensors]\n",
         "byte_fallback_bpe must be a table"},
        {"[hf]\narchitectures = [\"X\"]\nbyte_fallback_bpe = { merges = true }\n[hf.tensors]\n",
         "byte_fallback_bpe needs model"},
        {"[hf]\narchitectures = [\"X\"]\nbyte_fallback_bpe = { model = \"m\", merges = 1 }\n[hf.tensors]\n",
         "byte_fallback_bpe: merges must be a boolean"},
        {"[hf]\narchitectures = [\"X\"]\nbyte_fallback_bpe = { model = \"m\", pre = false }\n[hf.tensors]\n",
         "byte_fallback_bpe: pre must be a string"},
        {"[hf]\narchitectures = [\"X\"]\nbyte_fallback_bpe = { model = \"m\", user_defined = [1] }\n[hf.tensors]\n",
         "user_defined must hold strings"},
        {"[hf]\narchitectures = [\"X\"]\nbyte_fallback_bpe = { model = \"m\", class_defaults = {} }\n[hf.tensors]\n",
         "unknown key 'class_defaults'"},
        {"[hf]\narchitectures = [\"X\"]\ntokenizer_flags = { add_bos_token = false }\n[hf.tensors]\n",
         "tokenizer_flags must be an array"},
        {"[hf]\narchitectures = [\"X\"]\ntokenizer_flags = [{ add_bos_token = false }]\n[hf.tensors]\n",
         "tokenizer_flags: each entry is { if"},
        {"[hf]\narchitectures = [\"X\"]\ntokenizer_flags = [{ if = \"1\", add_bos = false }]\n[hf.tensors]\n",
         "tokenizer_flags: unknown flag 'add_bos'"},
        {"[hf]\narchitectures = [\"X\"]\ntokenizer_flags = [{ if = \"1\", add_bos_token = 0 }]\n[hf.tensors]\n",
         "tokenizer_flags: add_bos_token must be true or false"},
        {"[hf]\narchitectures = [\"X\"]\ntokenizer_flags = [{ if = \"1 +\", add_bos_token = false }]\n[hf.tensors]\n",
         "tokenizer_flags: if:"},
        {"[hf]\narchitectures = [\"X\"]\ntokenizer_config_prefix_space = 1\n[hf.tensors]\n",
         "tokenizer_config_prefix_space must be true or false"},
        {"[hf]\narchitectures = [\"X\"]\nbyte_fallback_bpe = { model = \"m\", vocab = 1 }\n[hf.tensors]\n",
         "unknown key 'vocab'"},
        {"[hf]\narchitectures = [\"X\"]\nignore = [{ name = \"lm_head.weight\" }]\n[hf.tensors]\n",
         "ignore: an entry is a name or { name = \"...\", if = \"...\" }"},
        {"[hf]\narchitectures = [\"X\"]\nignore = [{ name = \"h\", if = \"a +\" }]\n[hf.tensors]\n", "ignore 'h': if:"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.config]\n\"k\" = { key = \"a\", each = \"2\" }\n[hf.tensors]\n",
         "each needs a value expression"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.tensors]\n[hf.generated]\n\"r\" = { each = \"2\" }\n",
         "[hf.generated] 'r': needs each (the length) and value (entry i)"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.tensors]\n[hf.generated]\n\"r\" = { each = \"2\", value = \"i +\" }\n",
         "[hf.generated] 'r': value:"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.tensors]\n[hf.generated]\n\"r\" = { each = 2, value = \"i\" }\n",
         "[hf.generated] 'r': each: an expression string"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.tensors]\n[hf.generated]\n\"r\" = { each = \"2\", value = \"i\", when = "
         "\"1\" }\n",
         "unknown key 'when'"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.config]\n\"k\" = { key = \"a\", type = \"f16\" }\n[hf.tensors]\n",
         "type must be \"f32\", \"u32\" or \"i32\""},
        {"[hf]\narchitectures = [\"X\"]\n[hf.tensors]\n[hf.generated]\n\"r\" = { each = \"2\", value = \"i\", let = 1 "
         "}\n",
         "let must be a table"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.tensors]\n[hf.generated]\n\"r\" = { each = \"2\", value = \"i\", let = { "
         "i = "
         "\"1\" } }\n",
         "let 'i': a name of letters, digits and '_', not 'i'"},
        {"[hf]\narchitectures = [\"X\"]\n[hf.tensors]\n[hf.generated]\n\"r\" = { each = \"2\", value = \"i\", let = { "
         "a = "
         "\"1 +\" } }\n",
         "let 'a':"},
        {"[hf]\narchitectures = [\"X\"]\nspecial_tokens = [{ if = \"1\", ids = { fim = 3 } }]\n[hf.tensors]\n",
         "special_tokens: unknown token type 'fim'"},
        {"[hf]\narchitectures = [\"X\"]\nspecial_tokens = [{ if = \"1\", ids = { eot = -3 } }]\n[hf.tensors]\n",
         "special_tokens: eot must be a token id"},
        {"[hf]\narchitectures = [\"X\"]\nspecial_tokens = [{ ids = { eot = 3 } }]\n[hf.tensors]\n",
         "special_tokens: needs if (an expression) and ids"},
    };
    for (const auto& [text, want] : cases) {
        auto f = with_hf(text);
        ASSERT_FALSE(f.ok()) << text;
        EXPECT_NE(f.error().message().find(want), std::string::npos) << f.error().message();
        EXPECT_NE(f.error().message().find("toy.arch.toml:"), std::string::npos) << f.error().message();
    }
}

TEST(HfMap, ParsesPrefixesValuesAndSeveralOutputs) {
    auto f = with_hf(R"toml([hf]
architectures = ["ToyForConditionalGeneration"]
prefixes = { "model.language_model." = "model." }
ignore = ["model.visual.*"]
[hf.config]
"{arch}.inner" = { value = "get('a', 2) * b" }
"{arch}.sections" = { value = "pad(s, 4)", default = [1, 2, 3, 0] }
[hf.tensors]
"model.kv" = [
  { name = "k.weight", transform = ["slice(0, 0, n_k)"] },
  { name = "v.weight", transform = ["slice(0, n_k, get('n_v', 2))"] },
]
)toml");
    ASSERT_TRUE(f.ok()) << f.error().message();
    const HfMap& m = *f->hf;
    ASSERT_EQ(m.prefixes.size(), 1u);
    EXPECT_EQ(m.prefixes[0].second, "model.");
    ASSERT_EQ(m.config.size(), 2u);
    for (const HfConfigKey& c : m.config) {
        ASSERT_TRUE(c.value) << c.key;
        if (c.key == "toy.sections") EXPECT_EQ(*c.numbers, (std::vector<double>{1, 2, 3, 0}));
    }
    ASSERT_EQ(m.tensors.size(), 2u);
    EXPECT_EQ(m.tensors[0].from, m.tensors[1].from);
    EXPECT_EQ(m.tensors[1].to, "v.weight");
    // A comma inside an argument's call stays in the argument.
    EXPECT_EQ(m.tensors[1].transforms[0].args, (std::vector<std::string>{"0", "n_k", "get('n_v', 2)"}));
    EXPECT_TRUE(match_hf_ignore("model.visual.*", "model.visual.blocks.0.attn.qkv.weight"));
    EXPECT_FALSE(match_hf_ignore("model.visual.*", "model.visua"));
    EXPECT_FALSE(match_hf_ignore("model.visual.*", "model.layers.0.visual.w"));
}

// Per-layer config values (each), tensors made from config.json ([hf.generated], {arch} substituted) and an
// ignore entry with a condition.
TEST(HfMap, ParsesPerLayerValuesAndGeneratedTensors) {
    auto f = with_hf(R"toml([hf]
architectures = ["ToyForCausalLM"]
ignore = ["model.visual.*", { name = "lm_head.weight", if = "get('tie_word_embeddings', 0)" }]
[hf.config]
"{arch}.widths" = { each = "num_hidden_layers", value = "i < 2 ? 8 : 16" }
"{arch}.factor" = { key = "factor", type = "f32" }
[hf.tensors]
"model.embed_tokens.weight" = "token_embd.weight"
[hf.generated]
"rope_freqs.weight" = { each = "meta('{arch}.head') // 2", value = "i < 4 ? 1 : 1e30", if = "has('rope')" }
"other.weight" = { each = "n", value = "half * i", let = { n = "4", half = "n / 2" } }
)toml");
    ASSERT_TRUE(f.ok()) << f.error().message();
    const HfMap& m = *f->hf;
    ASSERT_EQ(m.ignore.size(), 2u);
    EXPECT_FALSE(m.ignore[0].when);
    EXPECT_EQ(m.ignore[1].pattern, "lm_head.weight");
    ASSERT_TRUE(m.ignore[1].when);
    EXPECT_EQ(m.ignore[1].when->text(), "get('tie_word_embeddings', 0)");
    ASSERT_EQ(m.config.size(), 2u);
    EXPECT_EQ(m.config[0].key, "toy.factor");
    EXPECT_EQ(m.config[0].type, "f32");
    ASSERT_TRUE(m.config[1].each);
    EXPECT_EQ(m.config[1].each->text(), "num_hidden_layers");
    ASSERT_EQ(m.generated.size(), 2u);
    EXPECT_EQ(m.generated[1].name, "rope_freqs.weight");
    EXPECT_EQ(m.generated[0].name, "other.weight");
    ASSERT_EQ(m.generated[0].lets.size(), 2u);
    EXPECT_EQ(m.generated[0].lets[0].first, "half");
    EXPECT_EQ(m.generated[0].lets[0].second.text(), "n / 2");
    EXPECT_EQ(m.generated[1].each.text(), "meta('toy.head') // 2");
    EXPECT_EQ(m.generated[1].value.text(), "i < 4 ? 1 : 1e30");
    ASSERT_TRUE(m.generated[1].when);
    EXPECT_EQ(m.generated[1].when->text(), "has('rope')");
}

TEST(HfMap, PatternsMatchLayersAndExperts) {
    int64_t layer = 0, expert = 0;
    EXPECT_TRUE(match_hf_pattern("model.layers.{layer}.mlp.experts.{expert}.w", "model.layers.12.mlp.experts.7.w",
                                 layer, expert));
    EXPECT_EQ(layer, 12);
    EXPECT_EQ(expert, 7);
    EXPECT_TRUE(match_hf_pattern("model.norm.weight", "model.norm.weight", layer, expert));
    EXPECT_EQ(layer, -1);
    EXPECT_FALSE(match_hf_pattern("model.layers.{layer}.w", "model.layers..w", layer, expert));
    EXPECT_FALSE(match_hf_pattern("model.layers.{layer}.w", "model.layers.1.w2", layer, expert));
    EXPECT_FALSE(match_hf_pattern("model.layers.{layer}.w", "model.layers.x.w", layer, expert));
    EXPECT_EQ(fill_layer("blk.{layer}.attn_q.weight", 3), "blk.3.attn_q.weight");
}

// Every shipped [hf] section parses, names only known transforms, and lists a class no other family lists.
TEST(HfMap, ShippedSectionsAreSound) {
    std::map<std::string, std::string> owner;
    int with_hf = 0;
    for (const EmbeddedArch& e : embedded_archs()) {
        auto a = load_arch_for(std::string(e.family));
        ASSERT_TRUE(a.ok()) << a.error().message();
        if (!a->hf) continue;
        ++with_hf;
        for (const std::string& c : a->hf->architectures)
            EXPECT_TRUE(owner.emplace(c, a->name).second) << c << " in " << a->name << " and " << owner[c];
        for (const HfTensorRule& r : a->hf->tensors)
            for (const HfTransform& t : r.transforms) EXPECT_TRUE(runtime::known_hf_transform(t.op)) << t.text;
    }
    EXPECT_GE(with_hf, 12);
}

}  // namespace
}  // namespace loom::arch
