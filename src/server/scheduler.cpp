// Continuous batching: admit queued sequences into free slots, build one batch of decode tokens and prefill
// chunks, run it, then sample and stream per sequence.
#include "server/scheduler.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "grammar/token_constraint.h"
#include "runtime/constrained_sampling.h"
#include "runtime/model.h"
#include "runtime/session.h"
#include "runtime/stop_strings.h"
#include "server/metrics.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"

namespace loom::server {
namespace {

using Clock = std::chrono::steady_clock;

double seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// log-softmax of one token over a row of logits, in double as runtime::top_logprobs computes it.
double logprob_of(std::span<const float> logits, int32_t id) {
    double mx = -INFINITY;
    for (float v : logits) mx = std::max(mx, double(v));
    double sum = 0;
    for (float v : logits) sum += std::exp(double(v) - mx);
    return double(logits[size_t(id)]) - mx - std::log(sum);
}

TokenInfo token_info(std::span<const float> logits, int32_t id, int k) {
    TokenInfo t;
    t.id = id;
    t.logprob = logprob_of(logits, id);
    if (k > 0) t.top = runtime::top_logprobs(logits, k);
    return t;
}

// Prompt logprobs need every prompt row's logits; this bounds the rows (and so the logits buffer) per pass.
constexpr size_t kMaxLogitBytes = size_t(64) << 20;

}  // namespace

const char* finish_reason(Finish f) {
    switch (f) {
        case Finish::stop: return "stop";
        case Finish::length: return "length";
        case Finish::cancelled: return "cancelled";
        case Finish::error: return "error";
        case Finish::none: break;
    }
    return "";
}

bool RequestStream::next(SequenceEvent& out, std::chrono::milliseconds wait) {
    std::unique_lock lock(mu_);
    if (!cv_.wait_for(lock, wait, [&] { return !events_.empty(); })) return false;
    out = std::move(events_.front());
    events_.pop_front();
    return true;
}

void RequestStream::push(SequenceEvent e) {
    {
        std::lock_guard lock(mu_);
        events_.push_back(std::move(e));
    }
    cv_.notify_one();
}

struct Scheduler::Slot {
    int seq = 0;  // the KV cache sequence this slot owns
    bool busy = false;
    bool generating = false;  // prefill done: `last` is the next token to decode
    uint64_t admitted = 0;    // admission order: earlier sequences prefill first
    SequenceSpec spec;
    std::shared_ptr<RequestStream> stream;
    std::optional<runtime::Sampler> sampler;
    std::optional<grammar::TokenConstraint> constraint;  // with SequenceSpec::grammar
    std::vector<float> masked;                           // the constraint's masked logits (scratch)
    std::optional<tokenizer::StreamingDecoder> decoder;
    runtime::StopMatcher stops;
    int64_t n_prefilled = 0, n_generated = 0;
    int64_t n_cached = 0;                         // prompt tokens restored from the prefix cache
    std::optional<runtime::DiffusionRun> canvas;  // diffusion models: the canvas being unmasked
    int64_t n_emitted = 0;                        // diffusion models: canvas positions already streamed
    int32_t last = 0;
    std::vector<TokenInfo> prompt_info;
    Clock::time_point submitted, last_token;
    // This step: the first logits row of this slot and how many rows it asked for.
    int64_t row0 = 0, n_rows = 0, n_chunk = 0;
};

Scheduler::Scheduler(runtime::Session& session, const tokenizer::Vocab& vocab, const SchedulerOptions& opt,
                     Metrics* metrics)
    : session_(session), vocab_(vocab), opt_(opt), metrics_(metrics) {
    n_vocab_ = int32_t(session.model().n_vocab());
    n_ctx_ = session.options().n_ctx;
    opt_.n_parallel = std::max(1, std::min(opt_.n_parallel, session.options().n_seq));
    opt_.n_batch =
        std::max<int64_t>(opt_.n_batch, opt_.n_parallel + 1);  // room for every decode token and some prefill
    diffusion_ = session.model().diffusion();
    if (opt_.cache_bytes > 0 && !opt_.fuse_prefill && !diffusion_) cache_.emplace(opt_.n_batch, opt_.cache_bytes);
    for (int i = 0; i < opt_.n_parallel; ++i) {
        slots_.push_back(std::make_unique<Slot>());
        slots_.back()->seq = i;
    }
    thread_ = std::thread([this] { loop(); });
}

Scheduler::~Scheduler() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

Scheduler::Submit Scheduler::submit(std::vector<SequenceSpec> seqs, const std::shared_ptr<RequestStream>& stream) {
    {
        std::lock_guard lock(mu_);
        if (draining_ || stop_) return Submit::draining;
        if (queue_.size() + seqs.size() > size_t(opt_.max_queue)) return Submit::queue_full;
        const auto now = Clock::now();
        for (auto& s : seqs) queue_.push_back({std::move(s), stream, now});
    }
    cv_.notify_all();
    return Submit::ok;
}

void Scheduler::drain() {
    std::unique_lock lock(mu_);
    draining_ = true;
    idle_cv_.wait(lock, [&] { return n_active_ == 0 && queue_.empty(); });
}

SchedulerLoad Scheduler::load() const {
    std::lock_guard lock(mu_);
    SchedulerLoad l;
    l.queued = int64_t(queue_.size());
    l.active = n_active_;
    l.kv_capacity = n_ctx_ * opt_.n_parallel;
    return l;
}

void Scheduler::loop() {
    for (;;) {
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [&] { return stop_ || n_active_ > 0 || !queue_.empty(); });
            if (stop_) break;
        }
        admit();
        step();
        if (metrics_) {
            SchedulerLoad l = load();
            for (const auto& s : slots_)
                if (s->busy) l.kv_used += session_.n_past(s->seq);
            metrics_->set_load(l.queued, l.active, l.kv_used, l.kv_capacity);
            if (cache_) metrics_->set_prefix_cache(cache_->stats());
        }
    }
    // Stopping: everything still here ends as cancelled.
    for (auto& s : slots_)
        if (s->busy) finish(*s, Finish::cancelled);
    std::lock_guard lock(mu_);
    for (auto& p : queue_) {
        SequenceEvent e;
        e.index = p.spec.index;
        e.finish = Finish::cancelled;
        p.stream->push(std::move(e));
    }
    queue_.clear();
    idle_cv_.notify_all();
}

void Scheduler::admit() {
    for (auto& slot : slots_) {
        if (slot->busy) continue;
        Pending p;
        {
            std::lock_guard lock(mu_);
            // A request whose client left is dropped here, before any prefill.
            while (!queue_.empty() && queue_.front().stream->cancelled()) {
                SequenceEvent e;
                e.index = queue_.front().spec.index;
                e.finish = Finish::cancelled;
                queue_.front().stream->push(std::move(e));
                queue_.pop_front();
            }
            if (queue_.empty()) {
                if (n_active_ == 0) idle_cv_.notify_all();
                return;
            }
            p = std::move(queue_.front());
            queue_.pop_front();
            ++n_active_;
        }
        Slot& s = *slot;
        s.busy = true;
        s.generating = false;
        s.admitted = ++n_admitted_;
        s.spec = std::move(p.spec);
        s.stream = std::move(p.stream);
        s.submitted = p.submitted;
        s.n_prefilled = s.n_generated = s.n_cached = 0;
        s.prompt_info.clear();
        s.decoder.emplace(vocab_, s.spec.render_special);
        s.stops = runtime::StopMatcher(s.spec.stop);
        session_.reset(s.seq);
        auto sampler = runtime::Sampler::create(s.spec.sampling, n_vocab_);
        if (!sampler.ok()) {
            finish(s, Finish::error, sampler.error().message());
            continue;
        }
        s.sampler.emplace(std::move(sampler).value());
        s.constraint.reset();
        if (s.spec.grammar) {
            if (!trie_) trie_ = grammar::VocabTrie::from_vocab(vocab_, n_vocab_);
            s.constraint.emplace(*s.spec.grammar, trie_);
        }
        if (s.spec.prompt.empty() || int64_t(s.spec.prompt.size()) >= n_ctx_) {
            finish(s, Finish::error,
                   fmt::format("the prompt has {} tokens, the context {}", s.spec.prompt.size(), n_ctx_));
            continue;
        }
        if (diffusion_) {
            start_canvas(s);
            continue;
        }
        // The prompt counts for the penalties, as llama.cpp does; only the window's tail matters.
        const size_t window = size_t(std::max(0, s.spec.sampling.repeat_last_n));
        const size_t from = s.spec.prompt.size() > window ? s.spec.prompt.size() - window : 0;
        for (size_t i = from; i < s.spec.prompt.size(); ++i) s.sampler->accept(s.spec.prompt[i]);
        if (s.spec.prompt_logprobs) s.prompt_info.push_back({s.spec.prompt[0], NAN, {}});
        restore_prefix(s);
    }
}

bool Scheduler::ends_generation(const Slot& s, int32_t token) const {
    return vocab_.is_eog(token) ||
           std::find(s.spec.stop_ids.begin(), s.spec.stop_ids.end(), token) != s.spec.stop_ids.end();
}

void Scheduler::end_text(Slot& s, SequenceEvent& e) {
    runtime::StopResult r = s.stops.feed(s.decoder->flush());
    e.text += r.text;
    if (!r.stopped) e.text += s.stops.flush().text;
}

void Scheduler::start_canvas(Slot& s) {
    const int64_t n_prompt = int64_t(s.spec.prompt.size());
    const int64_t n_generate = s.spec.max_tokens >= 0 ? s.spec.max_tokens : std::min<int64_t>(128, n_ctx_ - n_prompt);
    auto plan = runtime::plan_diffusion(opt_.diffusion, n_prompt, n_generate);
    if (!plan.ok()) return finish(s, Finish::error, plan.error().message());
    runtime::DiffusionParams d = *plan;
    if (d.max_length > n_ctx_)
        return finish(s, Finish::error,
                      fmt::format("the canvas of {} positions ({} prompt, {} to generate, whole blocks of {}) does not "
                                  "fit the context of {}",
                                  d.max_length, n_prompt, n_generate, d.block_length, n_ctx_));
    d.temperature = s.spec.sampling.temperature;
    d.top_k = s.spec.sampling.top_k;
    d.top_p = s.spec.sampling.top_p;
    d.seed = s.spec.sampling.seed;
    auto run = runtime::DiffusionRun::start(session_.model(), s.spec.prompt, d);
    if (!run.ok()) return finish(s, Finish::error, run.error().message());
    s.canvas.emplace(std::move(run).value());
    s.n_emitted = n_prompt;
    if (metrics_) metrics_->tokens(n_prompt, 0);
    s.generating = true;
}

bool Scheduler::step_canvases() {
    std::vector<Slot*> active;
    for (auto& sp : slots_)
        if (sp->busy && sp->canvas) active.push_back(sp.get());
    if (active.empty()) return false;
    if (opt_.fuse_prefill && active.size() > 1) {
        std::vector<std::vector<int32_t>> canvases;
        std::vector<std::vector<int64_t>> rows;
        canvases.reserve(active.size());
        rows.reserve(active.size());
        int64_t n_tokens = 0;
        for (Slot* s : active) {
            canvases.push_back(s->canvas->canvas());
            rows.push_back(s->canvas->rows());
            n_tokens += int64_t(canvases.back().size());
        }
        auto out = session_.stateless(canvases, rows);
        if (!out.ok()) {
            for (Slot* s : active) finish(*s, Finish::error, out.error().message());
            return true;
        }
        if (metrics_) metrics_->step(n_tokens);
        int64_t row = 0;
        for (Slot* s : active) {
            const int64_t n = int64_t(s->canvas->rows().size());
            s->canvas->step(*out, row);
            row += n;
            emit_final(*s);
        }
        return true;
    }
    for (Slot* s : active) {
        auto out = session_.stateless(s->canvas->canvas(), s->canvas->rows());
        if (!out.ok()) {
            finish(*s, Finish::error, out.error().message());
            continue;
        }
        if (metrics_) metrics_->step(int64_t(s->canvas->canvas().size()));
        s->canvas->step(*out);
        emit_final(*s);
    }
    return true;
}

void Scheduler::emit_final(Slot& s) {
    const std::vector<int32_t>& x = s.canvas->canvas();
    const int64_t final_end = s.canvas->n_final();
    SequenceEvent e;
    e.index = s.spec.index;
    const bool first = s.n_generated == 0 && final_end > s.n_emitted;
    for (; s.n_emitted < final_end; ++s.n_emitted) {
        const int32_t token = x[size_t(s.n_emitted)];
        if (ends_generation(s, token)) {  // the rest of the canvas is padding after the end
            end_text(s, e);
            return finish(s, Finish::stop, "", &e);
        }
        ++s.n_generated;
        runtime::StopResult r = s.stops.feed(s.decoder->push(token));
        e.text += r.text;
        if (r.stopped) return finish(s, Finish::stop, "", &e);
    }
    if (metrics_ && first) metrics_->time_to_first_token(seconds(Clock::now() - s.submitted));
    if (s.canvas->done()) {
        end_text(s, e);
        return finish(s, Finish::length, "", &e);
    }
    if (!e.text.empty()) s.stream->push(std::move(e));
}

void Scheduler::restore_prefix(Slot& s) {
    // Prompt logprobs need every prompt row's logits, and are computed in passes of another size.
    if (!cache_ || s.spec.prompt_logprobs) return;
    const exec::Memory& memory = session_.memory();
    auto hit = cache_->find(s.spec.prompt, !memory.has_recurrent());
    if (!hit) return;
    Status st = session_.restore(s.seq, *hit->snapshot);
    if (st.ok()) st = session_.truncate(s.seq, hit->n_tokens);  // sliding layers may no longer hold that far back
    if (!st.ok()) {
        session_.reset(s.seq);
        cache_->undo_hit(hit->n_tokens);
        return;
    }
    s.n_prefilled = s.n_cached = hit->n_tokens;
}

void Scheduler::keep_prefix(Slot& s) {
    if (!cache_ || s.spec.prompt_logprobs) return;
    const int64_t boundary = int64_t(s.spec.prompt.size()) / cache_->chunk() * cache_->chunk();
    if (s.n_prefilled != boundary || boundary <= s.n_cached) return;
    // A memory that can cut back to any boundary serves a shorter cached prompt from this snapshot too.
    const exec::Memory& memory = session_.memory();
    const bool supersede = !memory.has_recurrent() && !memory.has_windows();
    cache_->insert(std::span<const int32_t>(s.spec.prompt.data(), size_t(boundary)), session_.save(s.seq), supersede);
}

bool Scheduler::step() {
    for (auto& s : slots_)
        if (s->busy && s->stream->cancelled()) finish(*s, Finish::cancelled);
    std::vector<Slot*> decoding, prefilling;
    for (auto& sp : slots_) {
        if (!sp->busy) continue;
        (sp->generating ? decoding : prefilling).push_back(sp.get());
    }
    std::sort(prefilling.begin(), prefilling.end(),
              [](const Slot* a, const Slot* c) { return a->admitted < c->admitted; });
    if (diffusion_) return step_canvases();
    if (decoding.empty() && prefilling.empty()) return false;
    if (opt_.fuse_prefill) {
        run_pass(decoding, prefilling, opt_.n_batch - int64_t(decoding.size()));
        return true;
    }
    // Decode and prefill in separate passes, one prompt per prefill pass, chunks cut at multiples of n_batch:
    // every pass a sequence takes part in then has the same number of tokens as when it runs alone, which
    // keeps its numerics (kernels may pick another path by the number of tokens in a pass).
    if (!decoding.empty()) run_pass(decoding, {}, 0);
    if (!prefilling.empty()) run_pass({}, std::span<Slot* const>(prefilling.data(), 1), opt_.n_batch);
    return true;
}

void Scheduler::run_pass(std::span<Slot* const> decoding, std::span<Slot* const> prefilling, int64_t budget) {
    runtime::Batch b;
    int64_t rows = 0;
    auto add = [&](Slot& s, int32_t token, int64_t pos, bool logits) {
        b.tokens.push_back(token);
        b.pos.push_back(int32_t(pos));
        b.seq.push_back(s.seq);
        b.logits.push_back(logits ? 1 : 0);
        if (logits) ++s.n_rows, ++rows;
    };
    std::vector<Slot*> in_batch;
    for (Slot* s : decoding) {
        s->n_rows = s->n_chunk = 0;
        s->row0 = rows;
        add(*s, s->last, int64_t(s->spec.prompt.size()) + s->n_generated - 1, true);
        in_batch.push_back(s);
    }
    // Prefill chunks in admission order, with what is left of the token budget.
    const int64_t max_rows = std::max<int64_t>(1, int64_t(kMaxLogitBytes / (size_t(n_vocab_) * 4)));
    for (Slot* s : prefilling) {
        if (budget <= 0) break;
        s->n_rows = 0;
        const int64_t left = int64_t(s->spec.prompt.size()) - s->n_prefilled;
        int64_t n = std::min(budget, left);
        if (s->spec.prompt_logprobs) n = std::min(n, max_rows);
        s->row0 = rows;
        s->n_chunk = n;
        for (int64_t i = 0; i < n; ++i) {
            const int64_t pos = s->n_prefilled + i;
            const bool last = pos == int64_t(s->spec.prompt.size()) - 1;
            add(*s, s->spec.prompt[size_t(pos)], pos, last || s->spec.prompt_logprobs);
        }
        budget -= n;
        in_batch.push_back(s);
    }
    if (b.tokens.empty()) return;

    auto out = session_.decode(b);
    if (!out.ok()) {
        for (Slot* s : in_batch) finish(*s, Finish::error, out.error().message());
        return;
    }
    if (metrics_) metrics_->step(int64_t(b.tokens.size()));
    const TensorView logits = *out;
    auto row = [&](int64_t r) { return std::span<const float>(logits.row<float>(r), size_t(n_vocab_)); };
    for (Slot* s : in_batch) {
        if (s->generating) {
            emit_token(*s, logits.row<float>(s->row0));
            continue;
        }
        if (s->spec.prompt_logprobs) {
            const int k = std::max(0, s->spec.logprobs);
            for (int64_t i = 0; i < s->n_chunk; ++i) {
                const int64_t next = s->n_prefilled + i + 1;  // the prompt token this row predicts
                if (next < int64_t(s->spec.prompt.size()))
                    s->prompt_info.push_back(token_info(row(s->row0 + i), s->spec.prompt[size_t(next)], k));
            }
        }
        s->n_prefilled += s->n_chunk;
        keep_prefix(*s);
        if (s->n_prefilled < int64_t(s->spec.prompt.size())) continue;
        if (metrics_) metrics_->tokens(int64_t(s->spec.prompt.size()) - s->n_cached, 0);
        if (s->spec.prompt_logprobs) {
            SequenceEvent e;
            e.index = s->spec.index;
            e.prompt = std::move(s->prompt_info);
            s->stream->push(std::move(e));
        }
        s->generating = true;
        emit_token(*s, logits.row<float>(s->row0 + s->n_rows - 1));
    }
}

void Scheduler::emit_token(Slot& s, const float* logits_ptr) {
    const std::span<const float> logits(logits_ptr, size_t(n_vocab_));
    int32_t token = -1;
    bool grammar_end = false;
    if (s.constraint) {
        auto drawn = runtime::sample_constrained(*s.sampler, *s.constraint, logits, s.masked);
        if (!drawn.ok()) {
            finish(s, Finish::error, drawn.error().message());
            return;
        }
        token = drawn->token;
        grammar_end = drawn->end;
        if (!grammar_end) {
            if (auto st = s.constraint->accept(token); !st.ok()) {
                finish(s, Finish::error, st.error().message());
                return;
            }
        }
    } else {
        auto drawn = s.sampler->sample(logits);
        if (!drawn.ok()) {
            finish(s, Finish::error, drawn.error().message());
            return;
        }
        token = *drawn;
    }
    SequenceEvent e;
    e.index = s.spec.index;
    if (grammar_end || ends_generation(s, token)) {
        end_text(s, e);
        finish(s, Finish::stop, "", &e);
        return;
    }
    s.sampler->accept(token);
    ++s.n_generated;
    const auto now = Clock::now();
    if (metrics_) {
        if (s.n_generated == 1) metrics_->time_to_first_token(seconds(now - s.submitted));
        else metrics_->inter_token(seconds(now - s.last_token));
    }
    s.last_token = now;
    if (s.spec.logprobs >= 0) e.tokens.push_back(token_info(logits, token, s.spec.logprobs));
    runtime::StopResult r = s.stops.feed(s.decoder->push(token));
    e.text = std::move(r.text);
    if (r.stopped) {
        finish(s, Finish::stop, "", &e);
        return;
    }
    // The next pass would put this token at position prompt + generated - 1; the context ends before it.
    const bool full = int64_t(s.spec.prompt.size()) + s.n_generated - 1 >= n_ctx_;
    if ((s.spec.max_tokens >= 0 && s.n_generated >= s.spec.max_tokens) || full) {
        end_text(s, e);
        finish(s, Finish::length, "", &e);
        return;
    }
    s.last = token;
    if (!e.text.empty() || !e.tokens.empty()) s.stream->push(std::move(e));
}

void Scheduler::finish(Slot& s, Finish f, std::string error, SequenceEvent* last) {
    SequenceEvent e = last ? std::move(*last) : SequenceEvent{};
    e.index = s.spec.index;
    e.finish = f;
    e.error = std::move(error);
    e.n_prompt = int64_t(s.spec.prompt.size());
    e.n_generated = s.n_generated;
    e.n_cached = s.n_cached;
    if (metrics_) {
        metrics_->tokens(0, s.n_generated);
        metrics_->request_duration(seconds(Clock::now() - s.submitted));
    }
    s.stream->push(std::move(e));
    s.stream.reset();
    s.busy = false;
    s.generating = false;
    s.canvas.reset();
    session_.reset(s.seq);
    std::lock_guard lock(mu_);
    --n_active_;
    if (n_active_ == 0 && queue_.empty()) idle_cv_.notify_all();
}

}  // namespace loom::server
