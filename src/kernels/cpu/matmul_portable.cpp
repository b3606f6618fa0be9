// The portable matmul variant: activations packed by ref::quantize_row into the GGUF block formats, tiles
// computed by the reference dot products (ref/vec_dot.h), threaded by the driver. Every type is here, so it is
// also the generic fallback that the AVX2 variant keeps for the types without an AVX2 kernel of their own.
#include <algorithm>
#include <vector>

#include "core/cpu_features.h"
#include "kernels/cpu/matmul_kernels.h"
#include "kernels/ref/quant.h"
#include "kernels/ref/vec_dot.h"

namespace loom::kernels::cpu {
namespace {

template <DType A>
int64_t act_bytes(int64_t n_in) {
    return row_bytes(A, n_in);
}

template <DType A>
void pack(const float* x, uint8_t* dst, int64_t n_in) {
    const Status st = ref::quantize_activations(A, x, dst, n_in);
    LOOM_ASSERT(st.ok(), "pack {}: {}", A, st.error().message());
}

// Each output is one reference dot product over [k0, k1) (whole blocks of both types).
template <DType W, DType A, ref::VecDotFn Dot>
void gemm_ref_dot(const GemmTile& g) {
    const int64_t w_off = row_bytes(W, g.k0), a_off = row_bytes(A, g.k0);
    for (int64_t t = 0; t < g.n_tok; ++t) {
        const uint8_t* a = g.a + t * g.a_stride + a_off;
        float* y = g.y_rows[t] + g.y_col;
        for (int64_t o = 0; o < g.n_out; ++o) {
            const float v = Dot(g.k1 - g.k0, g.w + o * g.w_stride + w_off, a);
            y[o] = g.accumulate ? y[o] + v : v;
        }
    }
}

template <DType W, DType A, ref::VecDotFn Dot>
TypeKernels entry(const char* label) {
    TypeKernels k;
    k.weight = W;
    k.act_row_bytes = act_bytes<A>;
    k.pack_act = pack<A>;
    k.gemm = gemm_ref_dot<W, A, Dot>;
    k.k_step = info(W).block_elems;
    k.label = label;
    return k;
}

struct PortableTable {
    std::vector<TypeKernels> types;
    MatmulKernels kernels;

    PortableTable() {
        using D = DType;
        types = {
            entry<D::q4_0, D::q8_0, ref::vec_dot_q4_0_q8_0>("q4_0 portable (ref dot)"),
            entry<D::q4_1, D::q8_1, ref::vec_dot_q4_1_q8_1>("q4_1 portable (ref dot)"),
            entry<D::q5_0, D::q8_0, ref::vec_dot_q5_0_q8_0>("q5_0 portable (ref dot)"),
            entry<D::q5_1, D::q8_1, ref::vec_dot_q5_1_q8_1>("q5_1 portable (ref dot)"),
            entry<D::q8_0, D::q8_0, ref::vec_dot_q8_0_q8_0>("q8_0 portable (ref dot)"),
            entry<D::iq4_nl, D::q8_0, ref::vec_dot_iq4_nl_q8_0>("iq4_nl portable (ref dot)"),
            entry<D::q2_k, D::q8_k, ref::vec_dot_q2_k_q8_k>("q2_k portable (ref dot)"),
            entry<D::q3_k, D::q8_k, ref::vec_dot_q3_k_q8_k>("q3_k portable (ref dot)"),
            entry<D::q4_k, D::q8_k, ref::vec_dot_q4_k_q8_k>("q4_k portable (ref dot)"),
            entry<D::q5_k, D::q8_k, ref::vec_dot_q5_k_q8_k>("q5_k portable (ref dot)"),
            entry<D::q6_k, D::q8_k, ref::vec_dot_q6_k_q8_k>("q6_k portable (ref dot)"),
            entry<D::iq4_xs, D::q8_k, ref::vec_dot_iq4_xs_q8_k>("iq4_xs portable (ref dot)"),
            entry<D::f16, D::f16, ref::vec_dot_f16_f16>("f16 portable (ref dot)"),
            entry<D::bf16, D::bf16, ref::vec_dot_bf16_bf16>("bf16 portable (ref dot)"),
        };
        kernels.name = "portable";
        kernels.types = types.data();
        kernels.n_types = int(types.size());
        kernels.f32 = entry<D::f32, D::f32, ref::vec_dot_f32_f32>("f32 portable (ref dot)");
    }
};

// Jobs of at least this many tokens take the f32 prefill path unless the type says otherwise (measured crossover
// on Zen 1 for Q8_0, Q6_K and F16: below it the per-call decoding of the weights and the 16-token padding cost
// more than the faster f32 FMAs save).
constexpr int64_t kSgemmMinTokens = 32;
static_assert(kSgemmMinTokens <= kRowCountRecipesBelow, "a row count that picks a recipe must be below it");

// The AVX2 variant: the portable table with every type the AVX2 TUs implement swapped in.
struct Avx2Table {
    std::vector<TypeKernels> types;
    MatmulKernels kernels;

    explicit Avx2Table(const MatmulKernels& portable) {
        const Avx2Kernels fast = avx2_fast_kernels();
        types.assign(portable.types, portable.types + portable.n_types);
        for (int i = 0; i < fast.n_types; ++i) {
            const TypeKernels& f = fast.types[i];
            auto same = [&](const TypeKernels& t) { return t.weight == f.weight && t.layout == f.layout; };
            if (auto it = std::find_if(types.begin(), types.end(), same); it != types.end()) *it = f;
            else types.push_back(f);  // a packed layout: AVX2 only
        }
        kernels.name = "avx2";
        kernels.types = types.data();
        kernels.n_types = int(types.size());
        kernels.f32 = fast.f32 ? *fast.f32 : portable.f32;
        kernels.sgemm = fast.sgemm;
        kernels.interleave16 = fast.interleave16;
        kernels.sgemm_min_tokens = kSgemmMinTokens;
    }
};

// The AVX-512 variant: the AVX2 table with the AVX-512 tiles swapped in.
struct Avx512Table {
    std::vector<TypeKernels> types;
    MatmulKernels kernels;

    explicit Avx512Table(const MatmulKernels& avx2) {
        const Avx512Kernels fast = avx512_fast_kernels();
        kernels = avx2;
        auto tile_for = [&](DType w, PackedLayout layout) -> const GemmOverride* {
            for (int i = 0; i < fast.n_tiles; ++i)
                if (fast.tiles[i].weight == w && fast.tiles[i].layout == layout) return &fast.tiles[i];
            return nullptr;
        };
        // A packed layout stays where it has an AVX-512 tile of its own (Q4_0, Q4_K), and for types with no AVX-512
        // tile at all (Q6_K: the packed AVX2 tile is the faster of those); a type whose AVX-512 tile reads only the
        // GGUF layout would keep that layout and its memory.
        for (int i = 0; i < avx2.n_types; ++i) {
            const TypeKernels& t = avx2.types[i];
            const GemmOverride* own = tile_for(t.weight, t.layout);
            if (t.layout != PackedLayout::none && !own && tile_for(t.weight, PackedLayout::none)) continue;
            types.push_back(t);
            if (own) {
                types.back().gemm = own->gemm;
                types.back().label = own->label;
            }
        }
        kernels.name = "avx512";
        kernels.types = types.data();
        kernels.n_types = int(types.size());
    }
};

}  // namespace

const MatmulKernels& portable_matmul_kernels() {
    static const PortableTable table;
    return table.kernels;
}

const MatmulKernels* avx2_matmul_kernels() {
#if defined(__x86_64__)
    static const Avx2Table table(portable_matmul_kernels());
    return &table.kernels;
#else
    return nullptr;
#endif
}

const MatmulKernels* avx512_matmul_kernels() {
#if defined(__x86_64__)
    static const Avx512Table table(*avx2_matmul_kernels());
    return &table.kernels;
#else
    return nullptr;
#endif
}

}  // namespace loom::kernels::cpu
