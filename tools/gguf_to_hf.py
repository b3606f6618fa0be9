#!/usr/bin/env python3
"""Writes a GGUF (F32, F16 or BF16 tensors) of family llama, gemma4 or llada-moe as the Hugging Face directory it
would have been converted from: config.json, model.safetensors (or shards with --shards N and
model.safetensors.index.json), each tensor as Hugging Face stores it (the inverse of convert_hf_to_gguf.py):
llama's Q/K rows back in rotate-half order (LlamaModel.permute undone); gemma4's tensors under Hugging Face's
names with no generated rope_freqs (config.json's rope_parameters say how to make it again) and its per-layer
head counts and widths as Gemma4TextConfig keys; llada-moe's experts one tensor each. For measuring
`loom run -m DIR` against `-m FILE.gguf` on the same weights (a benchmark aid; the bit-equality tests do the same in
C++, tests/unit/runtime/hf_directory_test.cpp). A SentencePiece (`llama`) vocabulary is written as tokenizer.model,
tokenizer_config.json and tokenizer.json (write_spm_tokenizer), a `gemma4` one as a byte-fallback BPE tokenizer.json and
tokenizer_config.json (write_byte_fallback_tokenizer); --tokenizer-only writes just those and config.json's
vocab_size, from a GGUF of any family and tensor types (the default Gemma 3 model, say). Needs numpy and the gguf
package (tools/requirements.txt).

    python3 tools/gguf_to_hf.py model.gguf out_dir [--shards 2] [--tokenizer-only]
"""
import argparse
import json
import struct
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGMLQuantizationType

DTYPES = {GGMLQuantizationType.F32: ("F32", 4), GGMLQuantizationType.F16: ("F16", 2),
          GGMLQuantizationType.BF16: ("BF16", 2)}
GLOBAL = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
          "output.weight": "lm_head.weight"}
LAYER = {"attn_norm.weight": "input_layernorm.weight", "attn_q.weight": "self_attn.q_proj.weight",
         "attn_k.weight": "self_attn.k_proj.weight", "attn_v.weight": "self_attn.v_proj.weight",
         "attn_q.bias": "self_attn.q_proj.bias", "attn_k.bias": "self_attn.k_proj.bias",
         "attn_v.bias": "self_attn.v_proj.bias", "attn_output.weight": "self_attn.o_proj.weight",
         "attn_q_norm.weight": "self_attn.q_norm.weight", "attn_k_norm.weight": "self_attn.k_norm.weight",
         "ffn_gate.weight": "mlp.gate_proj.weight", "ffn_up.weight": "mlp.up_proj.weight",
         "ffn_down.weight": "mlp.down_proj.weight"}
# Per family: the layer names that differ from LAYER's, the global ones besides GLOBAL's.
LAYER_BY_ARCH = {
    "llama": {"ffn_norm.weight": "post_attention_layernorm.weight"},
    "llada-moe": {"ffn_norm.weight": "post_attention_layernorm.weight", "ffn_gate_inp.weight": "mlp.gate.weight",
                  "ffn_gate_exps.weight": "mlp.experts.{e}.gate_proj.weight",
                  "ffn_up_exps.weight": "mlp.experts.{e}.up_proj.weight",
                  "ffn_down_exps.weight": "mlp.experts.{e}.down_proj.weight"},
    "gemma4": {"post_attention_norm.weight": "post_attention_layernorm.weight",
               "ffn_norm.weight": "pre_feedforward_layernorm.weight",
               "post_ffw_norm.weight": "post_feedforward_layernorm.weight",
               "pre_ffw_norm_2.weight": "pre_feedforward_layernorm_2.weight",
               "post_ffw_norm_1.weight": "post_feedforward_layernorm_1.weight",
               "post_ffw_norm_2.weight": "post_feedforward_layernorm_2.weight",
               "ffn_gate_inp.weight": "router.proj.weight", "ffn_gate_inp.scale": "router.scale",
               "ffn_down_exps.scale": "router.per_expert_scale",
               "ffn_gate_up_exps.weight": "experts.gate_up_proj", "ffn_down_exps.weight": "experts.down_proj",
               "layer_output_scale.weight": "layer_scalar", "inp_gate.weight": "per_layer_input_gate.weight",
               "proj.weight": "per_layer_projection.weight", "post_norm.weight": "post_per_layer_input_norm.weight"},
}
GLOBAL_BY_ARCH = {
    "gemma4": {"per_layer_token_embd.weight": "model.embed_tokens_per_layer.weight",
               "per_layer_model_proj.weight": "model.per_layer_model_projection.weight",
               "per_layer_proj_norm.weight": "model.per_layer_projection_norm.weight"},
}
CLASSES = {"llama": "LlamaForCausalLM", "gemma4": "Gemma4ForCausalLM", "llada-moe": "LLaDAMoEModelLM"}
CONFIG = {"block_count": "num_hidden_layers", "context_length": "max_position_embeddings",
          "embedding_length": "hidden_size", "feed_forward_length": "intermediate_size",
          "attention.head_count": "num_attention_heads", "attention.head_count_kv": "num_key_value_heads",
          "attention.layer_norm_rms_epsilon": "rms_norm_eps", "rope.freq_base": "rope_theta",
          "attention.key_length": "head_dim", "expert_count": "num_experts",
          "expert_used_count": "num_experts_per_tok", "expert_feed_forward_length": "expert_intermediate_size"}


def values(reader, key):
    f = reader.fields.get(key)
    return None if f is None else [f.parts[i].tolist()[0] for i in f.data]


def field(reader, key):
    v = values(reader, key)
    return None if v is None else v[0]


def hf_name(arch, name):
    if name in GLOBAL:
        return GLOBAL[name]
    if name in GLOBAL_BY_ARCH.get(arch, {}):
        return GLOBAL_BY_ARCH[arch][name]
    _, layer, rest = name.split(".", 2)
    what = LAYER_BY_ARCH.get(arch, {}).get(rest, LAYER.get(rest))
    if what is None:
        raise SystemExit(f"{name}: no Hugging Face name for this {arch} tensor")
    return f"model.layers.{layer}.{what}"


def unpermute(rows, heads):
    """GGUF rows (per head: adjacent pairs) → Hugging Face rows (per head: first halves, then second halves)."""
    n = rows.shape[0]
    return rows.reshape(heads, n // heads // 2, 2, -1).swapaxes(1, 2).reshape(rows.shape)


def gemma4_config(r, config, freqs):
    """Gemma4TextConfig's keys from the GGUF's per-layer arrays and its rope_freqs: the full layers' head size and
    KV heads in per_layer_config (as transformers writes it), attention_k_eq_v when no full layer has a V
    projection."""
    a = "gemma4."
    n = field(r, a + "block_count")
    sliding = values(r, a + "attention.sliding_window_pattern")
    kv = values(r, a + "attention.head_count_kv") or [field(r, a + "attention.head_count")] * n
    kv = kv * n if len(kv) == 1 else kv
    ff = values(r, a + "feed_forward_length")
    ff = ff * n if len(ff) == 1 else ff
    shared = field(r, a + "attention.shared_kv_layers") or 0
    full = [l for l in range(n) if not sliding[l]]
    head_full = field(r, a + "attention.key_length")
    v_on_full = any(t.name == f"blk.{l}.attn_v.weight" for l in full for t in r.tensors)
    config.update({
        "layer_types": ["sliding_attention" if s else "full_attention" for s in sliding],
        "num_key_value_heads": kv[sliding.index(True)] if True in sliding else kv[0],
        "per_layer_config": {str(l): {"head_dim": head_full, "num_key_value_heads": kv[l]} for l in full},
        "attention_k_eq_v": not v_on_full,
        "head_dim": field(r, a + "attention.key_length_swa"),
        "intermediate_size": ff[0], "use_double_wide_mlp": shared > 0 and ff[-1] == 2 * ff[0],
        "num_kv_shared_layers": shared, "sliding_window": field(r, a + "attention.sliding_window"),
        "hidden_size_per_layer_input": field(r, a + "embedding_length_per_layer_input") or None,
        "rope_parameters": {
            "full_attention": {"rope_type": "proportional", "rope_theta": field(r, a + "rope.freq_base"),
                               "partial_rotary_factor": 2 * int(np.sum(freqs == 1.0)) / head_full},
            "sliding_attention": {"rope_type": "default", "rope_theta": field(r, a + "rope.freq_base_swa") or 10000.0}},
    })
    for key in ("rope_theta", "num_experts", "num_experts_per_tok", "expert_intermediate_size"):
        config.pop(key, None)
    if field(r, a + "expert_count"):
        config.update({"enable_moe_block": True, "num_experts": field(r, a + "expert_count"),
                       "top_k_experts": field(r, a + "expert_used_count"),
                       "moe_intermediate_size": field(r, a + "expert_feed_forward_length")})
    if field(r, a + "final_logit_softcapping") is not None:
        config["final_logit_softcapping"] = field(r, a + "final_logit_softcapping")


def proto_varint(v):
    out = bytearray()
    while True:
        out.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
        v >>= 7
        if not v:
            return bytes(out)


def proto_bytes(field, b):
    return proto_varint(field << 3 | 2) + proto_varint(len(b)) + b


def write_spm_tokenizer(r, out):
    """A `llama` (SentencePiece) vocabulary as the files llama.cpp's converter reads it from (_create_vocab_sentencepiece,
    SpecialVocab): tokenizer.model (protobuf, sentencepiece_model.proto) with every token a piece; the control and
    user-defined tokens listed again in tokenizer_config.json's added_tokens_decoder, which gives them their type and
    score -1000 (as in Gemma 3's files); special tokens by text, found in tokenizer.json's added_tokens; BOS added
    through a TemplateProcessing post-processor when the GGUF adds it."""
    tokens = [bytes(r.fields["tokenizer.ggml.tokens"].parts[i]).decode() for i in r.fields["tokenizer.ggml.tokens"].data]
    scores, types = values(r, "tokenizer.ggml.scores"), values(r, "tokenizer.ggml.token_type")
    unk = field(r, "tokenizer.ggml.unknown_token_id")
    model, decoder, added = bytearray(), {}, []
    for i, (t, sc, ty) in enumerate(zip(tokens, scores, types)):
        listed = ty in (3, 4)
        piece_type = 2 if i == unk else ty
        body = proto_bytes(1, t.encode()) + proto_varint(2 << 3 | 5) + struct.pack("<f", 0.0 if listed else sc)
        if piece_type != 1:
            body += proto_varint(3 << 3) + proto_varint(piece_type)
        model += proto_bytes(1, body)
        if listed:
            decoder[str(i)] = {"content": t, "special": ty == 3}
        if ty == 3:
            added.append({"id": i, "content": t, "special": True})
    # trainer_spec: BPE (3), byte_fallback (35: SentencePiece refuses byte pieces without it), unk_id (40);
    # normalizer_spec: add_dummy_prefix (3) as the GGUF's add_space_prefix.
    trainer = proto_varint(3 << 3) + proto_varint(2) + proto_varint(35 << 3) + proto_varint(int(6 in types))
    if unk is not None:
        trainer += proto_varint(40 << 3) + proto_varint(unk)
    model += proto_bytes(2, trainer)
    if (prefix := field(r, "tokenizer.ggml.add_space_prefix")) is not None:
        model += proto_bytes(3, proto_varint(3 << 3) + proto_varint(int(bool(prefix))))
    (out / "tokenizer.model").write_bytes(bytes(model))
    cfg = {"added_tokens_decoder": decoder}
    for key, name in [("bos_token_id", "bos_token"), ("eos_token_id", "eos_token"), ("unknown_token_id", "unk_token"),
                      ("padding_token_id", "pad_token")]:
        if (i := field(r, "tokenizer.ggml." + key)) is not None:
            cfg[name] = tokens[i]
    for key in ("add_bos_token", "add_eos_token"):
        if (v := field(r, "tokenizer.ggml." + key)) is not None:
            cfg[key] = bool(v)
    if "tokenizer.chat_template" in r.fields:
        cfg["chat_template"] = bytes(r.fields["tokenizer.chat_template"].parts[-1]).decode()
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=1, ensure_ascii=False))
    tok = {"added_tokens": added}
    if cfg.get("add_bos_token") and "bos_token" in cfg:
        bos = {"SpecialToken": {"id": cfg["bos_token"], "type_id": 0}}
        tok["post_processor"] = {"type": "TemplateProcessing", "single": [bos, {"Sequence": {"id": "A", "type_id": 0}}],
                                 "pair": [bos, {"Sequence": {"id": "A", "type_id": 0}}, bos,
                                          {"Sequence": {"id": "B", "type_id": 1}}]}
    (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False))


def write_byte_fallback_tokenizer(r, out):
    """A `gemma4` vocabulary as a Hugging Face Gemma tokenizer stores it (what the converter reads through gguf-py's
    LlamaHfVocab and transformers): tokenizer.json a BPE with byte fallback, every token in model.vocab at its id and
    the merges as pairs; control and user-defined tokens as special added tokens; tokenizer_config.json naming the
    special tokens (bos, eos, unk, pad, mask; the other control tokens as additional special tokens)."""
    tokens = [bytes(r.fields["tokenizer.ggml.tokens"].parts[i]).decode() for i in r.fields["tokenizer.ggml.tokens"].data]
    types = values(r, "tokenizer.ggml.token_type")
    merges = [bytes(r.fields["tokenizer.ggml.merges"].parts[i]).decode() for i in r.fields["tokenizer.ggml.merges"].data]
    named = {}
    for key, name in [("bos_token_id", "bos_token"), ("eos_token_id", "eos_token"), ("unknown_token_id", "unk_token"),
                      ("padding_token_id", "pad_token"), ("mask_token_id", "mask_token")]:
        if (i := field(r, "tokenizer.ggml." + key)) is not None:
            named[name] = tokens[i]
    added, decoder, additional = [], {}, []
    for i, (t, ty) in enumerate(zip(tokens, types)):
        if ty in (3, 4):
            entry = {"content": t, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
                     "special": True}
            added.append({"id": i, **entry})
            decoder[str(i)] = entry
            if ty == 3 and t not in named.values():
                additional.append(t)
    tok = {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
           "normalizer": {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"},
           "pre_tokenizer": {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious",
                             "invert": False},
           "post_processor": None,
           "decoder": {"type": "Sequence", "decoders": [
               {"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
               {"type": "ByteFallback"}, {"type": "Fuse"}]},
           "model": {"type": "BPE", "dropout": None, "unk_token": named.get("unk_token"),
                     "continuing_subword_prefix": None, "end_of_word_suffix": None, "fuse_unk": True,
                     "byte_fallback": True, "ignore_merges": False, "vocab": {t: i for i, t in enumerate(tokens)},
                     "merges": [m.split(" ", 1) for m in merges]}}
    (out / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False))
    cfg = {"tokenizer_class": "GemmaTokenizer", "added_tokens_decoder": decoder, **named,
           "additional_special_tokens": additional}
    if "tokenizer.chat_template" in r.fields:
        cfg["chat_template"] = bytes(r.fields["tokenizer.chat_template"].parts[-1]).decode()
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=1, ensure_ascii=False))


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
    ap.add_argument("--tokenizer-only", action="store_true",
                    help="write only the tokenizer files and config.json's vocab_size (any architecture, any tensor types)")
    a = ap.parse_args()
    r = GGUFReader(a.gguf)
    arch = bytes(r.fields["general.architecture"].parts[-1]).decode()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    model = r.fields.get("tokenizer.ggml.model")
    kind = bytes(model.parts[-1]).decode() if model is not None else None
    if kind == "llama":
        write_spm_tokenizer(r, out)
    elif kind == "gemma4":
        write_byte_fallback_tokenizer(r, out)
    if a.tokenizer_only:
        if kind not in ("llama", "gemma4"):
            raise SystemExit(f"{a.gguf}: tokenizer.ggml.model {kind}: only llama (SentencePiece) and gemma4 vocabularies "
                             "are written")
        n_vocab = len(r.fields["tokenizer.ggml.tokens"].data)
        (out / "config.json").write_text(json.dumps({"architectures": [CLASSES.get(arch, arch)], "vocab_size": n_vocab}))
        return
    if arch not in CLASSES:
        raise SystemExit(f"{a.gguf}: architecture {arch}: this tool writes {', '.join(CLASSES)} checkpoints only")
    config = {"architectures": [CLASSES[arch]], "model_type": arch.replace("-", "_")}
    for key, hf in CONFIG.items():
        v = values(r, f"{arch}.{key}")
        if v is not None and len(v) == 1:
            config[hf] = v[0]
    if arch == "llada-moe":
        config["mask_token_id"] = field(r, "tokenizer.ggml.mask_token_id")
    heads = field(r, f"{arch}.attention.head_count")
    kv_heads = field(r, f"{arch}.attention.head_count_kv") or heads
    tensors = []
    for t in r.tensors:
        if t.tensor_type not in DTYPES:
            raise SystemExit(f"{t.name}: type {t.tensor_type.name}: only F32, F16 and BF16 are written")
        dtype, size = DTYPES[t.tensor_type]
        shape = [int(d) for d in reversed(t.shape.tolist())]
        rows = np.frombuffer(t.data.tobytes(), dtype=np.uint8).reshape(shape[0], -1)
        if t.name == "rope_freqs.weight" and arch == "gemma4":  # generated from config.json at load
            gemma4_config(r, config, np.frombuffer(t.data.tobytes(), dtype=np.float32))
            continue
        if arch == "llama" and t.name.endswith(("attn_q.weight", "attn_q.bias")):
            rows = unpermute(rows, heads)
        elif arch == "llama" and t.name.endswith(("attn_k.weight", "attn_k.bias")):
            rows = unpermute(rows, kv_heads)
        if t.name == "token_embd.weight":
            config["vocab_size"] = shape[0]
        name = hf_name(arch, t.name)
        if "{e}" in name:  # stacked experts: one tensor each
            tensors += [(name.format(e=e), dtype, shape[1:], rows[e].tobytes()) for e in range(shape[0])]
        else:
            tensors.append((name, dtype, shape, rows.tobytes()))
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
