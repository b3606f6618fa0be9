// Masked-diffusion models (llada, llada-moe): the cached path is refused, whole generations equal llama.cpp's
// diffusion example token for token (tests/data/goldens/diffusion-runs.json), and the loop's rules (schedules,
// transfer counts, unmasking order) hold. The all-position logits goldens are in model_test.cpp.
#include "runtime/diffusion.h"

#include <nlohmann/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "runtime/model.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"
#include "unit/runtime/loaded_model.h"
#include "unit/test_env.h"

namespace loom::runtime {
namespace {

using test_models::Loaded;

// No cache: K and V stay f32, as llama.cpp's flash-attention-off path.
Loaded load(const std::string& spec, const std::string& type) {
    return test_models::load(test::synth_model(spec, type));
}

TEST(Diffusion, CachedDecodeIsRefused) {
    Loaded l = load("llada", "f32");
    ASSERT_TRUE(l.session);
    EXPECT_TRUE(l.model->diffusion());
    EXPECT_EQ(l.model->diffusion_info().mask_token, 999);
    EXPECT_FALSE(l.model->diffusion_info().shift_logits);
    const int32_t t[] = {5, 6, 7};
    auto r = l.session->decode(Batch::sequence(t, 0));
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("no cached decode"), std::string::npos) << r.error().message();
    EXPECT_TRUE(l.session->stateless(t).ok());
}

std::string unhex(const std::string& h) {
    std::string out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(char(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
}

// Whole generations recorded from llama-diffusion-cli: the same text, byte for byte.
TEST(Diffusion, GenerationsEqualLlamaCppsExample) {
    std::ifstream in(test::data_dir() + "/goldens/diffusion-runs.json");
    ASSERT_TRUE(in);
    const nlohmann::json g = nlohmann::json::parse(in);
    for (const auto& run : g["runs"]) {
        SCOPED_TRACE(run["name"].get<std::string>());
        const std::string spec = run["spec"].get<std::string>();
        Loaded l = load(spec.substr(spec.rfind('/') + 1, spec.size() - spec.rfind('/') - 6), run["type"]);
        ASSERT_TRUE(l.session);
        auto vocab = tokenizer::Vocab::load(l.model->file());
        ASSERT_TRUE(vocab.ok());
        tokenizer::Tokenizer tok(*vocab);
        auto prompt = tok.encode(run["prompt_text"].get<std::string>(), true, true);
        ASSERT_TRUE(prompt.ok());
        DiffusionParams d;
        d.max_length = run["max_length"];
        d.steps = run["steps"];
        d.block_length = run["block_length"];
        d.eps = run["eps"];
        d.algorithm = run["algorithm"] == "entropy" ? UnmaskAlgorithm::entropy : UnmaskAlgorithm::confidence;
        d.top_k = run["top_k"];
        d.seed = run["seed"];
        auto canvas = diffusion_generate(*l.session, *prompt, d);
        ASSERT_TRUE(canvas.ok()) << canvas.error().message();
        ASSERT_EQ(int64_t(canvas->size()), d.max_length);
        const std::span<const int32_t> generated = std::span<const int32_t>(*canvas).subspan(prompt->size());
        EXPECT_EQ(tok.decode(generated), unhex(run["output_hex"]));
    }
}

// With top-k 1 every score is 1, so confidence unmasks in position order; each step's new tokens are the argmax of
// that step's logits at their positions, and a block's masks are spread over its steps as n / steps (+1 first).
TEST(Diffusion, BlockScheduleUnmasksInOrderWithTheArgmax) {
    Loaded l = load("llada", "q8_0");
    ASSERT_TRUE(l.session);
    const int32_t V = int32_t(l.model->n_vocab()), mask = l.model->diffusion_info().mask_token;
    const std::vector<int32_t> prompt = {1, 40, 41, 42, 43, 44};
    DiffusionParams d;
    d.max_length = 24;  // blocks of 8 from position 6: [6, 14), [14, 22), [22, 24)
    d.block_length = 8;
    d.steps = 9;  // 3 blocks x 3 steps: 8 masks as 3, 3, 2; then 2 as 1, 1, 0
    d.top_k = 1;
    std::vector<int32_t> before(prompt.begin(), prompt.end());
    before.resize(24, mask);
    std::vector<int64_t> unmasked_per_step;
    bool argmax_ok = true;
    auto canvas = diffusion_generate(*l.session, prompt, d, [&](const DiffusionProgress& p) {
        auto logits = l.session->stateless(before);
        ASSERT_TRUE(logits.ok());
        int64_t n = 0;
        bool passed_a_mask = false;  // a position this step left masked
        for (int64_t i = 0; i < 24; ++i) {
            if (before[size_t(i)] == mask && p.canvas[size_t(i)] == mask) passed_a_mask = true;
            if (before[size_t(i)] == mask && p.canvas[size_t(i)] != mask) {
                ++n;
                EXPECT_FALSE(passed_a_mask) << "position " << i << " unmasked after a masked one";
                const float* row = logits->row<float>(i);
                const int32_t best = int32_t(std::max_element(row, row + V) - row);
                argmax_ok = argmax_ok && best == p.canvas[size_t(i)];
            }
        }
        unmasked_per_step.push_back(n);
        before.assign(p.canvas.begin(), p.canvas.end());
    });
    ASSERT_TRUE(canvas.ok()) << canvas.error().message();
    EXPECT_TRUE(argmax_ok);
    EXPECT_EQ(unmasked_per_step, (std::vector<int64_t>{3, 3, 2, 3, 3, 2, 1, 1}));
    for (int32_t t : *canvas) EXPECT_NE(t, mask);
    // The same settings, the same canvas.
    auto again = diffusion_generate(*l.session, prompt, d);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *canvas);
}

// A step reads only its block's rows, so the head runs on those (padded to a long call): each row must keep the
// bits the all-positions pass gives it, for every weight type the head can have. Canvases: 44 (every row in the
// head's groups of 4), 46 (the last 2 rows outside them), 20 (too short to pad: every row runs).
TEST(Diffusion, RowsAskedForKeepTheBitsOfTheWholePass) {
    std::mt19937 rng(7);
    for (const char* spec : {"llada", "lladamoe"}) {
        for (const char* type : {"f32", "f16", "q8_0", "q4_k", "q4_k_m"}) {
            SCOPED_TRACE(std::string(spec) + " " + type);
            Loaded l = load(spec, type);
            ASSERT_TRUE(l.session);
            const int64_t V = l.model->n_vocab();
            for (int64_t n : {44, 46, 20}) {
                std::vector<int32_t> canvas(static_cast<size_t>(n));
                for (auto& t : canvas) t = int32_t(rng() % uint32_t(V));
                auto all = l.session->stateless(canvas);
                ASSERT_TRUE(all.ok()) << all.error().message();
                const std::vector<float> whole(all->row<float>(0), all->row<float>(0) + n * V);
                for (int64_t k : {int64_t(1), int64_t(5), int64_t(13), n}) {
                    std::vector<int64_t> rows(static_cast<size_t>(n));
                    std::iota(rows.begin(), rows.end(), 0);
                    std::shuffle(rows.begin(), rows.end(), rng);
                    rows.resize(size_t(k));
                    std::sort(rows.begin(), rows.end());
                    if (n == 46 && k == 5) rows.back() = 45;  // a row outside the groups: the whole pass runs
                    auto some = l.session->stateless(canvas, rows);
                    ASSERT_TRUE(some.ok()) << some.error().message();
                    ASSERT_EQ(some->n_rows(), k);
                    for (int64_t i = 0; i < k; ++i)
                        ASSERT_EQ(0,
                                  std::memcmp(some->row<float>(i), whole.data() + rows[size_t(i)] * V, size_t(V) * 4))
                            << "n " << n << ", " << k << " rows, row " << rows[size_t(i)];
                }
            }
        }
    }
}

TEST(Diffusion, BadRowsAreErrors) {
    Loaded l = load("llada", "q8_0");
    ASSERT_TRUE(l.session);
    const std::vector<int32_t> canvas(40, 5);
    auto expect_error = [&](std::vector<int64_t> rows, const char* what) {
        auto r = l.session->stateless(canvas, rows);
        ASSERT_FALSE(r.ok()) << what;
        EXPECT_NE(r.error().message().find(what), std::string::npos) << r.error().message();
    };
    expect_error({}, "no rows asked for");
    expect_error({3, 3}, "row 1 is 3");
    expect_error({5, 2}, "row 1 is 2");
    expect_error({40}, "ascending positions in [0, 40); row 0 is 40");
    expect_error({-1}, "row 0 is -1");
    const std::vector<std::vector<int32_t>> one = {canvas};
    const std::vector<std::vector<int64_t>> two_lists = {{1}, {2}};
    auto r = l.session->stateless(one, two_lists);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("2 row lists for 1 sequences"), std::string::npos) << r.error().message();
    const std::vector<std::vector<int64_t>> bad = {{7, 6}};
    r = l.session->stateless(one, bad);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("sequence 0: rows must be ascending"), std::string::npos) << r.error().message();
}

TEST(Diffusion, BadSettingsAreErrors) {
    Loaded l = load("llada", "q8_0");
    ASSERT_TRUE(l.session);
    const std::vector<int32_t> prompt = {1, 40, 41};
    auto expect_error = [&](DiffusionParams d, const char* what) {
        auto r = diffusion_generate(*l.session, prompt, d);
        ASSERT_FALSE(r.ok()) << what;
        EXPECT_NE(r.error().message().find(what), std::string::npos) << r.error().message();
    };
    DiffusionParams d;
    d.max_length = 3;
    d.block_length = 8;
    expect_error(d, "leaves no room");
    d.max_length = 20;
    expect_error(d, "not a whole number of blocks");
    d.max_length = 24;
    d.steps = 10;
    expect_error(d, "do not divide evenly");
    d.steps = 9;
    d.eps = 0.01f;
    expect_error(d, "exactly one of");
    // An autoregressive model has no diffusion loop.
    auto ar = Model::load(test::synth_model("llama", "q8_0"));
    ASSERT_TRUE(ar.ok());
    auto s = Session::create(**ar, {});
    ASSERT_TRUE(s.ok());
    DiffusionParams ok;
    ok.max_length = 24;
    ok.block_length = 8;
    ok.steps = 3;
    auto r = diffusion_generate(**s, prompt, ok);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message().find("left to right"), std::string::npos);
}

}  // namespace
}  // namespace loom::runtime
