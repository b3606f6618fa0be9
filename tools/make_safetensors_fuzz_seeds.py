#!/usr/bin/env python3
"""Writes the seed corpus of tests/fuzz/safetensors_fuzz.cpp (tests/fuzz/corpus/safetensors/): small files laid
out as Hugging Face's writer lays them out (JSON padded with spaces to a multiple of 8, data in offset order), plus
a few edge shapes. Standard library only."""
import json
import struct
import sys
from pathlib import Path

SIZES = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "U8": 1, "BOOL": 1, "F8_E4M3": 1}


def file_of(tensors, metadata=None):
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape in tensors:
        n = 1
        for d in shape:
            n *= d
        size = n * SIZES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + size]}
        data += bytes((i * 37 + 11) & 0xFF for i in range(size))
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - (8 + len(text)) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def main(out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = {
        "seed_llama_layer": file_of(
            [("model.embed_tokens.weight", "BF16", [8, 4]), ("model.layers.0.input_layernorm.weight", "F32", [4]),
             ("model.layers.0.self_attn.q_proj.weight", "F16", [4, 4])], {"format": "pt"}),
        "seed_all_dtypes": file_of([(f"t_{d.lower()}", d, [3]) for d in SIZES]),
        "seed_scalar_and_empty": file_of([("scalar", "F32", []), ("empty", "F32", [0, 5]), ("x", "U8", [1])]),
        "seed_rank3": file_of([("experts", "BF16", [2, 3, 4])]),
        "seed_empty_header": file_of([]),
    }
    for name, b in seeds.items():
        (out / f"{name}.safetensors").write_bytes(b)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/fuzz/corpus/safetensors")
