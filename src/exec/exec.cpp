// Exec: arena, op dispatch with sticky errors, and the few data moves that are not kernels
// (row gathers and KV conversions, which are memory copies of a few rows per token).
#include "exec/exec.h"

#include <cstring>

#include "core/half.h"
#include "kernels/registry.h"

namespace loom::exec {

// ---- Arena -------------------------------------------------------------------------------------

void* Arena::alloc(size_t bytes) {
    bytes = (bytes + 63) & ~size_t(63);
    while (cur_ < chunks_.size() && chunks_[cur_].used + bytes > chunks_[cur_].size) {
        if (cur_ + 1 == chunks_.size()) {
            cur_ = chunks_.size();
            break;
        }
        chunks_[++cur_].used = 0;
    }
    if (cur_ >= chunks_.size()) {
        Chunk c;
        c.size = std::max<size_t>(bytes, std::max<size_t>(size_t(1) << 20, chunks_.empty() ? 0 : chunks_.back().size));
        // 64-byte alignment: new[] of uint8_t only guarantees 16, so over-allocate and align by hand.
        c.data.reset(new uint8_t[c.size + 64]);
        chunks_.push_back(std::move(c));
        cur_ = chunks_.size() - 1;
    }
    Chunk& c = chunks_[cur_];
    uint8_t* base = c.data.get();
    uint8_t* aligned = base + ((64 - reinterpret_cast<uintptr_t>(base) % 64) % 64);
    void* p = aligned + c.used;
    c.used += bytes;
    live_ += bytes;
    high_water_ = std::max(high_water_, live_);
    return p;
}

Arena::Mark Arena::mark() const {
    if (chunks_.empty()) return {};
    return {cur_, chunks_[cur_].used};
}

void Arena::release(Mark m) {
    if (chunks_.empty()) return;
    size_t freed = 0;
    for (size_t i = m.chunk + 1; i <= cur_ && i < chunks_.size(); ++i) freed += chunks_[i].used, chunks_[i].used = 0;
    freed += chunks_[m.chunk].used - m.used;
    chunks_[m.chunk].used = m.used;
    cur_ = m.chunk;
    live_ -= std::min(live_, freed);
}

void Arena::reset() {
    if (chunks_.size() > 1) {  // one chunk big enough for the largest pass seen
        chunks_.clear();
        Chunk c;
        c.size = high_water_ + high_water_ / 8 + 4096;
        c.data.reset(new uint8_t[c.size + 64]);
        chunks_.push_back(std::move(c));
    }
    for (Chunk& c : chunks_) c.used = 0;
    cur_ = 0;
    live_ = 0;
}

// ---- Exec --------------------------------------------------------------------------------------

Exec::Exec(kernels::Backend backend, ThreadPool* pool)
    : backend_(backend), ops_(kernels::op_table(backend)), stream_(std::make_unique<kernels::Stream>()) {
    stream_->backend = backend;
    stream_->pool = pool;
    if (!ops_) status_ = Error::unsupported("backend '{}' is not available in this build", kernels::name(backend));
}

Exec::~Exec() = default;

void Exec::begin() {
    arena_.reset();
    if (ops_) status_ = Ok();
}

void Exec::fail(Error e) {
    if (status_.ok()) status_ = std::move(e);
}

bool Exec::run(Status s, const char* op) {
    if (!s.ok()) fail(std::move(s).error().with_context(op));
    return status_.ok();
}

TensorView Exec::tensor(DType type, std::initializer_list<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    const int64_t row = *(shape.end() - 1);
    const size_t bytes = size_t(loom::row_bytes(type, row) * (row ? n / row : 0));
    return TensorView::dense(arena_.alloc(bytes), type, shape);
}

const TensorView& Exec::name(const TensorView& t, const std::string& name) {
    if (dump_ && !failed() && !t.empty()) dump_(name, t);
    return t;
}

TensorView Exec::matmul(const TensorView& x, const TensorView& w) {
    if (failed()) return {};
    TensorView y = tensor(DType::f32, {x.n_rows(), w.dim(0)});
    kernels::MatmulArgs a{w, x.as_2d(), y};
    a.rows_alone = rows_alone_;
    if (!ops_->matmul)
        return fail(Error::unsupported("matmul is not implemented on {}", kernels::name(backend_))), TensorView{};
    return run(ops_->matmul(a, *stream_), "matmul") ? y : TensorView{};
}

TensorView Exec::get_rows(const TensorView& table, const TensorView& ids) {
    if (failed()) return {};
    TensorView y = tensor(DType::f32, {ids.n_elements(), table.row_length()});
    return run(ops_->get_rows({table, ids, y}, *stream_), "get_rows") ? y : TensorView{};
}

TensorView Exec::matmul_id(const TensorView& x, const TensorView& w, const TensorView& ids,
                           kernels::ExpertRounding rounding) {
    if (failed()) return {};
    if (!ops_->matmul_id)
        return fail(Error::unsupported("matmul_id is not implemented on {}", kernels::name(backend_))), TensorView{};
    const int64_t n = ids.dim(0), n_used = ids.dim(1);
    TensorView x3 = x.rank == 3 ? x : TensorView::dense(x.data, x.dtype, {x.n_rows(), 1, x.row_length()});
    TensorView y = tensor(DType::f32, {n, n_used, w.dim(1)});
    kernels::MatmulIdArgs a{w, x3, ids, y};
    // Rows computed alone (sequences decoded together): every routed row alone too, whatever llama.cpp would batch
    // (per-head matrices included: a sequence decoding alone gives each head one row).
    a.rounding = rounding;
    a.rows_alone = rows_alone_;
    return run(ops_->matmul_id(a, *stream_), "matmul_id") ? y : TensorView{};
}

TensorView Exec::conv1d(const TensorView& x, const TensorView& w, const TensorView& state, TensorView y) {
    if (failed()) return {};
    if (!ops_->conv1d)
        return fail(Error::unsupported("conv1d is not implemented on {}", kernels::name(backend_))), TensorView{};
    if (y.empty()) y = like(x);
    return run(ops_->conv1d({x, w, state, y}, *stream_), "conv1d") ? y : TensorView{};
}

TensorView Exec::delta_net(kernels::DeltaNetArgs a) {
    if (failed()) return {};
    if (!ops_->delta_net)
        return fail(Error::unsupported("delta_net is not implemented on {}", kernels::name(backend_))), TensorView{};
    if (a.out.empty() && a.v.rank == 3) a.out = tensor(DType::f32, {a.v.shape[0], a.v.shape[1], a.v.shape[2]});
    return run(ops_->delta_net(a, *stream_), "delta_net") ? a.out : TensorView{};
}

TensorView Exec::softmax(const TensorView& x) {
    if (failed()) return {};
    TensorView y = like(x);
    kernels::SoftmaxArgs a;
    a.x = x;
    a.y = y;
    return run(ops_->softmax(a, *stream_), "softmax") ? y : TensorView{};
}

Exec::Routing Exec::moe_route(const TensorView& probs, int k, const kernels::MoeRouteArgs& opts) {
    if (failed()) return {};
    if (!ops_->moe_route)
        return fail(Error::unsupported("moe_route is not implemented on {}", kernels::name(backend_))), Routing{};
    kernels::MoeRouteArgs a = opts;
    a.probs = probs.as_2d();
    a.ids = tensor(DType::i32, {a.probs.dim(0), int64_t(k)});
    a.weights = tensor(DType::f32, {a.probs.dim(0), int64_t(k)});
    return run(ops_->moe_route(a, *stream_), "moe_route") ? Routing{a.ids, a.weights} : Routing{};
}

TensorView Exec::weighted_sum(const TensorView& x, const TensorView& w) {
    if (failed()) return {};
    if (!ops_->weighted_sum)
        return fail(Error::unsupported("weighted_sum is not implemented on {}", kernels::name(backend_))), TensorView{};
    TensorView y = tensor(DType::f32, {x.dim(0), x.dim(2)});
    return run(ops_->weighted_sum({x, w, y}, *stream_), "weighted_sum") ? y : TensorView{};
}

TensorView Exec::like(const TensorView& x) {
    TensorView y = x;
    y.dtype = DType::f32;
    y.data = arena_.alloc(size_t(x.n_elements()) * sizeof(float));
    int64_t s = sizeof(float);
    for (int i = y.rank - 1; i >= 0; --i) {
        y.stride[i] = s;
        s *= y.shape[i];
    }
    return y;
}

TensorView Exec::norm(NormKind kind, const TensorView& x, const TensorView& w, float eps, const TensorView& b) {
    if (failed()) return {};
    TensorView y = like(x);  // keeps the caller's shape ([n_tok, n_head, d] for per-head norms)
    kernels::NormArgs a;
    a.kind = kind;
    a.x = x;
    a.w = w;
    a.b = b;
    a.y = y;
    a.eps = eps;
    return run(ops_->norm(a, *stream_), "norm") ? y : TensorView{};
}

void Exec::rope(const TensorView& x, const RopeArgs& opts) {
    if (failed()) return;
    RopeArgs a = opts;
    a.x = x;
    a.y = x;
    run(ops_->rope(a, *stream_), "rope");
}

TensorView Exec::attention(const kernels::AttentionArgs& args) {
    if (failed()) return {};
    kernels::AttentionArgs a = args;
    if (a.out.empty()) a.out = tensor(DType::f32, {a.q.dim(0), a.q.dim(1), a.v.dim(2)});
    return run(ops_->attention(a, *stream_), "attention") ? a.out : TensorView{};
}

TensorView Exec::glu(UnaryOp act, const TensorView& gate, const TensorView& up) {
    if (failed()) return {};
    TensorView y = tensor(DType::f32, {gate.n_rows(), gate.row_length()});
    return run(ops_->glu({act, gate.as_2d(), up.as_2d(), y}, *stream_), "glu") ? y : TensorView{};
}

void Exec::unary(UnaryOp op, const TensorView& x) {
    if (failed()) return;
    run(ops_->unary({op, x, x}, *stream_), "unary");
}

void Exec::add(const TensorView& a, const TensorView& b) {
    if (failed()) return;
    run(ops_->binary({kernels::BinaryOp::add, a.as_2d(), b.rank == 1 ? b : b.as_2d(), a.as_2d()}, *stream_), "add");
}

void Exec::mul(const TensorView& a, const TensorView& b) {
    if (failed()) return;
    run(ops_->binary({kernels::BinaryOp::mul, a.as_2d(), b.rank == 1 ? b : b.as_2d(), a.as_2d()}, *stream_), "mul");
}

void Exec::div(const TensorView& a, const TensorView& b) {
    if (failed()) return;
    run(ops_->binary({kernels::BinaryOp::div, a.as_2d(), b.rank == 1 ? b : b.as_2d(), a.as_2d()}, *stream_), "div");
}

void Exec::scale(const TensorView& x, float s, const TensorView& y) {
    if (failed()) return;
    run(ops_->scale({x, y.empty() ? x : y, s, 0.f}, *stream_), "scale");
}

TensorView Exec::gather_rows(const TensorView& x, const std::vector<int32_t>& rows) {
    if (failed()) return {};
    const int64_t d = x.row_length();
    TensorView y = tensor(DType::f32, {int64_t(rows.size()), d});
    for (size_t i = 0; i < rows.size(); ++i) {
        LOOM_ASSERT(rows[i] >= 0 && rows[i] < x.n_rows(), "gather row {} of {}", rows[i], x.n_rows());
        std::memcpy(y.row<float>(int64_t(i)), x.row<float>(rows[i]), size_t(d) * sizeof(float));
    }
    return y;
}

void Exec::convert(const TensorView& src, const TensorView& dst) {
    if (failed()) return;
    LOOM_ASSERT(src.dtype == DType::f32 && src.n_elements() == dst.n_elements() && src.row_length() == dst.row_length(),
                "convert {} -> {}", shape_string(src), shape_string(dst));
    const int64_t d = src.row_length();
    for (int64_t r = 0; r < src.n_rows(); ++r) {
        const float* s = src.row<float>(r);
        switch (dst.dtype) {
            case DType::f32: std::memcpy(dst.row<float>(r), s, size_t(d) * 4); break;
            case DType::f16: {
                uint16_t* o = dst.row<uint16_t>(r);
                for (int64_t i = 0; i < d; ++i) o[i] = f32_to_f16(s[i]);
                break;
            }
            case DType::bf16: {
                uint16_t* o = dst.row<uint16_t>(r);
                for (int64_t i = 0; i < d; ++i) o[i] = f32_to_bf16(s[i]);
                break;
            }
            default: fail(Error::unsupported("convert: f32 to {} is not supported", loom::name(dst.dtype))); return;
        }
    }
}

}  // namespace loom::exec
