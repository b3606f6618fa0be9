#!/usr/bin/env python3
"""Compare loom's intermediates with llama.cpp's, bit by bit, to find the first op where they part.

  llama_ref dump -m M --tokens-file T --dump-file ref.bin          (tools/llama_ref, llama.cpp's tensors)
  loom eval -m M --tokens-file T --kv-type f32 --dump '*' --dump-file loom.gguf
  python3 tools/compare_dumps.py ref.bin loom.gguf [--all]

Each loom tensor is paired with llama.cpp's by name (the table below: llama.cpp's graph names per layer,
"<name>-<layer>/<op>"); printed per pair, in graph order: elements whose bits differ, the largest difference in
units in the last place (ulp) and relative to the tensor's largest magnitude. Stops after the first layer
with a difference unless --all.
"""

import struct
import sys

import numpy as np

# loom name (with {l} for the layer) -> llama.cpp candidates (first present wins)
PAIRS = [
    ("embed", ["inp_scaled/SCALE", "inp_embd/GET_ROWS", "embd/GET_ROWS"]),
    ("ple", ["inp_per_layer/SCALE"]),  # gemma4's per-layer embeddings (token-major in both)
    ("l{l}.attn_norm", ["attn_norm-{l}/MUL"]),
    ("l{l}.attention.q", ["Qcur-{l}/ROPE", "Qcur_pos-{l}/ROPE"]),
    ("l{l}.attention.k", ["Kcur-{l}/ROPE", "Kcur_pos-{l}/ROPE"]),
    ("l{l}.attention.v", ["Vcur_normed-{l}/RMS_NORM", "Vcur-{l}/ADD", "Vcur-{l}/MUL_MAT", "Vcur-{l}/RESHAPE"]),
    ("l{l}.attention.attn", ["kqv_out-{l}/CONT"]),
    ("l{l}.attention", ["attn_out-{l}/ADD", "attn_out-{l}/MUL_MAT"]),
    ("l{l}.post_attention_norm", ["attn_post_norm-{l}/MUL"]),
    ("l{l}.ffn_norm", ["ffn_norm-{l}/MUL"]),
    ("l{l}.ffn.gate", ["ffn_gate-{l}/MUL_MAT"]),
    ("l{l}.ffn.up", ["ffn_up-{l}/MUL_MAT"]),
    ("l{l}.ffn.glu", ["ffn_swiglu-{l}/SWIGLU", "ffn_geglu-{l}/GEGLU", "ffn_gelu-{l}/GEGLU"]),
    ("l{l}.ffn", ["ffn_out-{l}/MUL_MAT"]),
    ("l{l}.moe.logits", ["ffn_moe_logits-{l}/MUL_MAT"]),
    ("l{l}.moe.probs", ["ffn_moe_probs-{l}/SOFT_MAX", "ffn_moe_probs-{l}/SIGMOID"]),
    ("l{l}.moe.weights", ["ffn_moe_weights_scaled-{l}/SCALE", "ffn_moe_weights_norm-{l}/DIV",
                          "ffn_moe_weights-{l}/GET_ROWS"]),
    ("l{l}.moe.gate", ["ffn_moe_gate-{l}/MUL_MAT_ID"]),
    ("l{l}.moe.up", ["ffn_moe_up-{l}/MUL_MAT_ID"]),
    ("l{l}.moe.glu", ["ffn_moe_swiglu-{l}/SWIGLU", "ffn_moe_geglu-{l}/GEGLU"]),
    ("l{l}.moe.down", ["ffn_moe_down-{l}/MUL_MAT_ID"]),
    ("l{l}.moe.experts", ["ffn_moe_out-{l}/ADD"]),
    ("l{l}.moe.shared", ["ffn_shexp-{l}/MUL_MAT"]),
    ("l{l}.moe.shared_gate", ["ffn_shexp_gate-{l}/DIV", "shared_expert_gate_sigmoid-{l}/SIGMOID"]),
    ("l{l}.moe", ["ffn_out-{l}/ADD", "ffn_moe_out-{l}/ADD"]),
    ("l{l}.post_ffw_norm", ["ffn_post_norm-{l}/MUL"]),
    # gated delta-net layers (qwen35*): the layouts agree where both are token-major
    ("l{l}.delta_net.qkv", ["linear_attn_qkv_mixed-{l}/RESHAPE", "linear_attn_qkv_mixed-{l}/MUL_MAT"]),
    ("l{l}.delta_net.z", ["z-{l}/MUL_MAT"]),
    ("l{l}.delta_net.beta", ["beta_sigmoid-{l}/SIGMOID"]),
    ("l{l}.delta_net.g", ["gate-{l}/MUL"]),
    ("l{l}.delta_net.conv", ["conv_output_silu-{l}/SILU"]),
    ("l{l}.delta_net.gated", ["attn_out_norm-{l}/MUL", "final_output-{l}/RESHAPE"]),
    ("l{l}.delta_net", ["linear_attn_out-{l}/MUL_MAT"]),
    ("l{l}.attention.gated", ["attn_gated-{l}/MUL"]),
    # latent attention (deepseek2): the concatenated queries and keys (llama.cpp's per-head results are head-major)
    ("l{l}.attention.qk", ["Qcur-{l}/CONCAT"]),
    ("l{l}.attention.k", ["Kcur-{l}/CONCAT"]),
    ("l{l}.ple_post_norm", ["per_layer_embd_out-{l}/MUL"]),
    ("l{l}.out", ["l_out-{l}/ADD", "l_out-{l}/MUL"]),
    ("output_norm", ["result_norm/MUL"]),
    ("output", ["result_output/MUL_MAT"]),
    ("logit_softcap", ["result_output/SCALE"]),
]


def read_ref(path):
    out = {}
    with open(path, "rb") as f:
        data = f.read()
    at = 0
    while at < len(data):
        (n,) = struct.unpack_from("<I", data, at)
        at += 4
        name = data[at:at + n].decode()
        at += n
        ne = struct.unpack_from("<4q", data, at)
        at += 32
        count = ne[0] * ne[1] * ne[2] * ne[3]
        arr = np.frombuffer(data, dtype="<f4", count=count, offset=at)
        at += 4 * count
        out.setdefault(name, arr)  # the first computation of a name (a name can be reused by later views)
    return out


def read_loom(path):
    import gguf
    r = gguf.GGUFReader(path)
    return {t.name: np.asarray(t.data, dtype=np.float32).reshape(-1) for t in r.tensors}


def ulp_diff(a, b):
    ia = a.view(np.int32).astype(np.int64)
    ib = b.view(np.int32).astype(np.int64)
    ia = np.where(ia < 0, -(ia & 0x7FFFFFFF), ia)
    ib = np.where(ib < 0, -(ib & 0x7FFFFFFF), ib)
    return np.abs(ia - ib)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show_all = "--all" in sys.argv
    if len(args) != 2:
        sys.exit(__doc__)
    ref, loom = read_ref(args[0]), read_loom(args[1])
    n_layers = 1 + max((int(k[1:].split(".")[0]) for k in loom if k.startswith("l") and k[1:2].isdigit()), default=-1)
    rows = []
    stages = [("input", None)] + [("layer", l) for l in range(n_layers)] + [("output", None)]
    for stage, layer in stages:
        for lname, cands in PAIRS:
            if ("{l}" in lname) != (stage == "layer"):
                continue
            if stage != "layer" and (lname == "embed") != (stage == "input"):
                continue
            name = lname.format(l=layer)
            if name not in loom:
                continue
            rname = next((c.format(l=layer) for c in cands if c.format(l=layer) in ref), None)
            if rname is None:
                print(f"{name:28s} (no llama.cpp tensor among {[c.format(l=layer) for c in cands]})")
                rows.append(name)
                continue
            a, b = ref[rname], loom[name]
            if a.size != b.size:
                print(f"{name:28s} size {b.size} vs {rname} {a.size}")
                rows.append(name)
                continue
            differ = int(np.count_nonzero(a.view(np.int32) != b.view(np.int32)))
            u = ulp_diff(a, b)
            scale = float(np.max(np.abs(a))) or 1.0
            rel = float(np.max(np.abs(a.astype(np.float64) - b))) / scale
            print(f"{name:28s} {rname:26s} differ {differ:7d}/{a.size:<7d} max ulp {int(u.max()):10d}  max rel {rel:.2e}")
            rows.append(name)
        if stage == "layer" and not show_all and any(
                np.count_nonzero(ref[c.format(l=layer)].view(np.int32) != loom[n.format(l=layer)].view(np.int32))
                for n, cs in PAIRS if "{l}" in n and n.format(l=layer) in loom
                for c in cs[:1] if c.format(l=layer) in ref and ref[c.format(l=layer)].size == loom[n.format(l=layer)].size):
            print("(stopping after the first layer with a difference; --all for every layer)")
            break


if __name__ == "__main__":
    main()
