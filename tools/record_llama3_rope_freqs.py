#!/usr/bin/env python3
"""Record the rope_freqs.weight llama.cpp's converter generates for llama3 RoPE scaling, as f32 bit patterns: the
reference for loom's [hf.generated] rope_freqs (tests/unit/runtime/hf_directory_test.cpp, HfLlama3Rope).

The converter's LlamaModel.generate_extra_tensors is taken unchanged from the pinned source by name (ast) and run
with torch on a stand-in `self` whose rope parameters are each case's config values (those of the released Llama
3.1 and 3.2 config.json files, and small heads that cross the smooth band). Needs torch (CPU is enough); the tests
never do.

Usage: record_llama3_rope_freqs.py OUT.json [--llama-cpp PATH]
  PATH: the llama.cpp tree of the pinned llama-cpp-python sdist (default: ~/.cache/loom/llama.cpp-0.3.36/
  llama_cpp_python-0.3.36/vendor/llama.cpp).
"""

import argparse
import ast
import json
import math
import struct
import sys
from collections.abc import Iterable
from pathlib import Path

DEFAULT_LLAMA_CPP = Path.home() / ".cache/loom/llama.cpp-0.3.36/llama_cpp_python-0.3.36/vendor/llama.cpp"

# name, config.json values (hidden_size / num_attention_heads give head_dim when it is absent), rope_scaling
CASES = [
    ("llama-3.1-8b", {"hidden_size": 4096, "num_attention_heads": 32, "rope_theta": 500000.0},
     {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192}),
    ("llama-3.2-1b", {"hidden_size": 2048, "num_attention_heads": 32, "head_dim": 64, "rope_theta": 500000.0},
     {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192}),
    ("llama-3.2-3b", {"hidden_size": 3072, "num_attention_heads": 24, "head_dim": 128, "rope_theta": 500000.0},
     {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 8192}),
    # The synthetic llama of loom's tests (tests/data/synth/llama.toml: head_dim 64, theta 10000), with a short
    # original context so that pairs fall below, inside and above the smooth band; and with the converter's
    # defaults (no factor keys).
    ("synth-llama", {"hidden_size": 256, "num_attention_heads": 4, "rope_theta": 10000.0},
     {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
      "original_max_position_embeddings": 64}),
    ("synth-llama-defaults", {"hidden_size": 256, "num_attention_heads": 4, "rope_theta": 10000.0},
     {"rope_type": "llama3"}),
]


def generate_extra_tensors(llama_py):
    """LlamaModel.generate_extra_tensors as written in conversion/llama.py, compiled as a plain function."""
    tree = ast.parse(llama_py.read_text(encoding="utf-8"))
    for cls in tree.body:
        if isinstance(cls, ast.ClassDef) and cls.name == "LlamaModel":
            for node in cls.body:
                if isinstance(node, ast.FunctionDef) and node.name == "generate_extra_tensors":
                    node.decorator_list = []
                    return node
    sys.exit(f"{llama_py}: no LlamaModel.generate_extra_tensors")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--llama-cpp", type=Path, default=DEFAULT_LLAMA_CPP)
    a = ap.parse_args()

    sys.path.insert(0, str(a.llama_cpp / "gguf-py"))
    import gguf  # the sdist's gguf-py, not an installed one
    import torch

    fn = generate_extra_tensors(a.llama_cpp / "conversion/llama.py")
    env = {"torch": torch, "math": math, "gguf": gguf, "Iterable": Iterable, "Tensor": torch.Tensor}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), "conversion/llama.py", "exec"), env)

    class Self:
        def format_tensor_name(self, kind):
            assert kind == gguf.MODEL_TENSOR.ROPE_FREQS
            return "rope_freqs.weight"

    out = {"torch": torch.__version__, "cpu_capability": torch.backends.cpu.get_cpu_capability(), "cases": []}
    for name, hparams, scaling in CASES:
        s = Self()
        s.hparams = dict(hparams)
        # TextModel.__init__: rope_scaling becomes rope_parameters, with rope_theta mirrored into it.
        s.rope_parameters = dict(scaling, rope_theta=hparams["rope_theta"])
        made = list(env["generate_extra_tensors"](s))
        assert len(made) == 1 and made[0][0] == "rope_freqs.weight"
        t = made[0][1]
        assert t.dtype == torch.float32
        bits = [struct.unpack("<I", struct.pack("<f", float(x)))[0] for x in t.tolist()]
        out["cases"].append({"name": name, "config": hparams, "rope_scaling": scaling,
                             "bits": [f"{b:08x}" for b in bits]})
    Path(a.out).write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
