// The reference op table.
#include "kernels/ref/ref_ops.h"

namespace loom::kernels::ref {

OpTable make_op_table() {
    OpTable t{Backend::ref, "ref"};
    t.matmul = matmul;
    t.matmul_id = matmul_id;
    t.get_rows = get_rows;
    t.norm = norm;
    t.rope = rope;
    t.softmax = softmax;
    t.attention = attention;
    t.unary = unary;
    t.binary = binary;
    t.scale = scale;
    t.glu = glu;
    t.top_k = top_k;
    t.moe_route = moe_route;
    t.weighted_sum = weighted_sum;
    t.conv1d = conv1d;
    t.delta_net = delta_net;
    return t;
}

}  // namespace loom::kernels::ref
