#!/usr/bin/env python3
"""Second reference: Hugging Face `tokenizers` (PyPI) on the golden corpus, against llama.cpp's recorded ids.

loom matches llama.cpp (it must reproduce llama.cpp's logits); this lists where HF differs, so that the
differences are known rather than discovered. Compared: texts that are valid UTF-8; cases with parse_special
(HF always splits added tokens), and cases without it when the text holds no added token; llama.cpp's BOS
(add_special) is dropped, HF runs with add_special_tokens=False.

Usage: compare_hf_tokenizers.py NAME=TOKENIZER_JSON ... [--data tests/data/tokenizer] [--out FILE.md]
"""
import argparse
import gzip
import json
import sys

import tokenizers


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vocab", nargs="+", help="NAME=tokenizer.json (NAME as in <NAME>.ids.gz)")
    ap.add_argument("--data", default="tests/data/tokenizer")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    texts = []
    for line in gzip.open(f"{a.data}/corpus.jsonl.gz", "rt", encoding="utf-8"):
        j = json.loads(line)
        texts.append(j if isinstance(j, str) else None)
    lines = [f"# llama.cpp vs Hugging Face tokenizers {tokenizers.__version__}\n",
             "Written by `tools/compare_hf_tokenizers.py`. loom follows llama.cpp; these are the known differences.\n",
             "Those seen so far are all around code points that Unicode 15.1 (the tables of llama.cpp and loom) leaves "
             "unassigned and that HF's regex engine classifies by a later version (e.g. U+1437A, U+14360, U+1CD2D, "
             "U+1E5EB: assigned in Unicode 16), so that a regex class such as \\p{L} decides differently.\n"]
    for spec in a.vocab:
        name, path = spec.split("=", 1)
        tok = tokenizers.Tokenizer.from_file(path)
        added = {t.content for t in tok.get_added_tokens_decoder().values()}
        bos = None
        compared = differ = 0
        examples = []
        for line in gzip.open(f"{a.data}/{name}.ids.gz", "rt"):
            head, ids = line.rstrip("\n").split(":", 1)
            i, add, parse = map(int, head.split())
            want = list(map(int, ids.split())) if ids else []
            t = texts[i]
            if t is None or (not parse and any(x in t for x in added)):
                continue
            if add and want:
                bos = want[0] if bos is None else bos
                want = want[1:]
            got = tok.encode(t, add_special_tokens=False).ids
            compared += 1
            if got != want:
                differ += 1
                if len(examples) < 8 and all(t != e[0] for e in examples):
                    examples.append((t, want, got))
        lines.append(f"\n## {name}\n\n{compared} cases compared, {differ} differ.\n")
        for t, want, got in examples:
            k = next((j for j in range(min(len(want), len(got))) if want[j] != got[j]), min(len(want), len(got)))
            lo = max(0, k - 2)
            where = tok.decode(want[lo:k + 3])
            lines.append(f"- text {json.dumps(t, ensure_ascii=False)[:60]}: from id {k}, llama.cpp {want[lo:k + 4]}, "
                         f"HF {got[lo:k + 4]} (around {json.dumps(where, ensure_ascii=False)})")
        print(f"{name}: {compared} compared, {differ} differ", file=sys.stderr)
    text = "\n".join(lines) + "\n"
    if a.out:
        open(a.out, "w").write(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
