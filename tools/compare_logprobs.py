#!/usr/bin/env python3
"""Compare `loom eval` output with a llama.cpp golden (tests/data/goldens/*.json) by the pass rule of #4.

  python3 tools/compare_logprobs.py GOLDEN.json LOOM.jsonl [GOLDEN2.json LOOM2.jsonl ...]

LOOM.jsonl is what `loom eval --top-k K` prints: one JSON object per position,
  {"pos": i, "token": <input id at i>, "top": [{"id": ..., "logprob": ..., "text": ...}, ...]}
where "top" is the next-token distribution after position i. K must be large enough that every id of the
reference's top-10 appears in loom's list (K = 64 is plenty); a reference id missing from loom's list fails.

Pass rule (tests/data/goldens/PROVENANCE.md):
  - at every position, max |loom logprob - reference logprob| over the reference's top-10 ids
    <= 1e-3 for F32/F16 weights, <= 1e-2 for quantized ones (q8_0, q4_k, the default Q4_K_M model);
  - loom's top-1 id equals the reference's, except where the reference's top two are within 1e-3.
Prints one summary line per file pair (with the first problems, and on failure the golden's record of how
far llama.cpp moves from itself under float-level changes, for scale); exits 1 if any pair fails.
"""

import json
import sys

TIE = 1e-3
TOL_FLOAT = 1e-3
TOL_QUANT = 1e-2


def tolerance(golden):
    return TOL_FLOAT if golden["model"].get("type") in ("f32", "f16") else TOL_QUANT


def read_loom(path):
    rows = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
                rows[int(row["pos"])] = row
            except (ValueError, KeyError, TypeError) as e:
                raise SystemExit(f"{path}:{n}: not a loom eval line ({e})")
    return rows


def compare(golden_path, loom_path):
    with open(golden_path, encoding="utf-8") as f:
        golden = json.load(f)
    loom = read_loom(loom_path)
    tol = tolerance(golden)
    tokens = golden["tokens"]
    problems = []
    worst, worst_pos = 0.0, -1
    per_pos = []  # max |d| at each position
    top1_agree = top1_excused = 0
    for i, ref in enumerate(golden["positions"]):
        row = loom.get(i)
        if row is None:
            problems.append(f"pos {i}: no loom line")
            continue
        if row.get("token") != tokens[i]:
            problems.append(f"pos {i}: loom evaluated token {row.get('token')}, the reference {tokens[i]}")
        top = row["top"]
        got = {int(t["id"]): float(t["logprob"]) for t in top}
        pos_worst = 0.0
        for rid, rlp in ref:
            if rid not in got:
                problems.append(f"pos {i}: reference id {rid} (logprob {rlp}) not in loom's top-{len(top)}")
                continue
            d = abs(got[rid] - rlp)
            pos_worst = max(pos_worst, d)
            if d > worst:
                worst, worst_pos = d, i
            if d > tol:
                problems.append(f"pos {i}: id {rid}: loom {got[rid]:.6f}, reference {rlp:.6f} (|d| {d:.2e} > {tol:g})")
        per_pos.append(pos_worst)
        loom_top1 = max(top, key=lambda t: (float(t["logprob"]), -int(t["id"])))["id"] if top else None
        if loom_top1 == ref[0][0]:
            top1_agree += 1
        elif len(ref) > 1 and ref[0][1] - ref[1][1] < TIE:
            top1_excused += 1
        else:
            problems.append(f"pos {i}: top-1 loom {loom_top1}, reference {ref[0][0]} "
                            f"(reference margin {ref[0][1] - ref[1][1]:.2e})")
    n = len(golden["positions"])
    extra = sorted(p for p in loom if p >= n or p < 0)
    if extra:
        problems.append(f"loom printed positions outside the reference's 0..{n - 1}: {extra[:5]}")
    name = golden_path.rsplit("/", 1)[-1]
    verdict = "PASS" if not problems else "FAIL"
    over = [i for i, w in enumerate(per_pos) if w > tol]
    median = sorted(per_pos)[len(per_pos) // 2] if per_pos else 0.0
    print(f"{name}: {verdict} max|d| {worst:.2e} at pos {worst_pos} (tol {tol:g}), median {median:.1e}, "
          f"{len(over)} positions over tol{f' (first {over[0]})' if over else ''}, "
          f"top-1 agrees {top1_agree}/{n} (+{top1_excused} near-ties excused), {len(problems)} problems")
    if problems and "llama_cpp_self" in golden:
        # For scale: how far llama.cpp itself moves under float-level changes (PROVENANCE.md).
        d, u = golden["llama_cpp_self"]["decode_path"], golden["llama_cpp_self"]["ulp_nudge"]
        print(f"  for scale, llama.cpp against itself: decode path max {d['max']:.1e} ({d['positions_over_tol']} over tol), "
              f"one-ulp nudge max {u['max']:.1e} ({u['positions_over_tol']} over tol)")
    for p in problems[:10]:
        print(f"  {p}")
    if len(problems) > 10:
        print(f"  ... {len(problems) - 10} more")
    return not problems


def main():
    args = sys.argv[1:]
    if not args or len(args) % 2:
        raise SystemExit(__doc__)
    ok = True
    for g, l in zip(args[0::2], args[1::2]):
        ok = compare(g, l) and ok
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
