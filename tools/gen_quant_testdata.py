#!/usr/bin/env python3
"""Generate the known-answer data for loom's reference (de)quantizers and half conversions.

Everything is decoded by an independent implementation, the `gguf` Python package (numpy code in
gguf/quants.py), except where that package has no decoder (Q8_1, Q8_K): those use the small numpy decoders
below, written from the format description. Deterministic: a fixed seed, so re-running reproduces the
files byte for byte (for the same gguf/numpy versions).

Writes into tests/data/quant/:
  <type>.bin / <type>.f32          raw blocks (8 per type) and their dequantized floats
  quantize_input.f32               512 floats; <type>.quantized.bin: what gguf's quantizer makes of them
  half_f32_to_f16.{in.f32,out.u16} f32 -> f16 by numpy astype(np.float16)
  half_f32_to_bf16.{in.f32,out.u16} f32 -> bf16 by gguf's BF16 quantizer (ggml's rounding)
  PROVENANCE.md

Usage: python3 tools/gen_quant_testdata.py [--out tests/data/quant]
"""

import argparse
import pathlib
import sys

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

SEED = 0x10C0_5EED
N_BLOCKS = 8

# (loom name, gguf type, bytes per block, elements per block, f16 field offsets to make finite)
BLOCK_TYPES = [
    ("q4_0", T.Q4_0, 18, 32, [0]),
    ("q4_1", T.Q4_1, 20, 32, [0, 2]),
    ("q5_0", T.Q5_0, 22, 32, [0]),
    ("q5_1", T.Q5_1, 24, 32, [0, 2]),
    ("q8_0", T.Q8_0, 34, 32, [0]),
    ("q8_1", T.Q8_1, 36, 32, [0]),        # s (@2) is set from d and qs below
    ("q2_k", T.Q2_K, 84, 256, [80, 82]),
    ("q3_k", T.Q3_K, 110, 256, [108]),
    ("q4_k", T.Q4_K, 144, 256, [0, 2]),
    ("q5_k", T.Q5_K, 176, 256, [0, 2]),
    ("q6_k", T.Q6_K, 210, 256, [208]),
    ("q8_k", T.Q8_K, 292, 256, []),       # d is f32 (@0); bsums (@260) set from qs below
    ("iq4_nl", T.IQ4_NL, 18, 32, [0]),
    ("iq4_xs", T.IQ4_XS, 136, 256, [0]),
]


def sane_scales(rng, n, dtype):
    """Random scales, magnitude log-uniform in [1e-3, 2], random sign."""
    mag = np.exp(rng.uniform(np.log(1e-3), np.log(2.0), size=n))
    sign = np.where(rng.integers(0, 2, size=n) == 1, -1.0, 1.0)
    return (mag * sign).astype(dtype)


def put(blocks, offset, values):
    """Write little-endian scalar values (one per block) at a byte offset of every block."""
    raw = np.ascontiguousarray(values).view(np.uint8).reshape(blocks.shape[0], -1)
    blocks[:, offset:offset + raw.shape[1]] = raw


# Decoders for the two activation formats gguf 0.19 cannot decode (it has no Q8_1/Q8_K class, and its size
# table still lists Q8_1 as 40 bytes, an old layout with f32 d and s; ggml's block_q8_1 is 36 bytes).
def dequant_q8_1(blocks):
    d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
    qs = blocks[:, 4:36].copy().view(np.int8).astype(np.float32)
    return (qs * d).reshape(-1)


def dequant_q8_k(blocks):
    d = blocks[:, 0:4].copy().view(np.float32)
    qs = blocks[:, 4:260].copy().view(np.int8).astype(np.float32)
    return (d * qs).reshape(-1)


def make_blocks(rng, name, gtype, size, offsets):
    blocks = rng.integers(0, 256, size=(N_BLOCKS, size), dtype=np.uint8)
    for off in offsets:
        put(blocks, off, sane_scales(rng, N_BLOCKS, np.float16))
    if offsets:
        # One f16 subnormal scale, to exercise the subnormal path of the f16 decoder.
        put(blocks[-1:], offsets[0], np.array([3.0e-5], dtype=np.float16))
    if name == "q8_1":
        d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)[:, 0]
        qsum = blocks[:, 4:36].copy().view(np.int8).astype(np.int32).sum(axis=1)
        put(blocks, 2, (qsum.astype(np.float32) * d).astype(np.float16))
    if name == "q8_k":
        put(blocks, 0, sane_scales(rng, N_BLOCKS, np.float32))
        qs = blocks[:, 4:260].copy().view(np.int8).astype(np.int32)
        put(blocks, 260, qs.reshape(N_BLOCKS, 16, 16).sum(axis=2).astype(np.int16))
    return blocks


def decode(name, gtype, blocks):
    if name == "q8_1":
        return dequant_q8_1(blocks)
    if name == "q8_k":
        return dequant_q8_k(blocks)
    out = dequantize(blocks.reshape(-1), gtype).reshape(-1)
    assert out.dtype == np.float32
    return out


def bits32(values):
    return np.array(values, dtype=np.uint32).view(np.float32)


def half_inputs(rng):
    """f32 values that stress f32 -> f16/bf16 rounding: ties, boundaries, subnormals, overflow, specials."""
    special = [
        0.0, -0.0, 1.0, -1.0, 65504.0, -65504.0, 65519.99, 65520.0, -65520.0, 1e10, -1e10,
        np.inf, -np.inf, np.nan,
        2.0**-24, -(2.0**-24), 2.0**-25, 1.5 * 2.0**-25, 3 * 2.0**-25, 2.0**-26, 2.0**-14, 2.0**-14 - 2.0**-24,
        2.0**-14 - 2.0**-25, 6.0e-8, 1e-30, -1e-30, 1.0 + 2.0**-11, 1.0 + 3 * 2.0**-11, 1.0 + 2.0**-11 + 2.0**-23,
        2049.0, 2051.0, 4097.0, 0.1, -0.1, 1.0 / 3.0,
    ]
    special_bits = [
        0x7F800001, 0xFF800001, 0x7FC00000, 0xFFFFFFFF, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000,
        0x3F808000, 0x3F818000, 0x3F80FFFF, 0x3F817FFF, 0x7F7F8000, 0x7F7FFFFF, 0x477FEFFF, 0x477FF000,
        0x33000000, 0x33000001, 0x387FC000, 0x387FE000, 0x38800000,
    ]
    x = np.concatenate([
        np.array(special, dtype=np.float32),
        bits32(special_bits),
        # Random bit patterns over the exponents where f16 rounding is interesting (2^-30 .. 2^20).
        bits32(rng.integers(0, 2**23, size=1500) | (rng.integers(97, 148, size=1500) << 23)
               | (rng.integers(0, 2, size=1500) << 31)),
        # Exact f16/bf16 ties: the dropped bits are exactly one half.
        bits32((rng.integers(0x3000, 0x4700, size=200) << 16) | 0x1000),
        bits32((rng.integers(0x0000, 0x7F80, size=200) << 16) | 0x8000),
        # Fully random bit patterns (includes NaN payloads and subnormals).
        bits32(rng.integers(0, 2**32, size=500, dtype=np.uint64)),
    ])
    return x.astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=str(pathlib.Path(__file__).resolve().parent.parent / "tests/data/quant"))
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    written = []

    def write(fname, arr):
        arr = np.ascontiguousarray(arr)
        (out / fname).write_bytes(arr.tobytes())
        written.append((fname, arr.nbytes))

    # 1. Blocks of every dequantizable block type, decoded by gguf.
    for name, gtype, size, elems, offsets in BLOCK_TYPES:
        blocks = make_blocks(rng, name, gtype, size, offsets)
        y = decode(name, gtype, blocks)
        assert y.size == N_BLOCKS * elems and np.all(np.isfinite(y)), name
        write(f"{name}.bin", blocks)
        write(f"{name}.f32", y)

    # 2. Plain types: raw random bit patterns (NaN, inf, subnormals included), decoded by numpy/gguf.
    f16_raw = np.concatenate([
        np.array([0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0x7C00, 0xFC00, 0x7C01, 0x7E00,
                  0xFE00, 0x7FFF, 0x3C00, 0x3555], dtype=np.uint16),
        rng.integers(0, 2**16, size=241, dtype=np.uint16),
    ])
    write("f16.bin", f16_raw)
    write("f16.f32", dequantize(f16_raw.view(np.uint8), T.F16).reshape(-1))
    bf16_raw = np.concatenate([
        np.array([0x0000, 0x8000, 0x0001, 0x007F, 0x0080, 0x7F7F, 0x7F80, 0xFF80, 0x7F81, 0x7FC0, 0x3F80],
                 dtype=np.uint16),
        rng.integers(0, 2**16, size=245, dtype=np.uint16),
    ])
    write("bf16.bin", bf16_raw)
    write("bf16.f32", dequantize(bf16_raw.view(np.uint8), T.BF16).reshape(-1))
    f32_raw = rng.standard_normal(256).astype(np.float32)
    write("f32.bin", f32_raw)
    write("f32.f32", dequantize(f32_raw.view(np.uint8), T.F32).reshape(-1))

    # 3. gguf's quantizers for the legacy types (bit-exact ports of ggml's reference rule) on fixed input:
    #    Gaussian blocks of varied scale, then an all-zero block, a constant block, a negative constant block,
    #    a block with one huge value, a block with +max and -max tied, and a ramp.
    blocks = [rng.standard_normal(32) * s for s in (1.0, 0.01, 100.0, 3.0, 0.5, 1e-4, 7.0, 1.0, 2.0, 0.25)]
    blocks.append(np.zeros(32))
    blocks.append(np.full(32, 0.75))
    blocks.append(np.full(32, -1.25))
    huge = rng.standard_normal(32) * 0.01
    huge[13] = 1000.0
    blocks.append(huge)
    tie = rng.standard_normal(32)
    tie[5], tie[20] = 4.0, -4.0
    blocks.append(tie)
    blocks.append(np.linspace(-1.0, 2.0, 32))
    qin = np.concatenate(blocks).astype(np.float32)
    assert qin.size == 512
    write("quantize_input.f32", qin)
    for name, gtype in [("q4_0", T.Q4_0), ("q4_1", T.Q4_1), ("q5_0", T.Q5_0), ("q5_1", T.Q5_1),
                        ("q8_0", T.Q8_0), ("bf16", T.BF16)]:
        write(f"{name}.quantized.bin", quantize(qin, gtype).reshape(-1))
    write("f16.quantized.bin", qin.astype(np.float16))

    # 4. Half conversions for core/half.h.
    hx = half_inputs(rng)
    write("half_f32_to_f16.in.f32", hx)
    with np.errstate(over="ignore"):
        write("half_f32_to_f16.out.u16", hx.astype(np.float16).view(np.uint16))
    write("half_f32_to_bf16.in.f32", hx)
    write("half_f32_to_bf16.out.u16", quantize(hx, T.BF16).view(np.uint16).reshape(-1))

    total = sum(n for _, n in written)
    assert total < 300 * 1024, total
    write_provenance(out, written, total)
    print(f"wrote {len(written)} files, {total} bytes, to {out}")


def write_provenance(out, written, total):
    lines = [
        "# Quantization known-answer data: provenance",
        "",
        "Generated by `tools/gen_quant_testdata.py` (run from the repository root:",
        "`python3 tools/gen_quant_testdata.py`), seed 0x10C05EED, with:",
        "",
        f"- gguf (Python package) {gguf.__version__ if hasattr(gguf, '__version__') else pkg_version('gguf')}",
        f"- numpy {np.__version__}",
        f"- Python {sys.version.split()[0]}",
        "",
        "All files are raw little-endian arrays with no header.",
        "",
        "| files | content | expected values from |",
        "|---|---|---|",
        "| `<type>.bin`, `<type>.f32` (q4_0 … iq4_xs) | 8 blocks of random bytes, f16 scale fields set to "
        "finite values (log-uniform magnitude in [1e-3, 2], random sign; the last block's first scale is the "
        "f16 subnormal 3e-5), and their decoded floats | `gguf.quants.dequantize` |",
        "| `q8_1.*`, `q8_k.*` | as above; Q8_1 `s` = f16(d·Σqs), Q8_K `d` f32 and `bsums` consistent | the "
        "script's own numpy decoder (y = d·q): gguf 0.19 has no Q8_1/Q8_K class, and its size table lists "
        "Q8_1 as 40 bytes (an old layout), not ggml's 36 |",
        "| `f16.*`, `bf16.*`, `f32.*` | raw values incl. NaN, inf, subnormals | `gguf.quants.dequantize` "
        "(numpy `astype(float32)` for f16) |",
        "| `quantize_input.f32`, `<type>.quantized.bin` | 512 floats (16 blocks of 32: Gaussian blocks at "
        "several scales, all-zero, constant, negative constant, one huge value, a ±max tie, a ramp) and what "
        "each quantizer makes of them | `gguf.quants.quantize` for q4_0, q4_1, q5_0, q5_1, q8_0 (ports of "
        "ggml's reference rules) and bf16; numpy `astype(float16)` for f16 |",
        "| `half_f32_to_f16.*` | f32 inputs (ties, boundaries, subnormals, overflow, NaNs, random bits) and "
        "their f16 bits | numpy `astype(np.float16)` |",
        "| `half_f32_to_bf16.*` | the same inputs and their bf16 bits | `gguf.quants.quantize(x, BF16)` "
        "(ggml's round-to-nearest-even with quiet NaN) |",
        "",
        "Files:",
        "",
    ]
    lines += [f"- `{name}` ({n} bytes)" for name, n in written]
    lines += ["", f"Total: {total} bytes.", ""]
    (out / "PROVENANCE.md").write_text("\n".join(lines))


def pkg_version(name):
    from importlib.metadata import version
    return version(name)


if __name__ == "__main__":
    main()
