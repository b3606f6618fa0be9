// The scheduler on a tiny quantized model: temperature-0 output alone equals output beside others (prompts long
// enough that a batched pass would cross the matmul's token threshold), cancellation, the queue bound, prompt
// logprobs and the length limit.
#include "server/scheduler.h"

#include <gtest/gtest.h>

#include <cmath>

#include "runtime/diffusion.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"
#include "unit/test_env.h"

namespace loom::server {
namespace {

struct Fixture {
    std::unique_ptr<runtime::Model> model;
    std::unique_ptr<tokenizer::Vocab> vocab;
    std::unique_ptr<runtime::Session> session;
    Metrics* metrics = nullptr;

    explicit Fixture(int n_seq, const std::string& path = test::synth_model("llama", "q4_k")) {
        auto m = runtime::Model::load(path);
        EXPECT_TRUE(m.ok()) << m.error().message();
        model = std::move(m).value();
        auto v = tokenizer::Vocab::load(model->file());
        EXPECT_TRUE(v.ok());
        vocab = std::make_unique<tokenizer::Vocab>(std::move(v).value());
        runtime::SessionOptions so;
        so.n_threads = 2;
        so.n_ctx = 256;
        so.n_seq = n_seq;
        auto s = runtime::Session::create(*model, so);
        EXPECT_TRUE(s.ok());
        session = std::move(s).value();
    }
};

std::vector<int32_t> prompt(int i, int n = 40) {
    std::vector<int32_t> t{1};
    uint64_t s = uint64_t(i) * 0x9E3779B97F4A7C15ull + 7;
    for (int k = 1; k < n; ++k) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        t.push_back(int32_t(3 + (s >> 33) % 990));
    }
    return t;
}

// With a vocab, none of its end-of-generation tokens can be picked (else only the llama-style </s>, id 2): every
// run is max_tokens long.
SequenceSpec greedy(int index, std::vector<int32_t> p, int64_t max_tokens, const tokenizer::Vocab* vocab = nullptr) {
    SequenceSpec s;
    s.index = index;
    s.prompt = std::move(p);
    s.sampling.temperature = 0;
    s.sampling.logit_bias[2] = -INFINITY;
    if (vocab)
        for (int32_t id : vocab->eog_ids()) s.sampling.logit_bias[id] = -INFINITY;
    s.max_tokens = max_tokens;
    s.logprobs = 0;  // token ids come with the events
    return s;
}

struct Outcome {
    std::vector<int32_t> tokens;
    std::vector<TokenInfo> prompt;
    std::string text;
    Finish finish = Finish::none;
    int64_t n_generated = 0, n_cached = 0;
    std::vector<double> logprobs;
    int n_text_events = 0;
};

std::vector<Outcome> collect(RequestStream& st, size_t n, std::chrono::seconds limit = std::chrono::seconds(60)) {
    std::vector<Outcome> out(n);
    size_t done = 0;
    const auto end = std::chrono::steady_clock::now() + limit;
    while (done < n && std::chrono::steady_clock::now() < end) {
        SequenceEvent e;
        if (!st.next(e, std::chrono::milliseconds(100))) continue;
        Outcome& o = out[size_t(e.index)];
        for (const auto& t : e.tokens) o.tokens.push_back(t.id), o.logprobs.push_back(t.logprob);
        if (!e.prompt.empty()) o.prompt = e.prompt;
        o.text += e.text;
        o.n_text_events += !e.text.empty();
        if (e.finish != Finish::none) {
            o.finish = e.finish;
            o.n_generated = e.n_generated;
            o.n_cached = e.n_cached;
            ++done;
        }
    }
    EXPECT_EQ(done, n) << "timed out";
    return out;
}

class AloneOrTogether : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

// On a dense model, on mixtures of experts (whose expert matmuls must round each routed row alone) and on the
// hybrids (each slot's recurrent state reset at admission and carried through its prefill chunks).
TEST_P(AloneOrTogether, TemperatureZeroAloneEqualsBesideOthers) {
    Fixture f(4, test::synth_model(GetParam().first, GetParam().second));
    Scheduler sched(*f.session, *f.vocab, {4, 16, 512}, nullptr);
    std::vector<std::vector<int32_t>> alone;
    for (int i = 0; i < 4; ++i) {
        auto st = std::make_shared<RequestStream>();
        ASSERT_EQ(sched.submit({greedy(0, prompt(i), 12, f.vocab.get())}, st), Scheduler::Submit::ok);
        alone.push_back(collect(*st, 1)[0].tokens);
        ASSERT_EQ(alone.back().size(), 12u);
    }
    // Together, arriving one after another so that prefills overlap other sequences' decoding. (With
    // fuse_prefill this fails on this model: a fused pass crosses the matmul's f32-GEMM token threshold.)
    std::vector<std::shared_ptr<RequestStream>> streams;
    for (int i = 0; i < 4; ++i) {
        streams.push_back(std::make_shared<RequestStream>());
        ASSERT_EQ(sched.submit({greedy(0, prompt(i), 12, f.vocab.get())}, streams.back()), Scheduler::Submit::ok);
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    for (int i = 0; i < 4; ++i)
        EXPECT_EQ(collect(*streams[size_t(i)], 1)[0].tokens, alone[size_t(i)]) << "prompt " << i;
    // One request of four sequences (the n > 1 shape).
    auto st = std::make_shared<RequestStream>();
    std::vector<SequenceSpec> four;
    four.reserve(4);
    for (int i = 0; i < 4; ++i) four.push_back(greedy(i, prompt(i), 12, f.vocab.get()));
    ASSERT_EQ(sched.submit(four, st), Scheduler::Submit::ok);
    auto out = collect(*st, 4);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(out[size_t(i)].tokens, alone[size_t(i)]) << "choice " << i;
}

INSTANTIATE_TEST_SUITE_P(ServerScheduler, AloneOrTogether,
                         ::testing::Values(std::pair{"llama", "q4_k"}, std::pair{"qwen3moe", "q4_k_m"},
                                           std::pair{"qwen2moe", "q8_0"}, std::pair{"qwen35", "q4_k_m"},
                                           std::pair{"qwen35moe", "q8_0"}, std::pair{"deepseek2lite", "q8_0"},
                                           std::pair{"gemma4", "q4_k_m"}, std::pair{"gemma4moe", "q8_0"}),
                         [](const auto& info) { return std::string(info.param.first) + "_" + info.param.second; });

class PrefixCacheExact : public ::testing::TestWithParam<std::pair<const char*, const char*>> {};

// A conversation of three turns (each prompt = the last prompt, the reply and a new message), then a prompt that
// shares only the first 35 tokens: with the prefix cache (passes of 16) each turn restores the last 16-token
// boundary of what it shares with an earlier prompt, and its tokens and logprobs are the bits of a scheduler
// without the cache. Dense KV, sliding windows, shared KV and a recurrent state.
TEST_P(PrefixCacheExact, CachedTurnsEqualColdOnes) {
    Fixture f(2, test::synth_model(GetParam().first, GetParam().second));
    SchedulerOptions cached{2, 16, 16}, cold{2, 16, 16};
    cold.cache_bytes = 0;
    std::vector<int32_t> p = prompt(1);
    std::vector<std::vector<int32_t>> prompts;
    std::vector<int64_t> want_cached;
    std::vector<Outcome> warm;
    {
        Scheduler sched(*f.session, *f.vocab, cached, nullptr);
        for (int turn = 0; turn < 3; ++turn) {
            auto st = std::make_shared<RequestStream>();
            ASSERT_EQ(sched.submit({greedy(0, p, 8, f.vocab.get())}, st), Scheduler::Submit::ok);
            prompts.push_back(p);
            want_cached.push_back(turn == 0 ? 0 : int64_t(prompts[size_t(turn) - 1].size()) / 16 * 16);
            warm.push_back(collect(*st, 1)[0]);
            p.insert(p.end(), warm.back().tokens.begin(), warm.back().tokens.end());
            const std::vector<int32_t> more = prompt(turn + 2, 13);
            p.insert(p.end(), more.begin() + 1, more.end());
        }
        std::vector<int32_t> other(prompts[0].begin(), prompts[0].begin() + 35);
        const std::vector<int32_t> tail = prompt(9, 20);
        other.insert(other.end(), tail.begin() + 1, tail.end());
        auto st = std::make_shared<RequestStream>();
        ASSERT_EQ(sched.submit({greedy(0, other, 8, f.vocab.get())}, st), Scheduler::Submit::ok);
        prompts.push_back(other);
        want_cached.push_back(32);
        warm.push_back(collect(*st, 1)[0]);
    }
    Scheduler sched(*f.session, *f.vocab, cold, nullptr);
    for (size_t i = 0; i < prompts.size(); ++i) {
        auto st = std::make_shared<RequestStream>();
        ASSERT_EQ(sched.submit({greedy(0, prompts[i], 8, f.vocab.get())}, st), Scheduler::Submit::ok);
        const Outcome c = collect(*st, 1)[0];
        EXPECT_EQ(c.n_cached, 0);
        EXPECT_EQ(warm[i].n_cached, want_cached[i]) << "prompt " << i << " of " << prompts[i].size() << " tokens";
        EXPECT_EQ(warm[i].tokens, c.tokens) << "prompt " << i;
        EXPECT_EQ(warm[i].logprobs, c.logprobs) << "prompt " << i;  // the same bits, not only the same argmax
    }
}

INSTANTIATE_TEST_SUITE_P(ServerScheduler, PrefixCacheExact,
                         ::testing::Values(std::pair{"llama", "q4_k"}, std::pair{"gemma3", "q4_k"},
                                           std::pair{"gemma4", "q8_0"}, std::pair{"qwen35", "q4_k_m"}),
                         [](const auto& info) { return std::string(info.param.first) + "_" + info.param.second; });

// A diffusion model: each request is a canvas unmasked over the steps; its text streams as blocks become final and
// equals what diffusion_generate (loom run) makes of the same canvas; with fuse_prefill the canvases of requests
// running together share one pass and still finish.
TEST(ServerScheduler, DiffusionCanvasesStreamBlockByBlock) {
    Fixture f(2, test::synth_model("llada", "q8_0"));
    SchedulerOptions o{2, 8, 64};
    o.diffusion.steps = 8;
    o.diffusion.block_length = 16;
    SequenceSpec spec = greedy(0, prompt(1, 20), 40);
    spec.logprobs = -1;
    spec.sampling.top_k = 1;  // deterministic draws
    spec.sampling.seed = 7;

    auto plan = runtime::plan_diffusion(o.diffusion, 20, 40);
    ASSERT_TRUE(plan.ok()) << plan.error().message();
    runtime::DiffusionParams d = *plan;
    d.temperature = spec.sampling.temperature;
    d.top_k = 1;
    d.top_p = spec.sampling.top_p;
    d.seed = 7;
    auto canvas = runtime::diffusion_generate(*f.session, spec.prompt, d);
    ASSERT_TRUE(canvas.ok()) << canvas.error().message();
    tokenizer::StreamingDecoder decoder(*f.vocab);
    std::string want;
    bool ended = false;
    for (size_t i = 20; i < canvas->size() && !ended; ++i) {
        ended = f.vocab->is_eog((*canvas)[i]);
        if (!ended) want += decoder.push((*canvas)[i]);
    }
    want += decoder.flush();

    {
        Scheduler sched(*f.session, *f.vocab, o, nullptr);
        auto st = std::make_shared<RequestStream>();
        ASSERT_EQ(sched.submit({spec}, st), Scheduler::Submit::ok);
        const Outcome got = collect(*st, 1)[0];
        EXPECT_EQ(got.text, want);
        EXPECT_EQ(got.finish, ended ? Finish::stop : Finish::length);
        if (!ended) {
            EXPECT_EQ(got.n_generated, 64 - 20);  // the canvas rounds up to whole blocks
            EXPECT_GE(got.n_text_events, 2);      // block by block, not all at the end
        }
    }
    o.fuse_prefill = true;
    Scheduler sched(*f.session, *f.vocab, o, nullptr);
    auto st = std::make_shared<RequestStream>();
    SequenceSpec other = spec;
    other.index = 1;
    other.prompt = prompt(2, 30);
    ASSERT_EQ(sched.submit({spec, other}, st), Scheduler::Submit::ok);
    for (const Outcome& out : collect(*st, 2)) {
        EXPECT_TRUE(out.finish == Finish::length || out.finish == Finish::stop);
        EXPECT_LE(out.n_generated, 64);
    }
}

TEST(ServerScheduler, LengthLimitAndPromptLogprobs) {
    Fixture f(1);
    Scheduler sched(*f.session, *f.vocab, {1, 4, 16}, nullptr);  // n_batch 16: the 40-token prompt in 3 chunks
    auto st = std::make_shared<RequestStream>();
    SequenceSpec s = greedy(0, prompt(1), 5);
    s.prompt_logprobs = true;
    s.logprobs = 2;
    ASSERT_EQ(sched.submit({s}, st), Scheduler::Submit::ok);
    Outcome o = collect(*st, 1)[0];
    EXPECT_EQ(o.finish, Finish::length);
    EXPECT_EQ(o.n_generated, 5);
    ASSERT_EQ(o.prompt.size(), 40u);
    EXPECT_TRUE(std::isnan(o.prompt[0].logprob));
    for (size_t i = 1; i < o.prompt.size(); ++i) {
        EXPECT_EQ(o.prompt[i].id, s.prompt[i]);
        EXPECT_LE(o.prompt[i].logprob, 0.0);
        EXPECT_EQ(o.prompt[i].top.size(), 2u);
    }
}

TEST(ServerScheduler, CancelFreesTheSlotAndDropsQueued) {
    Fixture f(1);
    Scheduler sched(*f.session, *f.vocab, {1, 4, 64}, nullptr);
    auto a = std::make_shared<RequestStream>(), b = std::make_shared<RequestStream>();
    ASSERT_EQ(sched.submit({greedy(0, prompt(1), 200)}, a), Scheduler::Submit::ok);
    ASSERT_EQ(sched.submit({greedy(0, prompt(2), 200)}, b), Scheduler::Submit::ok);
    SequenceEvent e;
    ASSERT_TRUE(a->next(e, std::chrono::seconds(30)));  // a is generating, b waits for the one slot
    b->cancel();
    a->cancel();
    Outcome oa = collect(*a, 1)[0], ob = collect(*b, 1)[0];
    EXPECT_EQ(oa.finish, Finish::cancelled);
    EXPECT_LT(oa.n_generated, 200);
    EXPECT_EQ(ob.finish, Finish::cancelled);
    EXPECT_EQ(ob.n_generated, 0);  // dropped before its prefill
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (sched.load().active != 0 && std::chrono::steady_clock::now() < end)
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(sched.load().active, 0);
    EXPECT_EQ(sched.load().queued, 0);
}

TEST(ServerScheduler, BoundedQueueAndDrain) {
    Fixture f(1);
    Scheduler sched(*f.session, *f.vocab, {1, 2, 64}, nullptr);
    auto st = std::make_shared<RequestStream>();
    std::vector<SequenceSpec> three = {greedy(0, prompt(1), 4), greedy(1, prompt(2), 4), greedy(2, prompt(3), 4)};
    EXPECT_EQ(sched.submit(three, st), Scheduler::Submit::queue_full);  // all or none
    three.pop_back();
    ASSERT_EQ(sched.submit(three, st), Scheduler::Submit::ok);
    sched.drain();  // returns once both are done
    auto out = collect(*st, 2, std::chrono::seconds(1));
    EXPECT_EQ(out[0].finish, Finish::length);
    EXPECT_EQ(out[1].finish, Finish::length);
    EXPECT_EQ(sched.submit({greedy(0, prompt(1), 4)}, st), Scheduler::Submit::draining);
}

}  // namespace
}  // namespace loom::server
