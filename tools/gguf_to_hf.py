#!/usr/bin/env python3
"""Writes a llama-family GGUF (F32, F16 or BF16 tensors) as the Hugging Face directory it would have been converted
from: config.json, model.safetensors (or shards with --shards N and model.safetensors.index.json), Q/K rows put back
in Hugging Face's rotate-half order (the inverse of convert_hf_to_gguf.py's LlamaModel.permute). For measuring
`loom run -m DIR` against `-m FILE.gguf` on the same weights (a benchmark aid; the bit-equality tests do the same in
C++, tests/unit/runtime/hf_directory_test.cpp). Needs numpy and the gguf package (tools/requirements.txt).

    python3 tools/gguf_to_hf.py model.gguf out_dir [--shards 2]
"""
import argparse
import json
import struct
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType

DTYPES = {GGMLQuantizationType.F32: ("F32", 4), GGMLQuantizationType.F16: ("F16", 2),
          GGMLQuantizationType.BF16: ("BF16", 2)}
NAMES = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
         "output.weight": "lm_head.weight"}
LAYER = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
         "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
         "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}
CONFIG = {"block_count": "num_hidden_layers", "context_length": "max_position_embeddings",
          "embedding_length": "hidden_size", "feed_forward_length": "intermediate_size",
          "attention.head_count": "num_attention_heads", "attention.head_count_kv": "num_key_value_heads",
          "attention.layer_norm_rms_epsilon": "rms_norm_eps", "rope.freq_base": "rope_theta"}


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.parts[f.data[0]].tolist()[0]


def hf_name(name):
    if name in NAMES:
        return NAMES[name]
    _, layer, what, kind = name.split(".")
    return f"model.layers.{layer}.{LAYER[what]}.{kind}"


def unpermute(rows, heads):
    """GGUF rows (per head: adjacent pairs) → Hugging Face rows (per head: first halves, then second halves)."""
    n = rows.shape[0]
    return rows.reshape(heads, n // heads // 2, 2, -1).swapaxes(1, 2).reshape(rows.shape)


def write_safetensors(path, tensors):
    header, offset = {}, 0
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(text)) + text)
        for _, _, _, data in tensors:
            out.write(data)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("out")
    ap.add_argument("--shards", type=int, default=1)
    a = ap.parse_args()
    r = GGUFReader(a.gguf)
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
    if arch != "llama":
        raise SystemExit(f"{a.gguf}: architecture {arch}: this tool writes llama checkpoints only")
    heads = field(r, "llama.attention.head_count")
    kv_heads = field(r, "llama.attention.head_count_kv") or heads
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama"}
    for key, hf in CONFIG.items():
        v = field(r, f"llama.{key}")
        if v is not None:
            config[hf] = v
    tensors = []
    for t in r.tensors:
        if t.tensor_type not in DTYPES:
            raise SystemExit(f"{t.name}: type {t.tensor_type.name}: only F32, F16 and BF16 are written")
        dtype, size = DTYPES[t.tensor_type]
        shape = [int(d) for d in reversed(t.shape.tolist())]
        rows = np.frombuffer(t.data.tobytes(), dtype=np.uint8).reshape(shape[0], -1)
        if t.name.endswith(("attn_q.weight", "attn_q.bias")):
            rows = unpermute(rows, heads)
        elif t.name.endswith(("attn_k.weight", "attn_k.bias")):
            rows = unpermute(rows, kv_heads)
        if t.name == "token_embd.weight":
            config["vocab_size"] = shape[0]
        tensors.append((hf_name(t.name), dtype, shape, rows.tobytes()))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(config, indent=2))
    if a.shards == 1:
        write_safetensors(out / "model.safetensors", tensors)
        return
    weight_map = {}
    for i in range(a.shards):
        part = tensors[i::a.shards]
        name = f"model-{i + 1:05d}-of-{a.shards:05d}.safetensors"
        write_safetensors(out / name, part)
        weight_map.update({t[0]: name for t in part})
    (out / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))


if __name__ == "__main__":
    main()
