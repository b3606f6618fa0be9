// Op-level helpers shared by every backend: names and the activation pairing table.
#include "kernels/ops.h"

namespace loom::kernels {

DType paired_act_type(DType w) {
    switch (w) {
        case DType::f32: return DType::f32;
        case DType::f16: return DType::f16;
        case DType::bf16: return DType::bf16;
        case DType::q4_0:
        case DType::q5_0:
        case DType::q8_0:
        case DType::iq4_nl: return DType::q8_0;
        case DType::q4_1:
        case DType::q5_1: return DType::q8_1;
        case DType::q2_k:
        case DType::q3_k:
        case DType::q4_k:
        case DType::q5_k:
        case DType::q6_k:
        case DType::iq4_xs: return DType::q8_k;
        default: return DType::f32;  // types without an integer path are dotted in f32
    }
}

const char* name(UnaryOp op) {
    switch (op) {
        case UnaryOp::identity: return "identity";
        case UnaryOp::silu: return "silu";
        case UnaryOp::gelu_tanh: return "gelu_tanh";
        case UnaryOp::gelu_erf: return "gelu_erf";
        case UnaryOp::gelu_quick: return "gelu_quick";
        case UnaryOp::sigmoid: return "sigmoid";
        case UnaryOp::softplus: return "softplus";
        case UnaryOp::exp: return "exp";
        case UnaryOp::relu: return "relu";
        case UnaryOp::tanh: return "tanh";
        case UnaryOp::neg: return "neg";
        case UnaryOp::sqr: return "sqr";
        case UnaryOp::sqrt: return "sqrt";
    }
    return "?";
}

}  // namespace loom::kernels
