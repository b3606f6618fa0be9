// The generation loop: chunked prefill, then sample → emit → decode one token.
#include "runtime/generate.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "runtime/constrained_sampling.h"
#include "runtime/model.h"
#include "runtime/session.h"

namespace loom::runtime {

KeptPrefix keep_prefix(Session& session, int seq, std::span<const int32_t> held, std::span<const int32_t> prompt) {
    KeptPrefix k;
    const size_t limit = std::min(held.size(), prompt.empty() ? 0 : prompt.size() - 1);
    k.n_keep =
        int64_t(std::mismatch(held.begin(), held.begin() + ptrdiff_t(limit), prompt.begin()).first - held.begin());
    if (!session.truncate(seq, k.n_keep).ok()) {
        session.reset(seq);
        k.n_keep = 0;
        k.reset = true;
    }
    return k;
}

Result<GenerateStats> generate(Session& session, std::span<const int32_t> prompt, const GenerateOptions& opt,
                               const TokenFn& on_token) {
    using clock = std::chrono::steady_clock;
    if (prompt.empty()) return Error::invalid("generate: the prompt is empty");
    const int64_t n_ctx = session.options().n_ctx;
    if (int64_t(prompt.size()) >= n_ctx)
        return Error::invalid("generate: the prompt has {} tokens, the context only {} (raise -c)", prompt.size(),
                              n_ctx);
    LOOM_TRY(Sampler sampler, Sampler::create(opt.sampling, int32_t(session.model().n_vocab())));
    LOOM_ASSERT(opt.n_keep >= 0 && opt.n_keep < int64_t(prompt.size()), "generate: n_keep {} of a {}-token prompt",
                opt.n_keep, prompt.size());
    LOOM_RETURN_IF_ERROR(session.truncate(opt.seq, opt.n_keep));
    LOOM_ASSERT(session.n_past(opt.seq) == opt.n_keep, "generate: n_keep {} but the sequence holds {} positions",
                opt.n_keep, session.n_past(opt.seq));

    std::optional<grammar::TokenConstraint> constraint;
    std::vector<float> masked;
    if (opt.grammar) {
        LOOM_ASSERT(opt.trie && opt.trie->n_vocab() == int32_t(session.model().n_vocab()),
                    "generate: a grammar needs the vocabulary trie of the model");
        constraint.emplace(*opt.grammar, opt.trie);
    }

    GenerateStats st;
    st.n_prompt = int64_t(prompt.size()) - opt.n_keep;
    const auto t0 = clock::now();
    TensorView logits;
    const int64_t step = std::max<int64_t>(1, opt.n_batch);
    for (int64_t first = opt.n_keep; first < int64_t(prompt.size()); first += step) {
        const int64_t n = std::min<int64_t>(step, int64_t(prompt.size()) - first);
        LOOM_TRY(logits,
                 session.decode(Batch::sequence(prompt.subspan(size_t(first), size_t(n)), int32_t(first), opt.seq)));
    }
    for (int32_t t : prompt) sampler.accept(t);
    const auto t1 = clock::now();
    st.prompt_seconds = std::chrono::duration<double>(t1 - t0).count();

    int64_t pos = int64_t(prompt.size());
    for (;;) {
        if (opt.n_predict >= 0 && st.n_generated >= opt.n_predict) {
            st.stop = GenerateStats::Stop::length;
            break;
        }
        const std::span<const float> row(logits.row<float>(0), size_t(logits.row_length()));
        int32_t token = -1;
        if (constraint) {
            LOOM_TRY(const ConstrainedDraw d, sample_constrained(sampler, *constraint, row, masked));
            if (d.end) {
                st.stop = GenerateStats::Stop::eog;
                break;
            }
            token = d.token;
            LOOM_RETURN_IF_ERROR(constraint->accept(token));
        } else {
            LOOM_TRY(token, sampler.sample(row));
        }
        if (std::find(opt.eog.begin(), opt.eog.end(), token) != opt.eog.end()) {
            st.stop = GenerateStats::Stop::eog;
            break;
        }
        sampler.accept(token);
        ++st.n_generated;
        if (!on_token(token)) {
            st.stop = GenerateStats::Stop::caller;
            break;
        }
        if (pos >= n_ctx) {
            st.stop = GenerateStats::Stop::context;
            break;
        }
        if (opt.n_predict >= 0 && st.n_generated >= opt.n_predict) {  // no pass for a token nobody reads
            st.stop = GenerateStats::Stop::length;
            break;
        }
        const int32_t one[] = {token};
        LOOM_TRY(logits, session.decode(Batch::sequence(one, int32_t(pos), opt.seq)));
        ++pos;
    }
    st.generate_seconds = std::chrono::duration<double>(clock::now() - t1).count();
    return st;
}

}  // namespace loom::runtime
