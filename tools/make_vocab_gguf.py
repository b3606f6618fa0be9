#!/usr/bin/env python3
"""Write a vocabulary-only GGUF from a Hugging Face tokenizer.json, so that llama.cpp and loom can
tokenize with a real BPE vocabulary that no GGUF file here carries.

The file has the tokenizer.* keys as llama.cpp's converter writes them (tokens, token types, merges,
special ids, add_bos) plus the few llama hyperparameters llama.cpp reads before it looks at the vocab,
and no tensors. Token types: the vocabulary proper is normal; added tokens are control when marked
special, user-defined otherwise (as convert_hf_to_gguf does). The pre-tokenizer name is chosen by the
caller: one real vocabulary can thus exercise several regex sets.

Usage: make_vocab_gguf.py TOKENIZER_JSON OUT.gguf --pre llama-bpe --bos '<|begin_of_text|>'
           --eos '<|end_of_text|>' [--add-bos | --no-add-bos] [--name NAME]
"""

import argparse
import json
import sys

import gguf

NORMAL, CONTROL, USER_DEFINED = 1, 3, 4


def load_vocab(path):
    j = json.load(open(path, encoding="utf-8"))
    model = j["model"]
    if model["type"] != "BPE":
        sys.exit(f"{path}: model type {model['type']}, expected BPE")
    by_id = {i: (t, NORMAL) for t, i in model["vocab"].items()}
    for a in j.get("added_tokens", []):
        by_id[a["id"]] = (a["content"], CONTROL if a.get("special") else USER_DEFINED)
    n = max(by_id) + 1
    tokens, types = [], []
    for i in range(n):
        t, ty = by_id.get(i, (f"[PAD{i}]", USER_DEFINED))  # holes, as the converter fills them
        tokens.append(t)
        types.append(ty)
    merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
    return tokens, types, merges


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tokenizer_json")
    ap.add_argument("out")
    ap.add_argument("--pre", required=True, help="tokenizer.ggml.pre")
    ap.add_argument("--bos", required=True, help="text of the BOS token")
    ap.add_argument("--eos", required=True, help="text of the EOS token")
    ap.add_argument("--add-bos", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--name", default="vocab")
    a = ap.parse_args()

    tokens, types, merges = load_vocab(a.tokenizer_json)
    ids = {t: i for i, t in enumerate(tokens)}
    w = gguf.GGUFWriter(a.out, "llama")
    w.add_name(a.name)
    # Hyperparameters llama.cpp reads even for a vocabulary-only load (values are placeholders).
    w.add_context_length(4096)
    w.add_embedding_length(64)
    w.add_block_count(1)
    w.add_feed_forward_length(128)
    w.add_head_count(1)
    w.add_head_count_kv(1)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(64)
    w.add_vocab_size(len(tokens))
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(a.pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(ids[a.bos])
    w.add_eos_token_id(ids[a.eos])
    w.add_add_bos_token(a.add_bos)
    w.add_add_eos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    print(f"{a.out}: {len(tokens)} tokens, {len(merges)} merges, pre {a.pre}")


if __name__ == "__main__":
    main()
