// Architecture files: parsing, errors that point into the file, parameter binding against GGUF metadata.
#include <gtest/gtest.h>

#include "arch/arch_file.h"
#include "arch/params.h"
#include "formats/gguf_reader.h"
#include "formats/gguf_writer.h"
#include "unit/test_env.h"

namespace loom::arch {
namespace {

const char* kMinimal = R"toml(# a comment
[arch]
name = "toy"

[params]
n_vocab = { value = "shape('token_embd.weight', 0)" }
n_embd = "{arch}.embedding_length"
n_head = "{arch}.attention.head_count"
n_head_kv = { key = "{arch}.attention.head_count_kv", default = "n_head" }
head_dim = { key = "{arch}.attention.key_length", default = "n_embd // n_head" }
n_ctx_train = { key = ["{arch}.context_length", "{arch}.ctx"], default = 128 }

[[check]]
expr = "n_head % n_head_kv == 0"
message = "heads must group evenly"

[model]
input = ["embed"]
output = ["embed"]

[layer]
count = "2"
let = { local = "layer % 2 == 0" }
residual = [["embed", { if = "local", then = "embed" }]]

[blocks.embed]
kind = "embedding"
weight = "token_embd.weight"
)toml";

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const size_t p = s.find(from);
    EXPECT_NE(p, std::string::npos) << from;
    if (p != std::string::npos) s.replace(p, from.size(), to);
    return s;
}

Result<formats::GgufFile> toy_gguf(bool with_kv) {
    formats::GgufWriter w;
    w.set("general.architecture", std::string("toy"));
    w.set("toy.embedding_length", uint32_t(64));
    w.set("toy.attention.head_count", uint32_t(8));
    if (with_kv) w.set("toy.attention.head_count_kv", uint32_t(3));
    w.set("toy.ctx", uint64_t(4096));
    std::vector<float> emb(10 * 64, 0.5f);
    w.add_tensor_f32("token_embd.weight", {10, 64}, emb);
    const std::string path = test::scratch_path("toy.gguf");
    LOOM_RETURN_IF_ERROR(w.write(path));
    return formats::GgufFile::open(path);
}

TEST(ArchFile, ParsesTheMinimalFile) {
    auto f = ArchFile::parse(kMinimal, "toy.arch.toml");
    ASSERT_TRUE(f.ok()) << f.error().message();
    EXPECT_EQ(f->name, "toy");
    EXPECT_EQ(f->params.size(), 6u);
    EXPECT_EQ(f->params[1].keys, std::vector<std::string>{"toy.embedding_length"});  // {arch} substituted
    EXPECT_EQ(f->params[5].keys.size(), 2u);
    ASSERT_EQ(f->steps.size(), 1u);
    EXPECT_EQ(f->steps[0].kind, LayerStep::Kind::residual);
    ASSERT_EQ(f->steps[0].chain.size(), 2u);
    EXPECT_TRUE(f->steps[0].chain[1].cond.has_value());
    ASSERT_EQ(f->steps[0].chain[1].then.size(), 1u);
    EXPECT_EQ(f->steps[0].chain[1].then[0].block, "embed");
    EXPECT_EQ(f->lets.size(), 1u);
}

TEST(ArchFile, ErrorsPointIntoTheFile) {
    auto unknown = ArchFile::parse(replace(kMinimal, "[layer]\ncount", "[layer]\ncuont = 1\ncount"), "x.toml");
    ASSERT_FALSE(unknown.ok());
    EXPECT_NE(unknown.error().message().find("x.toml:22: [layer]: unknown key 'cuont' (did you mean 'count'?)"),
              std::string::npos)
        << unknown.error().message();

    auto section = ArchFile::parse(std::string(kMinimal) + "\n[extra]\na = 1\n", "x.toml");
    ASSERT_FALSE(section.ok());
    EXPECT_NE(section.error().message().find("unknown key 'extra'"), std::string::npos);

    auto missing = ArchFile::parse(replace(kMinimal, "output = [\"embed\"]", "output = [\"head\"]"), "x.toml");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message().find("x.toml:19: no block named 'head'"), std::string::npos)
        << missing.error().message();

    auto bad_expr = ArchFile::parse(replace(kMinimal, "\"n_embd // n_head\"", "\"n_embd // (n_head\""), "x.toml");
    ASSERT_FALSE(bad_expr.ok());
    EXPECT_NE(bad_expr.error().message().find("x.toml:10: param 'head_dim': default: expected ')'"), std::string::npos)
        << bad_expr.error().message();

    auto toml = ArchFile::parse("[arch\nname=1", "x.toml");
    ASSERT_FALSE(toml.ok());
    EXPECT_NE(toml.error().message().find("x.toml:1:"), std::string::npos) << toml.error().message();
}

TEST(ArchFile, StepsSumsChoicesAndSideInputs) {
    std::string text =
        replace(kMinimal, "residual = [[\"embed\", { if = \"local\", then = \"embed\" }]]",
                "steps = [\n"
                "  { residual = [{ if = \"local\", then = [{ sum = [[\"embed\"], [\"embed\", \"embed\"]] }],"
                " else = \"embed\" }] },\n"
                "  { replace = [\"embed\"] },\n"
                "]");
    text = replace(text, "output = [\"embed\"]", "output = [\"embed\"]\nside = { extra = [\"embed\"] }");
    auto f = ArchFile::parse(text, "x.toml");
    ASSERT_TRUE(f.ok()) << f.error().message();
    ASSERT_EQ(f->steps.size(), 2u);
    EXPECT_EQ(f->steps[1].kind, LayerStep::Kind::replace);
    const ChainItem& choice = f->steps[0].chain.at(0);
    ASSERT_TRUE(choice.cond.has_value());
    ASSERT_EQ(choice.then.size(), 1u);
    ASSERT_EQ(choice.then[0].sum.size(), 2u);
    EXPECT_EQ(choice.then[0].sum[1].size(), 2u);
    ASSERT_EQ(choice.otherwise.size(), 1u);
    EXPECT_EQ(choice.otherwise[0].block, "embed");
    ASSERT_EQ(f->side.size(), 1u);
    EXPECT_EQ(f->side[0].name, "extra");

    // A block a nested chain names must exist; a sum needs two branches; a step is residual or replace.
    auto missing = ArchFile::parse(replace(text, "[\"embed\", \"embed\"]]", "[\"embed\", \"mlp\"]]"), "x.toml");
    ASSERT_FALSE(missing.ok());
    EXPECT_NE(missing.error().message().find("no block named 'mlp'"), std::string::npos) << missing.error().message();
    auto one =
        ArchFile::parse(replace(text, "sum = [[\"embed\"], [\"embed\", \"embed\"]]", "sum = [[\"embed\"]]"), "x.toml");
    ASSERT_FALSE(one.ok());
    EXPECT_NE(one.error().message().find("needs two or more branches"), std::string::npos) << one.error().message();
    auto kind = ArchFile::parse(replace(text, "{ replace = ", "{ repalce = "), "x.toml");
    ASSERT_FALSE(kind.ok());
    EXPECT_NE(kind.error().message().find("unknown key 'repalce' (did you mean 'replace'?)"), std::string::npos)
        << kind.error().message();
    auto both = ArchFile::parse(replace(text, "steps = [", "residual = [[\"embed\"]]\nsteps = ["), "x.toml");
    ASSERT_FALSE(both.ok());
    EXPECT_NE(both.error().message().find("needs either steps"), std::string::npos) << both.error().message();
}

TEST(ArchFile, ConditionalWeightRefs) {
    auto f = ArchFile::parse(replace(kMinimal, "weight = \"token_embd.weight\"",
                                     "weight = { name = \"token_embd.weight\", if = \"layer > 0\" }"),
                             "x.toml");
    ASSERT_TRUE(f.ok()) << f.error().message();
    auto w = f->blocks.at("embed").weight("weight");
    ASSERT_TRUE(w.ok()) << w.error().message();
    EXPECT_EQ(w->names, std::vector<std::string>{"token_embd.weight"});
    ASSERT_TRUE(w->cond.has_value());
    EXPECT_EQ(w->cond->text(), "layer > 0");

    auto bad = ArchFile::parse(replace(kMinimal, "weight = \"token_embd.weight\"",
                                       "weight = { name = \"token_embd.weight\", when = \"1\" }"),
                               "x.toml");
    ASSERT_TRUE(bad.ok());
    auto e = bad->blocks.at("embed").weight("weight");
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message().find("unknown key 'when'"), std::string::npos) << e.error().message();
}

TEST(ArchFile, BlockKeysUnknownToTheKindAreErrors) {
    auto f = ArchFile::parse(replace(kMinimal, "weight = \"token_embd.weight\"",
                                     "weight = \"token_embd.weight\"\nscael = 2"),
                             "x.toml");
    ASSERT_TRUE(f.ok()) << f.error().message();
    const BlockSpec& b = f->blocks.at("embed");
    ASSERT_TRUE(b.weight("weight").ok());
    ASSERT_TRUE(b.expr("scale", 1).ok());
    Status s = b.check_unknown_keys();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.error().message().find("x.toml:29: block 'embed': unknown key 'scael' (did you mean 'scale'?)"),
              std::string::npos)
        << s.error().message();
}

TEST(Params, BindsKeysDefaultsAndDerivedValues) {
    auto f = ArchFile::parse(kMinimal, "toy.arch.toml");
    ASSERT_TRUE(f.ok());
    auto file = toy_gguf(false);
    ASSERT_TRUE(file.ok()) << file.error().message();
    auto p = Params::bind(*f, *file);
    ASSERT_TRUE(p.ok()) << p.error().message();
    EXPECT_EQ(p->integer("n_vocab"), 10);        // from the tensor's shape
    EXPECT_EQ(p->integer("n_head_kv"), 8);       // default: n_head
    EXPECT_EQ(p->integer("head_dim"), 8);        // default: n_embd // n_head
    EXPECT_EQ(p->integer("n_ctx_train"), 4096);  // the second key alternative

    auto layer0 = LayerScope::make(*f, *p, 0);
    ASSERT_TRUE(layer0.ok());
    EXPECT_EQ(layer0->lookup("local")->num, 1);
    EXPECT_EQ(LayerScope::make(*f, *p, 1)->lookup("local")->num, 0);
}

TEST(Params, ChecksAndMissingKeysAreErrors) {
    auto f = ArchFile::parse(kMinimal, "toy.arch.toml");
    ASSERT_TRUE(f.ok());
    auto file = toy_gguf(true);  // 8 heads, 3 KV heads
    ASSERT_TRUE(file.ok());
    auto p = Params::bind(*f, *file);
    ASSERT_FALSE(p.ok());
    EXPECT_NE(p.error().message().find("heads must group evenly ('n_head % n_head_kv == 0' fails with n_head = 8, "
                                       "n_head_kv = 3)"),
              std::string::npos)
        << p.error().message();

    auto g =
        ArchFile::parse(replace(kMinimal, "\"{arch}.attention.head_count\"", "\"{arch}.attention.n_heads\""), "t.toml");
    ASSERT_TRUE(g.ok());
    auto q = Params::bind(*g, *toy_gguf(false));
    ASSERT_FALSE(q.ok());
    EXPECT_NE(q.error().message().find("required metadata key 'toy.attention.n_heads' is missing"), std::string::npos)
        << q.error().message();

    // n_head_kv defaults to head_dim, whose default reads n_head_kv: a cycle, reported, not a crash.
    std::string text = replace(kMinimal, "default = \"n_head\" }", "default = \"head_dim\" }");
    text = replace(text, "\"n_embd // n_head\"", "\"n_embd // n_head_kv\"");
    auto cyc = ArchFile::parse(text, "t.toml");
    ASSERT_TRUE(cyc.ok()) << cyc.error().message();
    auto c = Params::bind(*cyc, *toy_gguf(false));
    ASSERT_FALSE(c.ok());
    EXPECT_NE(c.error().message().find("depends on itself"), std::string::npos) << c.error().message();
}

}  // namespace
}  // namespace loom::arch

namespace loom::arch {
namespace {

// [model] generation: autoregressive by default; diffusion takes its options; anything else is an error with the line.
TEST(ArchFile, GenerationModeAndItsOptions) {
    auto plain = ArchFile::parse(kMinimal, "toy.arch.toml");
    ASSERT_TRUE(plain.ok()) << plain.error().message();
    EXPECT_EQ(plain->generation.mode, Generation::Mode::autoregressive);
    const std::string diffusion =
        replace(kMinimal, "output = [\"embed\"]",
                "output = [\"embed\"]\ngeneration = \"diffusion\"\nmask_token = \"n_vocab - 1\"");
    auto d = ArchFile::parse(diffusion, "toy.arch.toml");
    ASSERT_TRUE(d.ok()) << d.error().message();
    EXPECT_EQ(d->generation.mode, Generation::Mode::diffusion);
    EXPECT_EQ(d->generation.mask_token.text(), "n_vocab - 1");
    auto bad =
        ArchFile::parse(replace(kMinimal, "output = [\"embed\"]", "output = [\"embed\"]\ngeneration = \"sideways\""),
                        "toy.arch.toml");
    ASSERT_FALSE(bad.ok());
    EXPECT_NE(bad.error().message().find("toy.arch.toml:"), std::string::npos) << bad.error().message();
    EXPECT_NE(bad.error().message().find("\"autoregressive\" or \"diffusion\""), std::string::npos);
    auto stray = ArchFile::parse(replace(kMinimal, "output = [\"embed\"]", "output = [\"embed\"]\nmask_token = \"3\""),
                                 "toy.arch.toml");
    ASSERT_FALSE(stray.ok());
    EXPECT_NE(stray.error().message().find("diffusion\" only"), std::string::npos) << stray.error().message();
}

}  // namespace
}  // namespace loom::arch
