#!/usr/bin/env python3
"""Throughput and latency of an OpenAI-compatible server under concurrent streams (a benchmark, not a test).

Starts `loom serve` (and, with --llama-server, llama.cpp's llama-server on the same model and settings), then for
each concurrency level runs that many clients at once, each streaming one chat completion of --tokens tokens at
temperature 0 with end-of-generation banned, and reports:

  aggregate tok/s   generated tokens of all streams / wall time from the first request to the last token
  TTFT p50 / p99    time from sending a request to its first content chunk

    python3 tools/serve_bench.py --loom build/release/loom                  # the default model, 1/4/8/16 streams
    python3 tools/serve_bench.py --loom build/release/loom --llama-server /path/to/llama-server --levels 1,4,8
"""
import argparse
import concurrent.futures as cf
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time

import httpx2 as httpx  # the HTTP client the openai package uses

PROMPTS = [f"Write a long story about a {w} who learns to {v}." for w, v in
           [("fox", "fly"), ("robot", "paint"), ("sailor", "sing"), ("child", "code"), ("baker", "swim"),
            ("dragon", "read"), ("knight", "cook"), ("whale", "dance")]]


def start(cmd, pattern, timeout=300):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    ready = threading.Event()

    def read():
        for line in proc.stderr:
            if re.search(pattern, line):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(timeout) or proc.poll() is not None:
        proc.kill()
        raise RuntimeError(f"{cmd[0]} did not start")
    return proc


def wait_healthy(url, timeout=300):
    end = time.time() + timeout
    while time.time() < end:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} is not healthy")


def stream_chat(url, body):
    """POSTs a streamed chat completion; returns (start, first content, end, usage, text) with perf_counter times."""
    t0 = time.perf_counter()
    first, usage, text = None, None, ""
    with httpx.stream("POST", url + "/v1/chat/completions", json=body, timeout=900) as r:
        r.raise_for_status()
        for line in r.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            j = json.loads(line[6:])
            if j.get("usage"):
                usage = j["usage"]
            for c in j.get("choices", []):
                piece = c.get("delta", {}).get("content")
                if piece:
                    first = first or time.perf_counter()
                    text += piece
    end = time.perf_counter()
    return t0, first if first is not None else end, end, usage, text


def one_stream(url, prompt, n_tokens, eog_ids):
    body = {"messages": [{"role": "user", "content": prompt}], "max_tokens": n_tokens, "temperature": 0,
            "stream": True, "stream_options": {"include_usage": True},
            "logit_bias": {str(i): -100 for i in eog_ids}}
    t0, first, end, usage, _ = stream_chat(url, body)
    return t0, first, end, usage["completion_tokens"] if usage else 0


def level(url, n, n_tokens, eog_ids):
    barrier = threading.Barrier(n)

    def run(i):
        barrier.wait()
        return one_stream(url, PROMPTS[i % len(PROMPTS)], n_tokens, eog_ids)

    with cf.ThreadPoolExecutor(n) as ex:
        res = list(ex.map(run, range(n)))
    t_start = min(r[0] for r in res)
    t_end = max(r[2] for r in res)
    tokens = sum(r[3] for r in res)
    ttft = sorted(r[1] - r[0] for r in res)
    p = lambda q: ttft[min(len(ttft) - 1, int(round(q * (len(ttft) - 1))))]
    return tokens / (t_end - t_start), statistics.median(ttft), p(0.99), tokens


def bench(name, url, levels, n_tokens, eog_ids):
    one_stream(url, "warm up", 8, eog_ids)
    print(f"\n{name}")
    print(f"{'streams':>8} {'tok/s':>9} {'TTFT p50':>9} {'TTFT p99':>9} {'tokens':>7}")
    out = {}
    for n in levels:
        tps, p50, p99, tokens = level(url, n, n_tokens, eog_ids)
        out[n] = tps
        print(f"{n:>8} {tps:>9.1f} {p50:>8.2f}s {p99:>8.2f}s {tokens:>7}", flush=True)
    return out


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loom", required=True, help="the loom binary")
    ap.add_argument("-m", "--model", default=os.path.join(os.environ.get("LOOM_MODELS_DIR", os.path.expanduser("~/.cache/loom")),
                                                          "gemma-3-270m-q4_k_m.gguf"),
                    help="GGUF file (default: the default model, where scripts/setup.sh puts it)")
    ap.add_argument("--llama-server", default="", help="llama-server binary to compare with")
    ap.add_argument("--levels", default="1,4,8,16")
    ap.add_argument("--tokens", type=int, default=64, help="tokens generated per stream")
    ap.add_argument("-c", "--ctx", type=int, default=1024, help="context per sequence")
    ap.add_argument("-t", "--threads", type=int, default=0, help="threads (0: every core)")
    ap.add_argument("--port", type=int, default=18181)
    ap.add_argument("--loom-arg", action="append", default=[], help="more `loom serve` arguments (repeatable), e.g. --loom-arg=--fuse-prefill")
    args = ap.parse_args()
    levels = [int(x) for x in args.levels.split(",")]
    slots = max(levels)
    threads = args.threads or len(os.sched_getaffinity(0))

    loom_cmd = [args.loom, "serve", "-m", args.model, "--port", str(args.port), "--parallel", str(slots), "-c", str(args.ctx),
                "-t", str(threads)] + args.loom_arg
    proc = start(loom_cmd, r"ready:")
    url = f"http://127.0.0.1:{args.port}"
    try:
        wait_healthy(url)
        # End-of-generation ids are banned, so that every stream generates exactly --tokens tokens.
        eog = httpx.get(url + "/v1/models").json()["data"][0]["meta"]["eog_ids"]
        results = {"loom": bench(f"loom serve ({' '.join(loom_cmd[1:])})", url, levels, args.tokens, eog)}
    finally:
        stop(proc)

    if args.llama_server:
        # llama-server divides -c among its slots: give it the same context per sequence as loom.
        cmd = [args.llama_server, "-m", args.model, "--port", str(args.port + 1), "-np", str(slots), "-c", str(args.ctx * slots),
               "-t", str(threads), "-cb"]
        proc = start(cmd, r"listening on http")
        url = f"http://127.0.0.1:{args.port + 1}"
        try:
            wait_healthy(url)
            results["llama-server"] = bench(f"llama-server ({' '.join(cmd[1:])})", url, levels, args.tokens, eog)
        finally:
            stop(proc)
        print("\nloom / llama-server aggregate tok/s: " +
              ", ".join(f"{n} streams {results['loom'][n] / results['llama-server'][n]:.2f}x" for n in levels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
