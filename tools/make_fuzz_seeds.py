#!/usr/bin/env python3
"""Writes the seed corpus for tests/fuzz/gguf_fuzz.cpp with the reference `gguf` package (pip install gguf),
so that the seeds come from an independent writer. Each seed stays under 4 KiB. Deterministic: running it
again rewrites the same bytes.

    python3 tools/make_fuzz_seeds.py [out_dir]     # default: tests/fuzz/corpus/gguf
"""
import sys
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as Q
from gguf import GGUFValueType as V
from gguf import GGUFWriter

# Bytes per block for the quantized types used below (format reference §2.1).
BLOCK = {Q.Q4_0: (32, 18), Q.Q8_0: (32, 34), Q.Q4_K: (256, 144), Q.Q6_K: (256, 210)}


def write(path: Path, build) -> None:
    w = GGUFWriter(path, "llama")
    build(w)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    size = path.stat().st_size
    assert size < 4096, f"{path.name} is {size} bytes"
    print(f"{path}: {size} bytes")


def quant(w: GGUFWriter, name: str, qtype, rows: int, cols: int, rng) -> None:
    """A tensor of `rows` x `cols` values of a block type, with random block bytes."""
    elems, nbytes = BLOCK[qtype]
    raw = rng.integers(0, 256, size=(rows, cols // elems * nbytes), dtype=np.uint8)
    w.add_tensor(name, raw, raw_dtype=qtype)


def metadata_only(w: GGUFWriter) -> None:
    w.add_uint8("t.u8", 250)
    w.add_int8("t.i8", -7)
    w.add_uint16("t.u16", 65000)
    w.add_int16("t.i16", -32000)
    w.add_uint32("t.u32", 4000000000)
    w.add_int32("t.i32", -2000000000)
    w.add_float32("t.f32", 3.25)
    w.add_bool("t.bool", True)
    w.add_string("t.string", "h\u00e9llo")
    w.add_uint64("t.u64", 1 << 60)
    w.add_int64("t.i64", -(1 << 60))
    w.add_float64("t.f64", 2.5e300)
    for key, sub, val in [("t.arr.u8", V.UINT8, [1, 2, 3]), ("t.arr.i16", V.INT16, [-5, 5]),
                          ("t.arr.u32", V.UINT32, [7]), ("t.arr.i32", V.INT32, [1, -1, 7]),
                          ("t.arr.f32", V.FLOAT32, [0.5, -1.0]), ("t.arr.bool", V.BOOL, [True, False]),
                          ("t.arr.u64", V.UINT64, [2**64 - 1]), ("t.arr.i64", V.INT64, [-1, 1]),
                          ("t.arr.f64", V.FLOAT64, [1 / 3]), ("t.arr.string", V.STRING, ["a", "", "<0x0A>"])]:
        w.add_key_value(key, val, V.ARRAY, sub_type=sub)


def tokenizer(w: GGUFWriter) -> None:
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{i:02X}>" for i in range(8)] + ["\u2581the", "\u2581a", "th", "e"]
    w.add_uint32("llama.block_count", 1)
    w.add_string("tokenizer.ggml.model", "llama")
    w.add_key_value("tokenizer.ggml.tokens", tokens, V.ARRAY, sub_type=V.STRING)
    w.add_key_value("tokenizer.ggml.scores", [float(-i) for i in range(len(tokens))], V.ARRAY, sub_type=V.FLOAT32)
    w.add_key_value("tokenizer.ggml.token_type", [2, 3, 3] + [6] * 8 + [1] * 4, V.ARRAY, sub_type=V.INT32)
    w.add_key_value("tokenizer.ggml.merges", ["t h", "th e", "\u2581 t"], V.ARRAY, sub_type=V.STRING)
    w.add_uint32("tokenizer.ggml.bos_token_id", 1)
    w.add_uint32("tokenizer.ggml.eos_token_id", 2)


def plain_tensors(w: GGUFWriter) -> None:
    rng = np.random.default_rng(1)
    w.add_uint32("llama.embedding_length", 8)
    w.add_tensor("token_embd.weight", rng.standard_normal((4, 8)).astype(np.float32))
    w.add_tensor("output_norm.weight", np.ones(8, dtype=np.float32))
    w.add_tensor("blk.0.attn_q.weight", rng.standard_normal((8, 8)).astype(np.float16))
    w.add_tensor("blk.0.odd", rng.integers(-5, 5, size=(2, 3, 1, 5), dtype=np.int8))
    w.add_tensor("blk.0.i32", np.arange(3, dtype=np.int32))


def quant_tensors(w: GGUFWriter) -> None:
    rng = np.random.default_rng(2)
    w.add_uint32("general.file_type", 15)
    w.add_uint32("general.quantization_version", 2)
    quant(w, "token_embd.weight", Q.Q8_0, 4, 64, rng)
    quant(w, "blk.0.ffn_up.weight", Q.Q4_0, 2, 32, rng)
    quant(w, "blk.0.ffn_down.weight", Q.Q4_K, 2, 256, rng)
    quant(w, "blk.0.attn_v.weight", Q.Q6_K, 1, 256, rng)


def aligned_64(w: GGUFWriter) -> None:
    w.add_custom_alignment(64)
    w.add_tensor("a", np.arange(3, dtype=np.float32))
    w.add_tensor("b", np.arange(20, dtype=np.float32).reshape(4, 5))
    w.add_tensor("c", np.zeros(1, dtype=np.float16))


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent / "tests/fuzz/corpus/gguf"
    out.mkdir(parents=True, exist_ok=True)
    write(out / "seed_arch_only.gguf", lambda w: None)
    write(out / "seed_metadata_all_types.gguf", metadata_only)
    write(out / "seed_tokenizer.gguf", tokenizer)
    write(out / "seed_plain_tensors.gguf", plain_tensors)
    write(out / "seed_quant_tensors.gguf", quant_tensors)
    write(out / "seed_alignment_64.gguf", aligned_64)


if __name__ == "__main__":
    main()
