#!/usr/bin/env python3
"""Write the vocabulary-only GGUF that llama.cpp's converter makes from a Hugging Face directory with a SentencePiece
tokenizer.model: the reference loom's RawVocab::from_spm is tested against (tests/unit/tokenizer/spm_vocab_test.cpp).

The converter itself is not importable here (it needs torch and transformers), so this takes its functions,
unchanged, from the pinned source by name (ast): TextModel._set_vocab_sentencepiece, _create_vocab_sentencepiece,
does_token_look_special and find_hparam from conversion/base.py, and runs them with gguf-py from the same sdist
(SpecialVocab included) on a stand-in `self` whose hparams are DIR/config.json. Needs the sentencepiece package.

Usage: make_spm_vocab_gguf.py DIR OUT.gguf [--llama-cpp PATH] [--add-space-prefix true|false]
  PATH: the llama.cpp tree of the pinned llama-cpp-python sdist (default: ~/.cache/loom/llama.cpp-0.3.36/
  llama_cpp_python-0.3.36/vendor/llama.cpp). --add-space-prefix writes tokenizer.ggml.add_space_prefix as a
  family's set_vocab does after _set_vocab_sentencepiece (Gemma 3: false).
"""

import argparse
import ast
import json
import logging
import sys
from pathlib import Path

DEFAULT_LLAMA_CPP = Path.home() / ".cache/loom/llama.cpp-0.3.36/llama_cpp_python-0.3.36/vendor/llama.cpp"
FUNCTIONS = ("_set_vocab_sentencepiece", "_create_vocab_sentencepiece", "does_token_look_special", "find_hparam")


def converter_functions(base_py, env):
    """The named methods of conversion/base.py, compiled as they are written there, as plain functions."""
    tree = ast.parse(base_py.read_text(encoding="utf-8"))
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in FUNCTIONS and node.name not in found:
            node.decorator_list = []
            found[node.name] = node
    missing = set(FUNCTIONS) - set(found)
    if missing:
        sys.exit(f"{base_py}: no {', '.join(sorted(missing))}")
    module = ast.Module(body=list(found.values()), type_ignores=[])
    exec(compile(module, str(base_py), "exec"), env)
    return {name: env[name] for name in FUNCTIONS}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("out")
    ap.add_argument("--llama-cpp", type=Path, default=DEFAULT_LLAMA_CPP)
    ap.add_argument("--add-space-prefix", choices=["true", "false"])
    a = ap.parse_args()

    sys.path.insert(0, str(a.llama_cpp / "gguf-py"))
    import gguf  # the sdist's gguf-py, not an installed one
    from enum import IntEnum

    class SentencePieceTokenTypes(IntEnum):  # conversion/base.py's, not exported by gguf-py
        NORMAL = 1
        UNKNOWN = 2
        CONTROL = 3
        USER_DEFINED = 4
        UNUSED = 5
        BYTE = 6

    env = {"gguf": gguf, "json": json, "logger": logging.getLogger("convert"),
           "SentencePieceTokenTypes": SentencePieceTokenTypes, "Path": Path}
    exec("from __future__ import annotations\nfrom typing import Any, Iterable", env)
    fns = converter_functions(a.llama_cpp / "conversion/base.py", env)

    class Model:
        pass

    m = Model()
    m.dir_model = Path(a.dir)
    config = json.loads((m.dir_model / "config.json").read_text(encoding="utf-8"))
    m.hparams = {**config, **config.get("text_config", {})}  # as ModelBase.load_hparams merges a nested config
    m.gguf_writer = gguf.GGUFWriter(a.out, "llama")
    for name, fn in fns.items():
        setattr(m, name, fn.__get__(m))
    m._set_vocab_sentencepiece()
    if a.add_space_prefix is not None:
        m.gguf_writer.add_add_space_prefix(a.add_space_prefix == "true")
    w = m.gguf_writer
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    main()
