#!/usr/bin/env python3
"""Time to first token of a growing conversation, with and without loom serve's prefix cache (a benchmark, not a
test).

Starts two `loom serve` on the same model: one with the prefix cache (the default) and one with --cache-ram 0. A
conversation of --turns turns (each a ~250-token user message and a temperature-0 reply of --reply tokens) grows
to about 3,000 tokens; each turn's messages go to the cached server, then the very same messages to the cold one,
one request at a time, so the two never compete for the cores. Prints per turn the prompt size, the tokens the
cache restored, both times to first token and their ratio, and checks that both servers replied the same text.

    python3 tools/prefix_cache_bench.py --loom build/release/loom
"""
import argparse
import os
import sys

import httpx2 as httpx  # the HTTP client the openai package uses

from serve_bench import start, stop, stream_chat, wait_healthy

TOPICS = ["rivers", "bridges", "clocks", "bees", "glass", "maps", "salt", "bells", "kites", "ink", "wool", "tides"]


def user_message(turn):
    # About 250 tokens of ordinary prose (with the template and a reply, a turn adds ~300), different every turn.
    t = TOPICS[turn % len(TOPICS)]
    sentences = [f"Tell me more about {t}, and in particular about how people in different places and times have "
                 f"understood {t}, used {t} in their daily work, and told stories in which {t} mattered."]
    for i in range(6):
        sentences.append(f"Point {i + 1}: consider what a careful observer of {t} would write down on day {i + 3} "
                         f"of a long journey, noting the weather, the light and the sounds near the {t}.")
    return " ".join(sentences)


def ask(url, messages, n_reply):
    body = {"messages": messages, "max_tokens": n_reply, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    t0, first, _, usage, text = stream_chat(url, body)
    return first - t0, text, usage


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--loom", required=True, help="the loom binary")
    ap.add_argument("-m", "--model", default=os.path.join(os.environ.get("LOOM_MODELS_DIR", os.path.expanduser("~/.cache/loom")),
                                                          "gemma-3-270m-q4_k_m.gguf"))
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--chat-template-file", default=os.path.join(here, "..", "tests", "data", "chat_templates", "templates",
                                                                 "google-gemma-3-it.jinja"))
    ap.add_argument("--turns", type=int, default=10)
    ap.add_argument("--reply", type=int, default=48, help="tokens per reply")
    ap.add_argument("-t", "--threads", type=int, default=0)
    ap.add_argument("--port", type=int, default=18281)
    ap.add_argument("--loom-arg", action="append", default=[], help="more `loom serve` arguments for both servers")
    args = ap.parse_args()
    threads = args.threads or len(os.sched_getaffinity(0))
    common = ["serve", "-m", args.model, "--parallel", "1", "-c", "4096", "-t", str(threads),
              "--chat-template-file", args.chat_template_file] + args.loom_arg
    warm_cmd = [args.loom] + common + ["--port", str(args.port)]
    cold_cmd = [args.loom] + common + ["--port", str(args.port + 1), "--cache-ram", "0"]
    procs = [start(warm_cmd, r"ready:"), start(cold_cmd, r"ready:")]
    warm, cold = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"
    try:
        wait_healthy(warm)
        wait_healthy(cold)
        ask(warm, [{"role": "user", "content": "hello"}], 4)
        ask(cold, [{"role": "user", "content": "hello"}], 4)
        print(f"{'turn':>4} {'prompt':>7} {'cached':>7} {'TTFT cached':>12} {'TTFT cold':>10} {'ratio':>6}")
        messages, ratios = [], []
        for turn in range(args.turns):
            messages.append({"role": "user", "content": user_message(turn)})
            t_warm, text, usage = ask(warm, messages, args.reply)
            t_cold, text_cold, _ = ask(cold, messages, args.reply)
            if text != text_cold:
                print(f"turn {turn + 1}: the replies differ with and without the cache", file=sys.stderr)
                return 1
            cached = usage["prompt_tokens_details"]["cached_tokens"]
            ratio = t_warm / t_cold
            if turn > 0:
                ratios.append(ratio)
            print(f"{turn + 1:>4} {usage['prompt_tokens']:>7} {cached:>7} {t_warm:>11.3f}s {t_cold:>9.3f}s {ratio:>6.2f}",
                  flush=True)
            messages.append({"role": "assistant", "content": text})
        ratios.sort()
        print(f"follow-up turns: TTFT cached / cold median {ratios[len(ratios) // 2]:.3f}, worst {ratios[-1]:.3f}")
        print("metrics:", " ".join(l for l in httpx.get(warm + "/metrics").text.splitlines()
                                    if l.startswith("loom_prefix_cache") or l.startswith("loom_prompt_tokens")))
    finally:
        for p in procs:
            stop(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
