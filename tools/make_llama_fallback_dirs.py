#!/usr/bin/env python3
"""Write the Hugging Face tokenizer directories of tests/data/hf/byte-fallback-llama: checkpoints of the llama family
whose only tokenizer is a tokenizer.json BPE with byte fallback (no tokenizer.model), one per way such a repository
names its tokenizer class and special tokens. llama.cpp's converter reads them with gguf-py's LlamaHfVocab; the
reference GGUF beside each (reference.gguf) is what the pinned converter writes for it (tools/make_hf_vocab_gguf.py
--model-class LlamaModel --source conversion/llama.py), and tests/unit/tokenizer/hf_fallback_vocab_test.cpp checks
that loom writes the same tokenizer keys. The vocabulary is small and made up: three control tokens, the 256 byte
tokens, and word pieces with the merges that build them.

Usage: make_llama_fallback_dirs.py OUT_DIR
"""

import json
import sys
from pathlib import Path

SPACE = "\u2581"
WORDS = ["hello", "world", "the", "loom"]


def vocabulary():
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    chars = sorted({c for w in WORDS for c in w} | {SPACE})
    tokens += chars
    merges = []
    for w in WORDS:
        piece = SPACE + w
        for n in range(2, len(piece) + 1):
            if piece[:n] not in tokens:
                tokens.append(piece[:n])
                merges.append([piece[: n - 1], piece[n - 1]])
    return tokens, merges


def added(content, i, special):
    return {"id": i, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": not special, "special": special}


def tokenizer_json(tokens, merges, extra, bos_template):
    vocab = {t: i for i, t in enumerate(tokens)}
    added_tokens = [added(t, i, True) for i, t in enumerate(tokens[:3])]
    added_tokens += [added(t, len(tokens) + k, special) for k, (t, special) in enumerate(extra)]
    post = None
    if bos_template:
        post = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "<s>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
        "pre_tokenizer": None,
        "post_processor": post,
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }


def decoder_entries(tokens, extra):
    out = {str(i): {k: v for k, v in added(t, i, True).items() if k != "id"} for i, t in enumerate(tokens[:3])}
    for k, (t, special) in enumerate(extra):
        out[str(len(tokens) + k)] = {kk: v for kk, v in added(t, len(tokens) + k, special).items() if kk != "id"}
    return out


def write(d, name, data):
    d.mkdir(parents=True, exist_ok=True)
    (d / name).write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = Path(sys.argv[1])
    tokens, merges = vocabulary()
    n = len(tokens)
    chat = "{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + '<|im_end|>\\n' }}{% endfor %}"

    # LlamaTokenizer named, a current config (added_tokens_decoder), added tokens beyond the vocabulary (two special,
    # one not), eos an added token, BOS from the post-processor.
    extra = [("<|im_start|>", True), ("<|im_end|>", True), ("<tool>", False)]
    d = out / "llama-tokenizer"
    write(d, "tokenizer.json", tokenizer_json(tokens, merges, extra, True))
    write(d, "tokenizer_config.json", {
        "tokenizer_class": "LlamaTokenizer", "added_tokens_decoder": decoder_entries(tokens, extra),
        "bos_token": "<s>", "eos_token": "<|im_end|>", "unk_token": "<unk>", "pad_token": None,
        "add_bos_token": True, "add_eos_token": False, "legacy": False, "clean_up_tokenization_spaces": False,
        "model_max_length": 4096, "chat_template": chat})
    write(d, "config.json", {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": n + 3,
                             "bos_token_id": 1, "eos_token_id": n + 1})

    # PreTrainedTokenizerFast: no class defaults, so <unk> is not special; additional and extra special tokens;
    # add_prefix_space in the config; a vocab_size of 49152, for which the converter writes add_bos_token false.
    extra = [("<|im_start|>", True), ("<|im_end|>", True), ("<|pad|>", True)]
    d = out / "fast-tokenizer"
    write(d, "tokenizer.json", tokenizer_json(tokens, merges, extra, False))
    write(d, "tokenizer_config.json", {
        "tokenizer_class": "PreTrainedTokenizerFast", "added_tokens_decoder": decoder_entries(tokens, extra),
        "bos_token": "<s>", "eos_token": "</s>", "pad_token": "<|pad|>",
        "additional_special_tokens": ["<|im_start|>"], "extra_special_tokens": {"end": "<|im_end|>"},
        "add_prefix_space": False, "add_bos_token": True, "model_max_length": 2048})
    write(d, "config.json", {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 49152,
                             "bos_token_id": 1, "eos_token_id": 2})

    # No tokenizer_class: AutoTokenizer takes the model type's (mistral: LlamaTokenizerFast, whose defaults name
    # <unk>, <s>, </s>). A legacy config: no added_tokens_decoder, special_tokens_map.json's values win.
    extra = [("[INST]", True), ("[/INST]", True)]
    d = out / "mistral-legacy"
    write(d, "tokenizer.json", tokenizer_json(tokens, merges, extra, True))
    write(d, "tokenizer_config.json", {"bos_token": "<unk>", "add_bos_token": True, "add_eos_token": False,
                                       "model_max_length": 32768, "chat_template": chat})
    write(d, "special_tokens_map.json", {
        "bos_token": {"content": "<s>", "lstrip": False, "normalized": False, "rstrip": False, "single_word": False},
        "additional_special_tokens": ["[INST]", "[/INST]"]})
    write(d, "config.json", {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "vocab_size": n + 2})

    # CodeLlamaTokenizer: its four infill tokens are additional special tokens, and the two the vocabulary lacks are
    # added after it; a vocab_size of 32016 makes the converter run SpecialVocab over prefix, suffix, middle, eot.
    extra = [("\u2581<PRE>", True), ("\u2581<SUF>", True)]
    d = out / "codellama-tokenizer"
    write(d, "tokenizer.json", tokenizer_json(tokens, merges, extra, True))
    write(d, "tokenizer_config.json", {
        "tokenizer_class": "CodeLlamaTokenizer", "added_tokens_decoder": decoder_entries(tokens, extra),
        "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "eot_token": "\u2581<EOT>",
        "add_bos_token": True, "add_eos_token": False})
    write(d, "config.json", {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 32016})


if __name__ == "__main__":
    main()
