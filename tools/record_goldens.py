#!/usr/bin/env python3
"""Record llama.cpp's reference logprobs: the goldens of loom's equivalence tests (issue #4).

For every family spec in tests/data/synth/{llama,qwen2,qwen3,gemma3,qwen3moe,qwen2moe,qwen35,qwen35moe,deepseek2,deepseek2lite,llada,lladamoe,gemma4,gemma4moe}.toml and every weight
type in f32, f16, q8_0, q4_k (and the mixtures of experts, the hybrids and deepseek2 also in their q4_k_m preset), `loom synth` writes the
model (seed 1), and llama_ref (tools/llama_ref, llama.cpp's
C API) evaluates a fixed 160-token prompt in one pass: the top-10 next-token logprobs at every position.
For the default model (Gemma 3 270M Q4_K_M) the prompt is the English text in
tests/data/goldens/default_prompt.txt, tokenized by llama.cpp, plus a 64-token greedy generation.
Always on llama.cpp's exact path: f32 KV cache, flash attention off, 2 threads, CPU.

Usage (see tests/data/goldens/PROVENANCE.md):
  python3 tools/record_goldens.py --llama-ref build/llama_ref/llama_ref --loom build/release/loom
      [--out tests/data/goldens] [--only llama-f32,gemma3-q4_k,default] [--work DIR]
"""

import argparse
import hashlib
import json
import pathlib
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import tomllib

ROOT = pathlib.Path(__file__).resolve().parent.parent
FAMILIES = ["llama", "qwen2", "qwen3", "gemma3", "qwen3moe", "qwen2moe", "qwen35", "qwen35moe", "deepseek2",
            "deepseek2lite", "llada", "lladamoe", "gemma4", "gemma4moe"]
# Masked-diffusion models: one bidirectional pass over the whole prompt (which contains mask tokens), no token-by-token
# path (the model has no cache), so no decode_positions.
DIFFUSION = {"llada", "lladamoe"}
MASK_EVERY = 3          # in a diffusion prompt every third token is the mask token
TYPES = ["f32", "f16", "q8_0", "q4_k"]
EXTRA_TYPES = {"qwen3moe": ["q4_k_m"], "qwen2moe": ["q4_k_m"], "qwen35": ["q4_k_m"], "qwen35moe": ["q4_k_m"],
               "deepseek2": ["q4_k_m"], "deepseek2lite": ["q4_k_m"], "llada": ["q4_k_m"], "lladamoe": ["q4_k_m"],
               "gemma4": ["q4_k_m"], "gemma4moe": ["q4_k_m"]}  # spec presets recorded as well
SEED = 1                # loom synth -s
PROMPT_LEN = 160
FIRST_ID = 3            # prompts avoid the special ids 0..2 (<unk>, <s>, </s>) of synth's vocab
TOP_K = 10
N_THREADS = 2
N_GREEDY = 64
DEFAULT_MODEL = pathlib.Path.home() / ".cache/loom/gemma-3-270m-q4_k_m.gguf"
DEFAULT_PROMPT = "tests/data/goldens/default_prompt.txt"
# One prompt per family, shared by its four types (so types can also be compared with each other).
PROMPT_SEEDS = {"llama": 101, "qwen2": 102, "qwen3": 103, "gemma3": 104, "qwen3moe": 105, "qwen2moe": 106, "qwen35": 107,
                "qwen35moe": 108, "deepseek2": 109, "deepseek2lite": 110,
                "llada": 111, "lladamoe": 112, "gemma4": 113, "gemma4moe": 114}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


_warned = set()


def run_json(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"record_goldens: {' '.join(map(str, cmd))} failed ({r.returncode}):\n{r.stderr}")
    for line in r.stderr.splitlines():
        # llama.cpp's warnings about the file, each shown once: they are part of the record.
        if line.strip() and line not in _warned:
            _warned.add(line)
            print(f"  llama.cpp: {line.strip()}", file=sys.stderr)
    return json.loads(r.stdout)


def synth_prompt(family, n_vocab, mask_id=None):
    rng = random.Random(PROMPT_SEEDS[family])
    tokens = [rng.randrange(FIRST_ID, n_vocab) for _ in range(PROMPT_LEN)]
    if mask_id is not None:  # a partly unmasked canvas, as a diffusion step sees it
        tokens = [mask_id if i % MASK_EVERY == MASK_EVERY - 1 else t for i, t in enumerate(tokens)]
    return tokens


def cpu_summary(system_info):
    model, flags = platform.processor() or "unknown", set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    simd = [f for f in ("sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "avx512f", "avx512bw", "avx512_vnni",
                        "avx512_bf16", "amx_tile") if f in flags]
    # ggml's own list of what it compiled in and uses, e.g. "AVX2 F16C FMA ... LLAMAFILE REPACK".
    feats = [f.split("=")[0].replace("CPU :", "").strip() for f in system_info.split("|") if f.strip().endswith("= 1")]
    return f"{model}; cpuinfo: {' '.join(simd)}; ggml: {' '.join(feats)}"


def reference_block(cfg):
    return {
        "llama_cpp": cfg["llama_cpp"],
        "kv": cfg["kv"],
        "flash_attn": cfg["flash_attn"],
        "n_threads": cfg["n_threads"],
        "cpu": cpu_summary(cfg["system_info"]),
    }


def logprobs(llama_ref, model, tokens, work, extra=(), top_k=TOP_K):
    ids_file = pathlib.Path(work) / "tokens.txt"
    ids_file.write_text(",".join(map(str, tokens)))
    out = run_json([llama_ref, "logprobs", "-m", model, "--tokens-file", ids_file, "--top-k", str(top_k),
                    "--kv", "f32", "--flash", "off", "-t", str(N_THREADS), *extra])
    if out["tokens"] != tokens:
        sys.exit(f"record_goldens: llama_ref evaluated other tokens than given for {model}")
    return out


def nudge_norms(src, dst):
    """Copies a GGUF and moves every f32 norm weight one ulp away from zero: a perturbation at the level of
    float rounding, as a faithful reimplementation that sums in another order would make."""
    import gguf  # tools/requirements.txt
    import numpy as np
    shutil.copy(src, dst)
    reader = gguf.GGUFReader(dst, "r+")
    for t in reader.tensors:
        if t.tensor_type == gguf.GGMLQuantizationType.F32 and "norm" in t.name:
            a = t.data
            a[:] = np.where(a == 0, a, np.nextafter(a, np.copysign(np.float32(np.inf), a)))
    reader.data.flush()


def deviation(ref_positions, other, tol):
    """max / median over positions of max |delta logprob| on the reference's top ids; ids missing count as 99."""
    worst = []
    for ref, pos in zip(ref_positions, other["positions"]):
        got = {int(i): lp for i, lp in pos}
        worst.append(max(abs(got[i] - lp) if i in got else 99.0 for i, lp in ref))
    over = [i for i, w in enumerate(worst) if w > tol]
    return {"max": float(f"{max(worst):.2e}"), "median": float(f"{statistics.median(worst):.2e}"),
            "positions_over_tol": len(over), "first_over_tol": over[0] if over else None}


def self_consistency(llama_ref, model, tokens, pos, work, tol, decode=True):
    """How far llama.cpp moves from its own golden under two harmless changes: its token-by-token decode path
    (-ub 1: matrix-vector kernels instead of the batched ones) and a one-ulp nudge of the norm weights.
    Rounding of activations (Q8_0/Q8_K for quantized weights, f16 for F16 weights and in GELU's table)
    turns such float-level differences into jumps; this is the floor a non-bit-exact engine meets."""
    nudged_model = pathlib.Path(work) / "nudged.gguf"
    nudge_norms(model, nudged_model)
    nudged = logprobs(llama_ref, nudged_model, tokens, work, top_k=64)
    nudged_model.unlink()
    stats = {"tol": tol, "ulp_nudge": deviation(pos, nudged, tol)}
    if not decode:  # a model without a token-by-token path (diffusion)
        return stats, None
    out = logprobs(llama_ref, model, tokens, work, ["-ub", "1"], top_k=64)
    stats["decode_path"] = deviation(pos, out, tol)
    return stats, [p[:TOP_K] for p in positions(out)]


def positions(out):
    return [[[int(i), round(lp, 6)] for i, lp in pos] for pos in out["positions"]]


def write_golden(path, golden):
    # One position per line: readable diffs, still compact.
    lines = ["{"]
    items = list(golden.items())
    for n, (k, v) in enumerate(items):
        sep = "," if n + 1 < len(items) else ""
        if k in ("positions", "decode_positions"):
            rows = [json.dumps(p, separators=(",", ":")) for p in v]
            lines.append(f' "{k}": [\n  ' + ",\n  ".join(rows) + f"\n ]{sep}")
        else:
            lines.append(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False, separators=(',', ':'))}{sep}")
    lines.append("}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def near_ties(pos):
    return sum(1 for p in pos if p[0][1] - p[1][1] < 1e-3)


def self_summary(g):
    u = g["llama_cpp_self"]["ulp_nudge"]
    d = g["llama_cpp_self"].get("decode_path")
    decode = f"decode path max {d['max']:.1e}, " if d else ""
    return f"llama.cpp self: {decode}ulp nudge max {u['max']:.1e}"


def record_synth(args, family, dtype, out_dir, work):
    spec = f"tests/data/synth/{family}.toml"
    spec_toml = tomllib.loads((ROOT / spec).read_text())
    n_vocab = spec_toml["vocab"]["size"]
    model = pathlib.Path(work) / f"{family}-{dtype}.gguf"
    r = subprocess.run([args.loom, "synth", ROOT / spec, "-o", model, "--type", dtype, "-s", str(SEED)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"record_goldens: loom synth {spec} --type {dtype} failed:\n{r.stderr}")
    diffusion = family in DIFFUSION
    tokens = synth_prompt(family, n_vocab, spec_toml["metadata"]["tokenizer.ggml.mask_token_id"] if diffusion else None)
    out = logprobs(args.llama_ref, model, tokens, work)
    pos = positions(out)
    tol = 1e-3 if dtype in ("f32", "f16") else 1e-2
    self_stats, decode_pos = self_consistency(args.llama_ref, model, tokens, pos, work, tol, decode=not diffusion)
    golden = {
        "model": {"spec": spec, "type": dtype, "seed": SEED, "sha256": sha256(model)},
        "reference": reference_block(out["config"]),
        "llama_cpp_self": self_stats,
        "tokens": tokens,
        "top_k": TOP_K,
        "positions": pos,
    }
    if decode_pos is not None:
        golden["decode_positions"] = decode_pos
    path = out_dir / f"{family}-{dtype}.json"
    write_golden(path, golden)
    print(f"{path.name}: {len(tokens)} positions, top-1 near-ties (<1e-3) {near_ties(pos)}, "
          f"{self_summary(golden)}, {path.stat().st_size} bytes")


def record_default(args, out_dir, work):
    model = args.default_model
    text = (ROOT / DEFAULT_PROMPT).read_text(encoding="utf-8").rstrip("\n")
    tok = run_json([args.llama_ref, "tokenize", "-m", model, "-p", text])
    tokens = tok["tokens"]
    out = logprobs(args.llama_ref, model, tokens, work)
    ids_file = pathlib.Path(work) / "tokens.txt"
    gen = run_json([args.llama_ref, "generate", "-m", model, "--tokens-file", ids_file, "-n", str(N_GREEDY),
                    "--kv", "f32", "--flash", "off", "-t", str(N_THREADS)])
    pos = positions(out)
    self_stats, decode_pos = self_consistency(args.llama_ref, model, tokens, pos, work, 1e-2)
    golden = {
        "model": {"path": "default", "file": model.name, "sha256": sha256(model)},
        "reference": reference_block(out["config"]),
        "llama_cpp_self": self_stats,
        "prompt_text": text,
        "tokens": tokens,
        "top_k": TOP_K,
        "positions": pos,
        "decode_positions": decode_pos,
        "greedy": {"n": N_GREEDY, "tokens": gen["tokens"], "text": gen["text"], "stop": gen["stop"],
                   "logit_margins": [round(m, 4) for m in gen["margins"]]},
    }
    path = out_dir / "default.json"
    write_golden(path, golden)
    print(f"{path.name}: {len(tokens)} positions, top-1 near-ties (<1e-3) {near_ties(pos)}, "
          f"greedy {len(gen['tokens'])} tokens ({gen['stop']}, smallest logit margin {min(gen['margins']):.4f}), "
          f"{self_summary(golden)}, {path.stat().st_size} bytes")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--llama-ref", default=str(ROOT / "build/llama_ref/llama_ref"))
    ap.add_argument("--loom", default=str(ROOT / "build/release/loom"))
    ap.add_argument("--out", default=str(ROOT / "tests/data/goldens"))
    ap.add_argument("--default-model", type=pathlib.Path, default=DEFAULT_MODEL)
    ap.add_argument("--only", default="", help="comma-separated names: family-type (llama-q4_k) or default")
    ap.add_argument("--work", default="", help="keep the synthesized models here (default: a temp dir)")
    args = ap.parse_args()

    out_dir = pathlib.Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = [f"{f}-{t}" for f in FAMILIES for t in TYPES + EXTRA_TYPES.get(f, [])] + ["default"]
    only = [n for n in args.only.split(",") if n]
    for n in only:
        if n not in names:
            sys.exit(f"record_goldens: --only: unknown name '{n}' (expected one of {', '.join(names)})")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.work or tmp
        pathlib.Path(work).mkdir(parents=True, exist_ok=True)
        for n in names:
            if only and n not in only:
                continue
            if n == "default":
                record_default(args, out_dir, work)
            else:
                family, dtype = n.split("-", 1)
                record_synth(args, family, dtype, out_dir, work)


if __name__ == "__main__":
    main()
