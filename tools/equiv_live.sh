#!/usr/bin/env bash
# tools/equiv_live.sh: the live equivalence check of issue #4, loom against llama.cpp on this machine.
# Builds llama_ref (tools/llama_ref/build.sh), re-records every golden into a temp dir (tools/record_goldens.py:
# the synthetic models of tests/data/synth at f32/f16/q8_0/q4_k and the default model), runs `loom eval` on the
# same files and tokens (f32 KV cache, 2 threads), and applies the pass rule (tools/compare_logprobs.py).
# With the default model it also checks the 64-token greedy text of `loom run`.
#
#   LOOM=build/release/loom        the loom binary
#   ONLY=llama-f32,default         a subset (names as record_goldens.py --only)
#   LOOM_EVAL_TOP_K=64             loom's top-K (must cover the reference's top-10)
#   LOOM_EVAL_ARGS=...             extra arguments for `loom eval` (e.g. --backend ref)
#   LOOM_RUN_ARGS=...              extra arguments for `loom run`
#   LOOM_LLAMA_CPP_DIR=...         where llama.cpp is (or gets) built; see tools/llama_ref/build.sh
#   KEEP=dir                       keep models, goldens and loom's output there instead of a temp dir
# Exit status 0 only if every comparison passes. Not part of CI: CI compares against the committed goldens.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOOM="${LOOM:-$ROOT/build/release/loom}"
TOP_K="${LOOM_EVAL_TOP_K:-64}"
DEFAULT_MODEL="${LOOM_DEFAULT_MODEL:-$HOME/.cache/loom/gemma-3-270m-q4_k_m.gguf}"

say() { printf 'equiv_live: %s\n' "$*" >&2; }
die() { printf 'equiv_live: error: %s\n' "$*" >&2; exit 1; }

[[ -x "$LOOM" ]] || die "no loom binary at $LOOM (build it: bash scripts/build.sh release loom_cli; or set LOOM)"

llama_ref="$("$ROOT/tools/llama_ref/build.sh" | tail -n 1)"
[[ -x "$llama_ref" ]] || die "tools/llama_ref/build.sh did not produce llama_ref"

if [[ -n "${KEEP:-}" ]]; then
  work="$KEEP"; mkdir -p "$work"
else
  work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
fi

say "recording the reference into $work/goldens"
python3 "$ROOT/tools/record_goldens.py" --llama-ref "$llama_ref" --loom "$LOOM" --out "$work/goldens" \
  --work "$work/models" --default-model "$DEFAULT_MODEL" ${ONLY:+--only "$ONLY"}

pairs=()
greedy_ok=1
for golden in "$work"/goldens/*.json; do
  name="$(basename "$golden" .json)"
  committed="$ROOT/tests/data/goldens/$name.json"
  if [[ -f "$committed" ]] && ! cmp -s "$golden" "$committed"; then
    say "note: $name differs from the committed golden (another llama.cpp build, CPU or synth version?)"
  fi
  if [[ "$name" == default ]]; then model="$DEFAULT_MODEL"; else model="$work/models/$name.gguf"; fi
  python3 -c 'import json,sys; print(",".join(map(str, json.load(open(sys.argv[1]))["tokens"])))' "$golden" \
    > "$work/$name.tokens"
  say "loom eval $name"
  # shellcheck disable=SC2086  # LOOM_EVAL_ARGS is a list of words
  "$LOOM" eval -m "$model" --tokens-file "$work/$name.tokens" --top-k "$TOP_K" -t 2 --kv-type f32 \
    ${LOOM_EVAL_ARGS:-} > "$work/$name.jsonl" || die "loom eval failed on $name"
  pairs+=("$golden" "$work/$name.jsonl")

  if [[ "$name" == default ]]; then
    # Greedy text: loom's tokenizer, sampler and decode path together must give llama.cpp's 64 tokens of text.
    prompt="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["prompt_text"], end="")' "$golden")"
    # shellcheck disable=SC2086
    if "$LOOM" run -m "$model" -p "$prompt" -n 64 --temp 0 -t 2 --kv-type f32 ${LOOM_RUN_ARGS:-} \
         > "$work/default.run.txt"; then
      if python3 - "$golden" "$work/default.run.txt" <<'EOF'
import json, sys
want = json.load(open(sys.argv[1]))["greedy"]
got = open(sys.argv[2], encoding="utf-8", errors="replace").read()
got = got[:-1] if got.endswith("\n") else got
prompt = json.load(open(sys.argv[1]))["prompt_text"]
ok = got == want["text"] or got == prompt + want["text"]
print(f"default greedy: {'PASS' if ok else 'FAIL'} ({len(want['tokens'])} tokens, stop {want['stop']})")
if not ok:
    print(f"  llama.cpp: {want['text']!r}\n  loom:      {got!r}")
sys.exit(0 if ok else 1)
EOF
      then :; else greedy_ok=0; fi
    else
      say "loom run failed on the default model"; greedy_ok=0
    fi
  fi
done

status=0
python3 "$ROOT/tools/compare_logprobs.py" "${pairs[@]}" || status=1
[[ $greedy_ok == 1 ]] || status=1
exit $status
