#!/usr/bin/env python3
"""Times Hugging Face `tokenizers` (PyPI) single-threaded on the text that bench/tokenizer_bench writes, for
comparison with loom's MB/s: the whole text in one call, then paragraph by paragraph.

    LOOM_BENCH_TEXT_OUT=/tmp/bench_text.txt build/release/bench/tokenizer_bench
    python3 tools/bench_hf_tokenizers.py TOKENIZER_JSON /tmp/bench_text.txt
"""
import os
import sys
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

import tokenizers  # noqa: E402


def best_of(n, f):
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        r = f()
        best = min(best, time.perf_counter() - t)
    return best, r


def main():
    tok = tokenizers.Tokenizer.from_file(sys.argv[1])
    text = open(sys.argv[2], encoding="utf-8").read()
    mib = len(text.encode()) / 2**20
    paras = [p + "\n\n" for p in text.split("\n\n")]
    t, ids = best_of(3, lambda: tok.encode(text, add_special_tokens=False).ids)
    print(f"tokenizers {tokenizers.__version__}, whole text: {mib / t:.2f} MiB/s, {len(ids)} tokens")
    t, n = best_of(3, lambda: sum(len(tok.encode(p, add_special_tokens=False).ids) for p in paras))
    print(f"tokenizers {tokenizers.__version__}, by paragraph: {mib / t:.2f} MiB/s, {n} tokens")


if __name__ == "__main__":
    main()
