// The forward pass: input chain → side inputs → layers (residual and replace steps) → rows that want logits →
// output chain.
#include "runtime/session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <thread>

#include "core/thread_pool.h"
#include "runtime/model.h"

namespace loom::runtime {

Batch Batch::sequence(std::span<const int32_t> tokens, int32_t pos0, int32_t seq, bool all_logits) {
    Batch b;
    b.tokens.assign(tokens.begin(), tokens.end());
    for (size_t i = 0; i < tokens.size(); ++i) b.pos.push_back(pos0 + int32_t(i));
    b.seq.assign(tokens.size(), seq);
    b.logits.assign(tokens.size(), all_logits ? 1 : 0);
    if (!tokens.empty()) b.logits.back() = 1;
    return b;
}

namespace {

// x through the chain's blocks; a sum runs each branch on the same input and adds their outputs in order.
TensorView run_chain(exec::Exec& ex, const BlockChain& chain, TensorView x, const blocks::Pass& pass) {
    for (const ChainNode& node : chain) {
        if (ex.failed()) return {};
        if (node.block) {
            x = ex.name(node.block->forward(ex, x, pass), node.block->label());
            continue;
        }
        TensorView sum;
        for (const BlockChain& branch : node.sum) {
            const TensorView y = run_chain(ex, branch, x, pass);
            if (ex.failed()) return {};
            if (sum.empty() && y.data == x.data) {  // a branch that passed x through: add into a copy, not x
                sum = ex.like(x);
                ex.convert(x, sum);
            } else if (sum.empty()) {
                sum = y;
            } else {
                ex.add(sum, y);
            }
        }
        x = sum;
    }
    return x;
}

}  // namespace

Result<std::unique_ptr<Session>> Session::create(const Model& model, const SessionOptions& opt) {
    std::unique_ptr<Session> s(new Session());
    s->model_ = &model;
    s->opt_ = opt;
    if (s->opt_.n_threads <= 0) s->opt_.n_threads = usable_cpus();
    if (s->opt_.n_ctx <= 0) return Error::invalid("context size {} must be positive", s->opt_.n_ctx);
    if (!s->opt_.n_ctx_over_train) s->opt_.n_ctx = std::min(s->opt_.n_ctx, model.n_ctx_train());
    if (s->opt_.n_threads > 1) s->pool_ = std::make_unique<ThreadPool>(s->opt_.n_threads);
    s->exec_ = std::make_unique<exec::Exec>(opt.backend, s->pool_.get());
    LOOM_RETURN_IF_ERROR(s->exec_->status());
    if (s->opt_.n_batch < 1) return Error::invalid("batch size {} must be positive", s->opt_.n_batch);
    LOOM_TRY(exec::Memory mem,
             exec::Memory::create(model.memory_layout(), s->opt_.n_seq, s->opt_.n_ctx, opt.kv_type, s->opt_.n_batch));
    s->memory_ = std::make_unique<exec::Memory>(std::move(mem));
    return s;
}

Session::~Session() = default;

int Session::n_threads() const { return opt_.n_threads; }

void Session::set_dump(exec::DumpFn fn) { exec_->set_dump(std::move(fn)); }

Status Session::truncate(int seq, int64_t from) { return memory_->truncate(seq, from); }

void Session::reset(int seq) { memory_->reset(seq); }

int64_t Session::n_past(int seq) const { return memory_->n_past(seq); }

Result<TensorView> Session::decode(const Batch& batch) {
    if (model_->diffusion())
        return Error::unsupported(
            "{}: a diffusion model's passes are bidirectional over the whole canvas and keep no cache, so it has no "
            "cached decode; it generates with runtime::diffusion_generate (loom run does)",
            model_->arch().name);
    const int64_t limit = memory_->has_windows() ? memory_->max_pass() : 0;
    if (limit == 0) return forward(batch, *memory_);
    return forward_in_parts(batch, limit);
}

Result<TensorView> Session::forward_in_parts(const Batch& batch, int64_t limit) {
    const size_t n = batch.tokens.size();
    if (batch.pos.size() != n || (!batch.seq.empty() && batch.seq.size() != n) ||
        (!batch.logits.empty() && batch.logits.size() != n))
        return forward(batch, *memory_);  // forward() says what is wrong
    auto seq_of = [&](size_t i) { return batch.seq.empty() ? 0 : batch.seq[i]; };
    std::map<int, int64_t> count;
    bool fits = true;
    for (size_t i = 0; i < n && fits; ++i) fits = ++count[seq_of(i)] <= limit;
    if (fits) return forward(batch, *memory_);

    // Consecutive parts in which no sequence has more than `limit` tokens; their logits rows are concatenated.
    std::map<int, int32_t> first_pos;  // to undo the parts already run if a later one fails
    for (size_t i = 0; i < n; ++i) first_pos.emplace(seq_of(i), batch.pos[i]);
    std::vector<float> rows;
    for (size_t at = 0; at < n;) {
        Batch part;
        count.clear();
        for (; at < n && count[seq_of(at)] < limit; ++at) {
            ++count[seq_of(at)];
            part.tokens.push_back(batch.tokens[at]);
            part.pos.push_back(batch.pos[at]);
            part.seq.push_back(seq_of(at));
            part.logits.push_back(batch.logits.empty() ? uint8_t(at == n - 1) : batch.logits[at]);
        }
        auto out = forward(part, *memory_);
        if (!out.ok()) {
            for (const auto& [seq, pos] : first_pos)
                if (memory_->has_recurrent() || !memory_->truncate(seq, pos).ok()) memory_->reset(seq);
            return std::move(out).error();
        }
        const float* got = static_cast<const float*>(out->data);  // [0, V] for a part that wants no logits
        if (out->n_elements() > 0) rows.insert(rows.end(), got, got + out->n_elements());
    }
    logits_ = std::move(rows);
    const int64_t V = model_->n_vocab();
    return TensorView::dense(logits_.data(), DType::f32, {int64_t(logits_.size()) / V, V});
}

Result<TensorView> Session::stateless(std::span<const int32_t> tokens) {
    if (tokens.empty()) return Error::invalid("empty batch");
    // Nothing is reused between calls: every memory kind starts empty, exactly as a fresh sequence would.
    LOOM_TRY(exec::Memory scratch,
             exec::Memory::create(model_->memory_layout(), 1, int64_t(tokens.size()), opt_.kv_type, /*max_pass=*/0));
    return forward(Batch::sequence(tokens, 0, 0, /*all_logits=*/true), scratch);
}

namespace {

// Whether rows are ascending positions of a sequence of n tokens; the error names the first that is not.
Status check_rows(std::span<const int64_t> rows, int64_t n, std::string_view what) {
    if (rows.empty()) return Error::invalid("{}: no rows asked for", what);
    for (size_t i = 0; i < rows.size(); ++i)
        if (rows[i] < 0 || rows[i] >= n || (i > 0 && rows[i] <= rows[i - 1]))
            return Error::invalid("{}: rows must be ascending positions in [0, {}); row {} is {}", what, n, i, rows[i]);
    return {};
}

}  // namespace

Result<TensorView> Session::stateless(std::span<const int32_t> tokens, std::span<const int64_t> rows) {
    const int64_t n = int64_t(tokens.size());
    LOOM_RETURN_IF_ERROR(check_rows(rows, n, "stateless pass"));
    // In the all-positions pass, rows [0, grouped) are in the head's groups of 4 and the call is long enough for
    // every recipe to be the long-call one: a call of `padded` of those rows rounds each of them the same way.
    const int64_t grouped = n - n % 4;
    const int64_t k = int64_t(rows.size());
    const int64_t padded = std::max(kernels::kRowCountRecipesBelow, (k + 3) / 4 * 4);
    Batch b = Batch::sequence(tokens, 0, 0, /*all_logits=*/true);
    if (grouped >= kernels::kRowCountRecipesBelow && rows.back() < grouped) {
        std::fill(b.logits.begin(), b.logits.end(), 0);
        for (int64_t r : rows) b.logits[size_t(r)] = 1;
        for (int64_t r = 0, added = k; added < padded; ++r)
            if (!b.logits[size_t(r)]) {
                b.logits[size_t(r)] = 1;
                ++added;
            }
    }
    LOOM_TRY(exec::Memory scratch, exec::Memory::create(model_->memory_layout(), 1, n, opt_.kv_type, /*max_pass=*/0));
    LOOM_RETURN_IF_ERROR(forward(b, scratch));
    // The rows asked for, moved to the front in order (a row only ever moves down).
    const int64_t V = model_->n_vocab();
    int64_t out = 0, at = 0;
    for (int64_t p = 0; p < n; ++p) {
        if (!b.logits[size_t(p)]) continue;
        if (out < k && rows[size_t(out)] == p) {
            if (at != out) std::memmove(logits_.data() + out * V, logits_.data() + at * V, size_t(V) * 4);
            ++out;
        }
        ++at;
    }
    return TensorView::dense(logits_.data(), DType::f32, {k, V});
}

Result<TensorView> Session::stateless(std::span<const std::vector<int32_t>> seqs) { return stateless(seqs, {}); }

Result<TensorView> Session::stateless(std::span<const std::vector<int32_t>> seqs,
                                      std::span<const std::vector<int64_t>> rows) {
    if (seqs.empty() || int64_t(seqs.size()) > opt_.n_seq)
        return Error::invalid("stateless pass of {} sequences (1..{})", seqs.size(), opt_.n_seq);
    if (!rows.empty() && rows.size() != seqs.size())
        return Error::invalid("stateless pass: {} row lists for {} sequences", rows.size(), seqs.size());
    Batch b;
    size_t longest = 0;
    for (size_t i = 0; i < seqs.size(); ++i) {
        if (seqs[i].empty()) return Error::invalid("stateless pass: sequence {} is empty", i);
        if (!rows.empty())
            LOOM_RETURN_IF_ERROR(
                check_rows(rows[i], int64_t(seqs[i].size()), fmt::format("stateless pass: sequence {}", i)));
        longest = std::max(longest, seqs[i].size());
        const size_t first = b.tokens.size();
        for (size_t p = 0; p < seqs[i].size(); ++p) {
            b.tokens.push_back(seqs[i][p]);
            b.pos.push_back(int32_t(p));
            b.seq.push_back(int32_t(i));
            b.logits.push_back(rows.empty() ? 1 : 0);
        }
        if (!rows.empty())
            for (int64_t r : rows[i]) b.logits[first + size_t(r)] = 1;
    }
    LOOM_TRY(exec::Memory scratch, exec::Memory::create(model_->memory_layout(), int(seqs.size()), int64_t(longest),
                                                        opt_.kv_type, /*max_pass=*/0));
    return forward(b, scratch);
}

Result<TensorView> Session::forward(const Batch& batch, exec::Memory& memory) {
    const int64_t n = int64_t(batch.tokens.size());
    if (n == 0) return Error::invalid("empty batch");
    if (int64_t(batch.pos.size()) != n || (!batch.seq.empty() && int64_t(batch.seq.size()) != n) ||
        (!batch.logits.empty() && int64_t(batch.logits.size()) != n))
        return Error::invalid("batch: tokens, pos, seq and logits must have the same length");
    const Model& m = *model_;
    for (int64_t i = 0; i < n; ++i) {
        if (batch.tokens[size_t(i)] < 0 || batch.tokens[size_t(i)] >= m.n_vocab())
            return Error::invalid("batch: token {} at index {} is outside the vocabulary of {}",
                                  batch.tokens[size_t(i)], i, m.n_vocab());
    }

    // Segments: runs of one sequence with increasing positions.
    blocks::Pass pass;
    for (int64_t i = 0; i < n; ++i) {
        const int seq = batch.seq.empty() ? 0 : batch.seq[size_t(i)];
        if (seq < 0 || seq >= opt_.n_seq)
            return Error::invalid("batch: sequence {} outside 0..{}", seq, opt_.n_seq - 1);
        if (!pass.segments.empty() && pass.segments.back().seq == seq) {
            if (batch.pos[size_t(i)] <= batch.pos[size_t(i - 1)])
                return Error::invalid("batch: positions of sequence {} must increase (index {})", seq, i);
            ++pass.segments.back().count;
        } else {
            for (const auto& s : pass.segments)
                if (s.seq == seq) return Error::invalid("batch: tokens of sequence {} are not consecutive", seq);
            pass.segments.push_back({seq, i, 1});
        }
    }
    // Every segment is checked before any takes its slots, so a refused batch changes nothing.
    for (const auto& s : pass.segments)
        LOOM_RETURN_IF_ERROR(memory.check_reserve(s.seq, batch.pos.data() + s.first, s.count));
    for (auto& s : pass.segments) {
        LOOM_TRY(s.first_slot, memory.reserve(s.seq, batch.pos.data() + s.first, s.count));
    }
    std::vector<int32_t> out_rows;
    for (int64_t i = 0; i < n; ++i)
        if (batch.logits.empty() ? i == n - 1 : batch.logits[size_t(i)] != 0) out_rows.push_back(int32_t(i));

    exec::Exec& ex = *exec_;
    ex.begin();
    // A decode step of several sequences (one token each) rounds every row as that sequence alone would:
    // llama.cpp picks its kernels by the number of tokens in a call, and a sequence's output must not depend
    // on what else is decoding beside it.
    bool one_token_each = pass.segments.size() > 1;
    for (const auto& s : pass.segments) one_token_each = one_token_each && s.count == 1;
    ex.set_rows_alone(one_token_each);
    pass.tokens = ex.tensor(DType::i32, {n});
    pass.pos = ex.tensor(DType::i32, {n});
    pass.pos4 = ex.tensor(DType::i32, {4, n});
    std::memcpy(pass.tokens.data, batch.tokens.data(), size_t(n) * 4);
    std::memcpy(pass.pos.data, batch.pos.data(), size_t(n) * 4);
    for (int stream = 0; stream < 3; ++stream)
        std::memcpy(pass.pos4.row<int32_t>(stream), batch.pos.data(), size_t(n) * 4);
    std::fill_n(pass.pos4.row<int32_t>(3), n, 0);
    pass.memory = &memory;

    TensorView h = run_chain(ex, m.input(), {}, pass);
    for (const SideInput& side : m.side_inputs())
        if (!ex.failed()) pass.side[side.name] = ex.name(run_chain(ex, side.chain, h, pass), side.name);
    const exec::Arena::Mark layer_start = ex.mark();  // h, the side inputs (and the batch) live below it
    for (int64_t l = 0; l < m.n_layer() && !ex.failed(); ++l) {
        pass.layer = l;
        for (const LayerStep& step : m.layers()[size_t(l)].steps) {
            const TensorView y = run_chain(ex, step.chain, h, pass);
            if (ex.failed()) break;
            if (!step.replace) {
                ex.add(h, y);
            } else if (y.n_rows() == h.n_rows() && y.row_length() == h.row_length()) {
                if (y.data != h.data) ex.convert(y, h);  // h stays where it is, below the layer's arena mark
            } else {
                ex.fail(Error::invalid("{}: layer {}: a replace step gives {}, but the residual stream is {}",
                                       m.arch().path, l, shape_string(y), shape_string(h)));
            }
        }
        ex.name(h, fmt::format("l{}.out", l));
        if (ex.failed()) break;
        ex.release(layer_start);  // the layer's intermediates are dead; h was updated in place
    }
    pass.layer = -1;
    // Only the rows whose logits are wanted go through the output chain (the head is the largest matmul).
    if (out_rows.empty() && !ex.failed()) {  // a part of a longer batch that wants none (decode splits batches)
        logits_.clear();
        return TensorView::dense(logits_.data(), DType::f32, {0, m.n_vocab()});
    }
    TensorView x = out_rows.size() == size_t(n) ? h : ex.gather_rows(h, out_rows);
    x = run_chain(ex, m.output(), x, pass);
    // A pass that did not complete leaves nothing usable at its positions, and a recurrent state has already taken
    // some of its tokens in some layers, so those sequences start over.
    auto undo = [&] {
        for (const auto& s : pass.segments) {
            if (memory.has_recurrent()) {
                memory.reset(s.seq);
            } else {
                const Status undone = memory.truncate(s.seq, batch.pos[size_t(s.first)]);
                LOOM_ASSERT(undone.ok(), "undoing a failed pass: {}", undone.error().message());
            }
        }
    };
    auto failure = [&](Error e) -> Error {
        undo();
        if (!memory.has_recurrent()) return e;
        return Error::make(e.code(), "{} (the recurrent state of the pass's sequences was reset to empty)",
                           e.message());
    };
    if (ex.failed()) return failure(ex.status().error());
    if (x.row_length() != m.n_vocab() || x.n_rows() != int64_t(out_rows.size()))
        return failure(Error::invalid("{}: the output chain gives {}, expected [{}, {}] logits", m.arch().path,
                                      shape_string(x), out_rows.size(), m.n_vocab()));
    logits_.resize(size_t(x.n_elements()));
    for (int64_t r = 0; r < x.n_rows(); ++r)
        std::memcpy(logits_.data() + r * m.n_vocab(), x.row<float>(r), size_t(m.n_vocab()) * 4);
    return TensorView::dense(logits_.data(), DType::f32, {x.n_rows(), m.n_vocab()});
}

}  // namespace loom::runtime
