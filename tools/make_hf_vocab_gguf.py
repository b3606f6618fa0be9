#!/usr/bin/env python3
"""Write the vocabulary-only GGUF that llama.cpp's converter makes from a Hugging Face directory whose tokenizer.json
is a BPE with byte fallback, read by gguf-py's LlamaHfVocab through transformers: the reference that loom's
RawVocab::from_hf_byte_fallback is checked against (tests/unit/tokenizer/hf_fallback_vocab_test.cpp).

The converter module imports torch, so this takes one family's set_vocab method, unchanged, from the pinned source by
name (ast), with the vocabulary readers of TextModel (conversion/base.py) it may call, and runs it with gguf-py from
the same sdist on a stand-in `self` whose hparams are the directory's config.json. Needs transformers (the pinned
converter asks for 4.57.6) and its tokenizers.

Usage: make_hf_vocab_gguf.py DIR OUT.gguf [--model-class Gemma4Model] [--source conversion/gemma.py]
                             [--llama-cpp PATH]
  PATH: the llama.cpp tree of the pinned llama-cpp-python sdist (default: ~/.cache/loom/llama.cpp-0.3.36/
  llama_cpp_python-0.3.36/vendor/llama.cpp).
Then compare: make_hf_vocab_gguf.py --compare OUT.gguf REFERENCE.gguf prints every tokenizer.* key that differs.
"""

import argparse
import ast
import json
import logging
import sys
from pathlib import Path

DEFAULT_LLAMA_CPP = Path.home() / ".cache/loom/llama.cpp-0.3.36/llama_cpp_python-0.3.36/vendor/llama.cpp"


# The methods of conversion/base.py that a family's set_vocab calls to read a vocabulary (those that need no weights).
BASE_METHODS = [("TextModel", "_set_vocab_sentencepiece"), ("TextModel", "_create_vocab_sentencepiece"),
                ("TextModel", "_set_vocab_llama_hf"), ("ModelBase", "find_hparam")]


def method_of(source, class_name, method):
    """`class_name.method` of the converter file `source`, as written there, as a module defining a plain function."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == method:
                    item.decorator_list = []
                    return ast.Module(body=[item], type_ignores=[])
    sys.exit(f"{source}: no {class_name}.{method}")


def tokenizer_keys(path, gguf):
    r = gguf.GGUFReader(path)
    out = {}
    for k, f in r.fields.items():
        if k.startswith("tokenizer."):
            out[k] = f.contents()
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--model-class", default="Gemma4Model")
    ap.add_argument("--source", default="conversion/gemma.py")
    ap.add_argument("--llama-cpp", type=Path, default=DEFAULT_LLAMA_CPP)
    ap.add_argument("--compare", action="store_true", help="compare the tokenizer keys of the two GGUF files")
    a = ap.parse_args()

    sys.path.insert(0, str(a.llama_cpp / "gguf-py"))
    import gguf  # the sdist's gguf-py, not an installed one

    if a.compare:
        got, want = tokenizer_keys(a.dir, gguf), tokenizer_keys(a.out, gguf)
        bad = 0
        for k in sorted(set(got) | set(want)):
            if got.get(k) != want.get(k):
                bad += 1
                g, w = got.get(k), want.get(k)
                if isinstance(g, list) and isinstance(w, list) and len(g) == len(w):
                    i = next(i for i in range(len(g)) if g[i] != w[i])
                    print(f"{k}[{i}]: {g[i]!r} != {w[i]!r}")
                else:
                    print(f"{k}: {str(g)[:80]} != {str(w)[:80]}")
        print(f"{len(set(got) | set(want))} keys, {bad} differ")
        sys.exit(1 if bad else 0)

    env = {"gguf": gguf, "json": json, "logger": logging.getLogger("convert"), "Path": Path}
    exec("from __future__ import annotations\nfrom typing import Any, Iterable, Sequence", env)

    class Model:
        pass

    methods = [(a.llama_cpp / a.source, a.model_class, "set_vocab")]
    methods += [(a.llama_cpp / "conversion/base.py", c, m) for c, m in BASE_METHODS]
    for source, class_name, name in methods:
        exec(compile(method_of(source, class_name, name), str(source), "exec"), env)
        setattr(Model, name, env[name])

    m = Model()
    m.dir_model = Path(a.dir)
    config = Path(a.dir) / "config.json"
    m.hparams = json.loads(config.read_text(encoding="utf-8")) if config.is_file() else {}
    m.origin_hf_arch = (m.hparams.get("architectures") or [None])[0]
    m.is_mistral_format = False
    m.gguf_writer = gguf.GGUFWriter(a.out, "llama")
    m.set_vocab()
    w = m.gguf_writer
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
