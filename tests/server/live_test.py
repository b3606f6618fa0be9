#!/usr/bin/env python3
"""Live tests of `loom serve` with the official OpenAI client (and raw HTTP where the client hides things).

    python3 tests/server/live_test.py --loom build/release/loom --model synth    # tiny random-weight model
    python3 tests/server/live_test.py --loom build/release/loom --model default  # the default model, fewer cases

Each case starts from a running server; failures are collected and reported together (exit status 1).
"""
import argparse
import concurrent.futures as cf
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

import httpx2 as httpx  # the HTTP client the openai package itself uses
import openai

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Server:
    """A `loom serve` process on a free port; stop() sends SIGTERM and waits."""

    def __init__(self, loom, model, *args, api_key=None):
        cmd = [loom, "serve", "--port", "0", "-t", "2"] + (["-m", model] if model else []) + list(args)
        if api_key:
            cmd += ["--api-key", api_key]
        self.small = model is None  # the default model is slower: fewer and shorter cases
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.port = None
        ready = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.log.append(line)
                m = re.search(r"listening on http://[^:]+:(\d+)", line)
                if m:
                    self.port = int(m.group(1))
                if "ready:" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(120) or self.port is None or self.proc.poll() is not None:
            raise RuntimeError("loom serve did not start:\n" + "".join(self.log))
        self.url = f"http://127.0.0.1:{self.port}"
        self.client = openai.OpenAI(base_url=self.url + "/v1", api_key=api_key or "none", max_retries=0, timeout=300)

    def post(self, path, body, timeout=120):
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return httpx.post(self.url + path, content=data, headers={"Content-Type": "application/json"}, timeout=timeout)

    def metric(self, name):
        text = httpx.get(self.url + "/metrics").text
        m = re.search(rf"^{name} (\S+)$", text, re.M)
        return float(m.group(1)) if m else None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


# ---- helpers ----

def chat(c, content, **kw):
    return c.chat.completions.create(model="m", messages=[{"role": "user", "content": content}], **kw)


def chat_stream_text(c, content, **kw):
    text, chunks = "", []
    for ch in chat(c, content, stream=True, **kw):
        chunks.append(ch)
        for choice in ch.choices:
            text += choice.delta.content or ""
    return text, chunks


def complete_stream_text(c, prompt, **kw):
    text = ""
    for ch in c.completions.create(model="m", prompt=prompt, stream=True, **kw):
        for choice in ch.choices:
            text += choice.text
    return text


def check(cond, what):
    if not cond:
        raise AssertionError(what)


PROMPTS = [f"Story number {i}: once upon a time" for i in range(16)]


# ---- cases ----

def case_models_health(s):
    check(httpx.get(s.url + "/health").status_code == 200, "/health is not 200")
    models = s.client.models.list()
    check(len(models.data) == 1 and models.data[0].id, f"models: {models}")
    page = httpx.get(s.url + "/")
    check(page.status_code == 200 and "<html" in page.text and "/v1/chat/completions" in page.text, "GET / is not the chat page")


def case_chat_shapes(s):
    r = chat(s.client, "Hello there", max_tokens=8, temperature=0)
    check(r.object == "chat.completion" and r.id.startswith("chatcmpl-"), f"object/id: {r.object} {r.id}")
    check(r.created > 1_600_000_000 and r.system_fingerprint.startswith("loom-"), "created/system_fingerprint")
    check(r.choices[0].message.role == "assistant" and isinstance(r.choices[0].message.content, str), "message")
    check(r.choices[0].finish_reason in ("stop", "length"), f"finish_reason {r.choices[0].finish_reason}")
    u = r.usage
    check(u.prompt_tokens > 0 and u.completion_tokens <= 8 and u.total_tokens == u.prompt_tokens + u.completion_tokens, f"usage {u}")
    if r.choices[0].finish_reason == "length":
        check(u.completion_tokens == 8, f"length with {u.completion_tokens} tokens")


def case_stream_equals_whole(s):
    n = 12 if s.small else 24
    for p in PROMPTS[:1 if s.small else 3]:
        whole = chat(s.client, p, max_tokens=n, temperature=0).choices[0].message.content
        streamed, chunks = chat_stream_text(s.client, p, max_tokens=n, temperature=0, stream_options={"include_usage": True})
        check(whole == streamed, f"chat: streamed {streamed!r} != whole {whole!r}")
        check(chunks[-1].usage is not None and chunks[-1].usage.completion_tokens > 0, "no usage chunk at the end")
        check(any(ch.choices and ch.choices[0].finish_reason for ch in chunks), "no finish_reason in the stream")
        cw = s.client.completions.create(model="m", prompt=p, max_tokens=n, temperature=0).choices[0].text
        cs = complete_stream_text(s.client, p, max_tokens=n, temperature=0)
        check(cw == cs, f"completions: streamed {cs!r} != whole {cw!r}")


def case_logprobs_shapes(s):
    r = chat(s.client, "Hi", max_tokens=5, temperature=0, logprobs=True, top_logprobs=3)
    content = r.choices[0].logprobs.content
    check(len(content) == r.usage.completion_tokens, f"{len(content)} logprob entries for {r.usage.completion_tokens} tokens")
    for t in content:
        check(t.logprob <= 0 and len(t.top_logprobs) == 3 and isinstance(t.bytes, list), f"chat logprob entry {t}")
        # temperature 0 picks the most likely token: its logprob is the top one
        check(abs(t.logprob - t.top_logprobs[0].logprob) < 1e-6, f"greedy token is not the top one: {t}")
    n = 0
    for ch in chat(s.client, "Hi", max_tokens=5, temperature=0, logprobs=True, top_logprobs=2, stream=True):
        if ch.choices and ch.choices[0].logprobs:
            for t in ch.choices[0].logprobs.content:
                check(len(t.top_logprobs) == 2, "streamed top_logprobs")
                n += 1
    check(n == len(content), f"streamed {n} logprob entries, whole gave {len(content)}")

    c = s.client.completions.create(model="m", prompt="The cat", max_tokens=4, temperature=0, logprobs=2, echo=True)
    lp = c.choices[0].logprobs
    n_prompt = c.usage.prompt_tokens
    check(len(lp.tokens) == n_prompt + c.usage.completion_tokens, f"echo logprobs: {len(lp.tokens)} tokens")
    check(lp.token_logprobs[0] is None and all(x is not None for x in lp.token_logprobs[1:]), "token_logprobs")
    check(lp.top_logprobs[0] is None and all(len(t) >= 1 for t in lp.top_logprobs[1:]), "top_logprobs")
    check(len(lp.text_offset) == len(lp.tokens) and lp.text_offset == sorted(lp.text_offset), "text_offset")
    check(c.choices[0].text.startswith("The cat"), "echo: the text does not start with the prompt")


def case_stop(s):
    base = s.client.completions.create(model="m", prompt=PROMPTS[4], max_tokens=30, temperature=0).choices[0].text
    check(len(base) > 8, f"too little text to test stop: {base!r}")
    stop = base[len(base) // 2: len(base) // 2 + 3]
    r = s.client.completions.create(model="m", prompt=PROMPTS[4], max_tokens=30, temperature=0, stop=[stop])
    check(r.choices[0].text == base[:base.index(stop)], f"stop {stop!r}: got {r.choices[0].text!r} from {base!r}")
    check(r.choices[0].finish_reason == "stop", "finish_reason is not stop")
    streamed = complete_stream_text(s.client, PROMPTS[4], max_tokens=30, temperature=0, stop=[stop])
    check(streamed == r.choices[0].text, f"streamed stop: {streamed!r}")
    # a token id in `stop` ends generation like end-of-generation does: force token 500 first, stop on it
    r = s.post("/v1/completions", {"prompt": PROMPTS[4], "max_tokens": 30, "temperature": 0, "stop": [500],
                                   "logit_bias": {"500": 100}})
    j = r.json()
    check(r.status_code == 200 and j["choices"][0]["finish_reason"] == "stop" and j["usage"]["completion_tokens"] == 0,
          f"stop id: {r.text}")


def case_seed_and_n(s):
    a = chat(s.client, "Tell me", max_tokens=16, temperature=1.0, seed=42).choices[0].message.content
    b = chat(s.client, "Tell me", max_tokens=16, temperature=1.0, seed=42).choices[0].message.content
    check(a == b, f"same seed, different text: {a!r} / {b!r}")
    texts = {chat(s.client, "Tell me", max_tokens=16, temperature=1.0, seed=k).choices[0].message.content for k in range(3)}
    check(len(texts) > 1, "three seeds gave the same text")
    r = chat(s.client, "Tell me", max_tokens=8, temperature=1.0, n=3, seed=7)
    check([c.index for c in r.choices] == [0, 1, 2], f"n=3 indexes {[c.index for c in r.choices]}")
    r2 = chat(s.client, "Tell me", max_tokens=8, temperature=1.0, n=3, seed=7)
    check([c.message.content for c in r.choices] == [c.message.content for c in r2.choices], "n=3 with a seed is not reproducible")
    c = s.client.completions.create(model="m", prompt=["a b", "c d"], max_tokens=4, n=2, temperature=0)
    check(len(c.choices) == 4 and [x.index for x in c.choices] == [0, 1, 2, 3], "2 prompts × n=2")


def case_tokenize(s):
    r = s.post("/tokenize", {"content": "hello", "with_pieces": True}).json()
    ids = [t["id"] for t in r["tokens"]]
    check(all(isinstance(t["piece"], str) for t in r["tokens"]), "pieces")
    back = s.post("/detokenize", {"tokens": ids}).json()["content"]
    # the synthetic vocabulary has no "▁" piece, so the SentencePiece space prefix travels as its raw bytes
    check(back.replace("\u2581", " ").strip() == "hello", f"detokenize: {back!r}")


def case_concurrency(s, n_clients=16, max_tokens=24):
    prompts = PROMPTS[:n_clients]
    solo = [chat(s.client, p, max_tokens=max_tokens, temperature=0).choices[0].message.content for p in prompts]
    start = threading.Barrier(n_clients)

    def one(p):
        start.wait()
        return chat_stream_text(s.client, p, max_tokens=max_tokens, temperature=0)[0]

    with cf.ThreadPoolExecutor(n_clients) as ex:
        together = list(ex.map(one, prompts))
    bad = [i for i in range(n_clients) if together[i] != solo[i]]
    check(not bad, "beside others != alone for clients " + ", ".join(f"{i}: {together[i]!r} vs {solo[i]!r}" for i in bad[:3]))


def case_cancel(s):
    before = s.metric("loom_generated_tokens_total")
    with httpx.stream("POST", s.url + "/v1/chat/completions", timeout=60,
                      json={"messages": [{"role": "user", "content": "go"}], "max_tokens": 400, "stream": True,
                            "temperature": 1.0, "logit_bias": {"2": -100}}) as r:
        for i, _ in enumerate(r.iter_lines()):
            if i > 6:
                break
    deadline = time.time() + 5
    while time.time() < deadline and s.metric("loom_slots_active") != 0:
        time.sleep(0.05)
    check(s.metric("loom_slots_active") == 0, "the slot is still active after the client left")
    generated = s.metric("loom_generated_tokens_total") - before
    check(generated < 100, f"generation went on after the client left ({generated} tokens)")


def case_malformed(s):
    long_prompt = list(range(3, 3 + 600))  # more ids than the 512-token context
    cases = [
        ("/v1/chat/completions", b"{not json", None),
        ("/v1/chat/completions", [1, 2], None),
        ("/v1/chat/completions", {}, "messages"),
        ("/v1/chat/completions", {"messages": []}, "messages"),
        ("/v1/chat/completions", {"messages": "hi"}, "messages"),
        ("/v1/chat/completions", {"messages": [{"role": "wizard", "content": "x"}]}, "messages[0].role"),
        ("/v1/chat/completions", {"messages": [{"role": "user"}]}, "messages[0].content"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}, "messages[0].content[0].type"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "temperature": "hot"}, "temperature"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "temperature": -1}, "temperature"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "temperature": 1e400}, None),
        ("/v1/chat/completions", b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}', None),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "top_p": 1.5}, "top_p"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": -1}, "max_tokens"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 1e30}, "max_tokens"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 2.5}, "max_tokens"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "n": 1000}, "n"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "logprobs": True, "top_logprobs": 25}, "top_logprobs"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "top_logprobs": 2}, "top_logprobs"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "logit_bias": {"99999": 1}}, "logit_bias.99999"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "logit_bias": {"abc": 1}}, "logit_bias.abc"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "logit_bias": {"5": 500}}, "logit_bias.5"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stop": [99999]}, "stop[0]"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stop": [""]}, "stop[0]"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stop": {"a": 1}}, "stop"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "seed": "x"}, "seed"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stream": "yes"}, "stream"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": True}}, "stream_options"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "string", "pattern": "(a)\\1"}}}}, "response_format.json_schema.schema"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function"}]}, "tools[0].function"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "presence_penalty": 3}, "presence_penalty"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "chat_template_kwargs": []}, "chat_template_kwargs"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x " * 2000}]}, "messages"),
        ("/v1/completions", {}, "prompt"),
        ("/v1/completions", {"prompt": ""}, "prompt"),
        ("/v1/completions", {"prompt": []}, "prompt"),
        ("/v1/completions", {"prompt": [99999]}, "prompt[0]"),
        ("/v1/completions", {"prompt": [-1]}, "prompt[0]"),
        ("/v1/completions", {"prompt": [[1, 2], "x", 5]}, "prompt[2]"),
        ("/v1/completions", {"prompt": long_prompt}, "prompt"),
        ("/v1/completions", {"prompt": "x", "logprobs": 21}, "logprobs"),
        ("/v1/completions", {"prompt": "x", "logprobs": True, "max_tokens": 0}, "max_tokens"),
        ("/v1/completions", {"prompt": "x", "suffix": "y"}, "suffix"),
        ("/v1/completions", {"prompt": "x", "best_of": 3}, "best_of"),
        ("/tokenize", {"content": 5}, "content"),
        ("/detokenize", {"tokens": [1, 99999]}, "tokens[1]"),
        ("/detokenize", {"tokens": "abc"}, "tokens"),
    ]
    bad = []
    for path, body, param in cases:
        r = s.post(path, body)
        ok = 400 <= r.status_code < 500
        try:
            err = r.json()["error"]
            ok = ok and all(k in err for k in ("message", "type", "param", "code")) and err["message"]
            if param is not None:
                ok = ok and err["param"] == param
        except Exception:
            ok = False
        if not ok:
            bad.append(f"{path} {str(body)[:80]} -> {r.status_code} {r.text[:200]}")
    # a body over 16 MiB is refused before it is read
    r = s.post("/v1/completions", b'{"prompt": "' + b"a" * (17 << 20) + b'"}')
    if r.status_code != 413:
        bad.append(f"17 MiB body -> {r.status_code}")
    check(httpx.get(s.url + "/nope").status_code == 404, "unknown route is not 404")
    check(not bad, "not a 4xx with an OpenAI error naming the field:\n  " + "\n  ".join(bad))
    check(s.proc.poll() is None, "the server died")


def case_structured_output(s):
    """json_schema through the client's parse() with a Pydantic model, json_object, and llama-server's grammar."""
    import pydantic

    class Item(pydantic.BaseModel):
        name: str = pydantic.Field(max_length=8)
        count: int
        tags: list[bool] = pydantic.Field(max_length=3)

    for seed in range(3):
        r = s.client.chat.completions.parse(model="m", messages=[{"role": "user", "content": "An item as JSON"}],
                                            response_format=Item, max_tokens=400, seed=seed)
        check(r.choices[0].finish_reason == "stop", f"finish_reason {r.choices[0].finish_reason}")
        check(isinstance(r.choices[0].message.parsed, Item), f"not parsed: {r.choices[0].message.content!r}")
    r = s.client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], max_tokens=300,
                                         response_format={"type": "json_object"}, seed=1)
    if r.choices[0].finish_reason == "stop":
        check(isinstance(json.loads(r.choices[0].message.content), dict), r.choices[0].message.content)
    r = s.post("/v1/completions", {"prompt": "x", "grammar": 'root ::= "yes" | "no"', "max_tokens": 5})
    check(r.status_code == 200 and r.json()["choices"][0]["text"] in ("yes", "no"), r.text)
    r = s.post("/v1/completions", {"prompt": "x", "grammar": 'root ::= "yes'})
    check(r.status_code == 400 and r.json()["error"]["param"] == "grammar", r.text)


def case_web_page(s):
    """The chat page in headless Chromium, driven over the DevTools protocol: /?q= sends a message with a system
    prompt; the reply finishes with its speed and cached tokens; a second turn carries the history; Stop ends a
    reply; replies render as Markdown with everything the model wrote escaped, reasoning apart; a screenshot."""
    import base64
    import websocket  # websocket-client (tools/requirements.txt)
    browser = next((b for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)
    check(browser, "no Chromium on PATH (scripts/setup.sh installs Debian's chromium)")
    # Chromium's helper processes may still write to the profile as it ends: they get their own process group
    # (ended together), and leftovers do not fail the clean-up.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as profile:
        proc = subprocess.Popen([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 f"--user-data-dir={profile}", "--remote-debugging-port=0", "--window-size=1100,800",
                                 "about:blank"],
                                stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            port = None
            for line in proc.stderr:
                m = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
                if m:
                    port = int(m.group(1))
                    break
            check(port, "Chromium printed no DevTools address")
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # keep its pipe drained
            page = next(t for t in httpx.get(f"http://127.0.0.1:{port}/json/list").json() if t["type"] == "page")
            ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=30)
            ids = iter(range(1, 1 << 30))

            def call(method, **params):
                i = next(ids)
                ws.send(json.dumps({"id": i, "method": method, "params": params}))
                while True:
                    msg = json.loads(ws.recv())
                    if msg.get("id") == i:
                        return msg.get("result", {})

            def js(expression):
                r = call("Runtime.evaluate", returnByValue=True, expression=expression)
                check("exceptionDetails" not in r, f"{expression[:60]}: {r.get('exceptionDetails')}")
                return r.get("result", {}).get("value")

            def wait_for(expression, limit=60):
                deadline = time.time() + limit
                while time.time() < deadline:
                    v = js(expression)
                    if v:
                        return v
                    time.sleep(0.2)
                return None

            call("Page.navigate", url=s.url + "/?q=Hello&max_tokens=16&system=Answer%20briefly.")
            reply = wait_for("(() => { const d = document.querySelectorAll('.msg.assistant[data-done]');"
                             " return d.length ? [d[0].textContent, document.getElementById('stats').textContent] : null; })()")
            check(reply and reply[0].strip(), f"no finished reply in the page: {reply}")
            check("tok/s" in reply[1] and "tok/s" in reply[0], f"no tokens/s shown: {reply}")
            check("cached)" in reply[0], f"no prompt and cached tokens shown: {reply[0]!r}")
            check(js("requestBody().messages[0].role") == "system", "the system prompt is not sent")
            check(js("document.getElementById('model').textContent"), "no model name in the header")

            # A second turn through the form: the history goes with it.
            js("$('prompt').value = 'And again?'; $('form').requestSubmit(); 1")
            check(wait_for("document.querySelectorAll('.msg.assistant[data-done]').length === 2"), "no second reply")
            check(js("messages.length") == 4 and js("messages[2].content") == "And again?", f"history: {js('messages')}")

            # Stop while the reply is on its way: the button says Stop, a second submit aborts.
            busy = js("$('max').value = 400; $('prompt').value = 'stop me'; $('form').requestSubmit();"
                      " const b = $('send').textContent; $('form').requestSubmit(); b")
            check(busy == "Stop", f"the send button reads {busy!r} while a reply streams")
            check(wait_for("document.querySelector('.msg.assistant[data-stopped][data-done]') !== null"), "no stopped reply")
            check(js("$('send').textContent") == "Send", "the button did not go back to Send")

            # Markdown: structure from the text, never markup from it.
            html = js(r"""renderMarkdown("# Title\n\nSome **bold** and `x<y`.\n```py\nif a < b:\n    pass\n```\n- one\n- two\n"
                                        + "<img src=x onerror=alert(1)>")""")
            for want in ("<h3>Title</h3>", "<strong>bold</strong>", "<code>x&lt;y</code>",
                         '<pre><code data-lang="py">if a &lt; b:\n    pass</code></pre>', "<ul><li>one</li><li>two</li></ul>",
                         "&lt;img src=x onerror=alert(1)&gt;"):
                check(want in html, f"markdown lacks {want!r}: {html!r}")
            check("<img" not in html, f"markup from the text reached the page: {html!r}")
            shown = js("(() => { const el = document.createElement('div'); showReply(el, 'Let me think.', '**Yes.**');"
                       " return [el.querySelector('details.reasoning .text').textContent, el.querySelector('.content').innerHTML]; })()")
            check(shown == ["Let me think.", "<p><strong>Yes.</strong></p>"], f"reasoning apart from the answer: {shown}")

            shot = base64.b64decode(call("Page.captureScreenshot", format="png").get("data", ""))
            check(shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10000, f"screenshot of {len(shot)} bytes")
            out_dir = os.environ.get("LOOM_TEST_ARTIFACTS", tempfile.gettempdir())
            with open(os.path.join(out_dir, "loom-chat-page.png"), "wb") as f:
                f.write(shot)
            ws.close()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def case_metrics(s):
    text = httpx.get(s.url + "/metrics").text
    for name in ("loom_requests_total", "loom_time_to_first_token_seconds_bucket", "loom_inter_token_seconds_count",
                 "loom_queue_length", "loom_kv_cache_used_positions", "loom_recurrent_state_bytes_per_sequence",
                 "loom_generated_tokens_total", "loom_prefix_cache_hits_total", "loom_prompt_tokens_cached_total"):
        check(name in text, f"/metrics lacks {name}")


# Cases that need a server of their own.

def case_queue_full(loom, model):
    # long generations (the scalar reference kernels, 2000 tokens) keep the slot and the queue busy meanwhile
    s = Server(loom, model, "--parallel", "1", "--queue", "1", "-c", "2048", "--backend", "ref")
    try:
        body = {"messages": [{"role": "user", "content": "go"}], "max_tokens": 2000, "stream": True, "logit_bias": {"2": -100}}
        streams = []
        for _ in range(2):  # one generating, one waiting
            cm = httpx.stream("POST", s.url + "/v1/chat/completions", json=body, timeout=60)
            streams.append((cm, cm.__enter__()))
            time.sleep(0.1)
        r = s.post("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 2})
        check(r.status_code == 503 and r.headers.get("retry-after"), f"full queue: {r.status_code} {r.text}")
        check(r.json()["error"]["code"] == "queue_full", "error code")
        for cm, _ in streams:
            cm.__exit__(None, None, None)
        # Both left: the slot and the queue free up and a new request is served, long before the 2000 tokens
        # would have been generated on the reference kernels.
        deadline = time.time() + 30
        while True:
            r = s.post("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 2})
            if r.status_code != 503 or time.time() > deadline:
                break
            time.sleep(0.1)
        check(r.status_code == 200, f"after the clients left: {r.status_code} {r.text}")
        # A client of a non-streamed request that gives up: the server notices the closed connection while it
        # waits, and frees the slot (a new request is served long before 2000 tokens).
        try:
            s.post("/v1/chat/completions", dict(body, stream=False), timeout=0.5)
            check(False, "the 2000-token request finished within 0.5 s")
        except httpx.TimeoutException:
            pass
        deadline = time.time() + 30
        while True:
            r = s.post("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}], "max_tokens": 2})
            if r.status_code != 503 or time.time() > deadline:
                break
            time.sleep(0.1)
        check(r.status_code == 200, f"after a non-streaming client left: {r.status_code} {r.text}")
        check(s.metric("loom_generated_tokens_total") < 1000, "generation went on after the clients left")
    finally:
        s.stop()


def case_api_key_and_bind(loom, model):
    s = Server(loom, model, "-c", "256", api_key="sekrit")
    try:
        check(httpx.get(s.url + "/v1/models").status_code == 401, "no key: not 401")
        check(httpx.get(s.url + "/v1/models", headers={"Authorization": "Bearer wrong"}).status_code == 401, "wrong key: not 401")
        check(httpx.get(s.url + "/health").status_code == 200, "/health needs no key")
        check(len(s.client.models.list().data) == 1, "with the key")
        check("access-control-allow-origin" not in httpx.get(s.url + "/health").headers, "CORS header without --cors-origin")
    finally:
        s.stop()
    p = subprocess.run([loom, "serve", "-m", model, "--host", "0.0.0.0", "--port", "0"], capture_output=True, text=True, timeout=30)
    check(p.returncode != 0 and "--api-key" in p.stderr, f"public bind without a key: rc {p.returncode} {p.stderr}")


def case_sigterm_drains(loom, model):
    s = Server(loom, model, "-c", "512")
    got = {}

    def stream():
        got["text"], got["chunks"] = chat_stream_text(s.client, "drain", max_tokens=60, temperature=0, logit_bias={"2": -100})

    t = threading.Thread(target=stream)
    t.start()
    time.sleep(0.2)
    s.proc.send_signal(signal.SIGTERM)
    t.join(60)
    rc = s.proc.wait(60)
    check(rc == 0, f"exit status {rc}")
    usage_tokens = sum(1 for ch in got.get("chunks", []) if ch.choices and ch.choices[0].delta.content)
    check(got.get("chunks") and got["chunks"][-1].choices[0].finish_reason == "length",
          f"the in-flight stream did not finish: {usage_tokens} chunks")


def case_prefix_cache(loom, model):
    # Passes of 16 tokens: a follow-up turn restores the last 16-token boundary of the earlier prompt, and gives what
    # a server without the cache gives (temperature 0, the same bits).
    s = Server(loom, model, "-b", "16", "-c", "512")
    cold = Server(loom, model, "-b", "16", "-c", "512", "--cache-ram", "0")
    try:
        msgs = [{"role": "user", "content": "the quick brown fox jumps over the lazy dog " * 6}]
        replies = []
        for turn in range(3):
            got = []
            for srv in (s, cold):
                r = srv.client.chat.completions.create(model="m", messages=msgs, max_tokens=6, temperature=0,
                                                       logit_bias={"2": -100})
                got.append((r.choices[0].message.content, r.usage))
            (text, usage), (cold_text, cold_usage) = got
            check(text == cold_text, f"turn {turn}: {text!r} with the cache, {cold_text!r} without")
            cached = usage.prompt_tokens_details.cached_tokens
            check(cold_usage.prompt_tokens_details.cached_tokens == 0, "the cold server reports cached tokens")
            if turn == 0:
                check(cached == 0, f"first turn: {cached} cached tokens")
            else:
                want = replies[-1] // 16 * 16
                check(cached == want, f"turn {turn}: {cached} cached tokens, expected {want} ({usage.prompt_tokens} in the prompt)")
            replies.append(usage.prompt_tokens)
            msgs += [{"role": "assistant", "content": text}, {"role": "user", "content": f"and then {turn}?"}]
        check(s.metric("loom_prefix_cache_hits_total") == 2, "hits in /metrics")
        check(s.metric("loom_prefix_cache_entries") >= 1, "entries in /metrics")
        check(s.metric("loom_prompt_tokens_cached_total") > 0, "cached tokens in /metrics")
    finally:
        s.stop()
        cold.stop()


def case_keep_alive_and_cors(loom, model):
    # The scalar reference kernels make the prefill of a long prompt last: keep-alive comments come meanwhile.
    s = Server(loom, model, "-c", "2048", "--backend", "ref", "--sse-keep-alive", "0.05", "--cors-origin", "*")
    try:
        body = {"messages": [{"role": "user", "content": "word " * 200}], "max_tokens": 2, "stream": True}
        lines = []
        with httpx.stream("POST", s.url + "/v1/chat/completions", json=body, timeout=300) as r:
            for line in r.iter_lines():
                lines.append(line)
        data = [i for i, l in enumerate(lines) if l.startswith("data: ")]
        # Between the role chunk (sent at once) and the next chunk, the prompt prefills.
        comments = [l for l in lines[data[0]:data[1]] if l.startswith(":")]
        check(comments and comments[0] == ": keep-alive", f"no keep-alive before the first token: {lines[:6]}")
        check(lines[-1] == "data: [DONE]" or lines[-2] == "data: [DONE]", "the stream did not end with [DONE]")
        # The OpenAI JavaScript client's preflight: its x-stainless-* headers and Authorization are allowed.
        asked = "authorization, content-type, x-stainless-os, x-stainless-lang"
        r = httpx.request("OPTIONS", s.url + "/v1/chat/completions",
                          headers={"Origin": "http://example.com", "Access-Control-Request-Method": "POST",
                                   "Access-Control-Request-Headers": asked})
        check(r.status_code == 204, f"preflight: {r.status_code}")
        check(r.headers.get("access-control-allow-headers") == asked, f"allowed headers: {r.headers}")
        check(r.headers.get("access-control-allow-origin") == "*", "allowed origin")
    finally:
        s.stop()
    s = Server(loom, model, "-c", "256", "--cors-origin", "http://a.example", "--cors-allow-headers", "Authorization")
    try:
        r = httpx.request("OPTIONS", s.url + "/v1/models", headers={"Access-Control-Request-Headers": "x-other"})
        check(r.headers.get("access-control-allow-headers") == "Authorization", f"configured headers: {r.headers}")
    finally:
        s.stop()


TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
                                      "parameters": {"type": "object",
                                                     "properties": {"city": {"type": "string", "maxLength": 12},
                                                                    "unit": {"enum": ["celsius", "fahrenheit"]}},
                                                     "required": ["city"], "additionalProperties": False}}},
    {"type": "function", "function": {"name": "add", "description": "Add two integers",
                                      "parameters": {"type": "object",
                                                     "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
                                                     "required": ["a", "b"], "additionalProperties": False}}},
]


def check_call(call, names):
    check(call.type == "function" and call.function.name in names, f"call {call}")
    args = json.loads(call.function.arguments)
    check(isinstance(args, dict), f"arguments {call.function.arguments!r}")
    if call.function.name == "get_weather":
        check(isinstance(args.get("city"), str) and set(args) <= {"city", "unit"}, f"arguments {args}")
    else:
        check(isinstance(args.get("a"), int) and isinstance(args.get("b"), int), f"arguments {args}")


def case_tools(loom, model):
    """Tool calls through the openai client, for several real templates on the synthetic model: a tool loop (call →
    tool result → answer), streamed calls (OpenAI's chunking) equal to the whole answer, and 400s naming the field."""
    for tmpl in ["Qwen-Qwen2.5-7B-Instruct.jinja", "Mistral-Small-3.2-24B-Instruct-2506.jinja",
                 "meta-llama-Llama-3.1-8B-Instruct.jinja"]:
        s = Server(loom, model, "--parallel", "2", "-c", "2048", "--chat-template-file",
                   os.path.join(ROOT, "tests/data/chat_templates/templates", tmpl))
        try:
            c = s.client
            # A short system message (Mistral's default one is long); Llama 3.1 writes tools as indented JSON, so
            # it gets one tool: the synthetic model's 1000-token vocabulary makes long prompts.
            messages = [{"role": "system", "content": "Use the tools."},
                        {"role": "user", "content": "What is the weather in Bern, and what is 3 + 4?"}]
            tools = TOOLS[1:] if "Llama-3.1" in tmpl else TOOLS
            for seed in range(2):
                # One call: a random model given parallel calls goes on calling until max_tokens.
                r = c.chat.completions.create(model="m", messages=messages, tools=tools, tool_choice="required",
                                              parallel_tool_calls=False, temperature=1.5, seed=seed, max_tokens=400)
                ch = r.choices[0]
                check(ch.finish_reason == "tool_calls", f"{tmpl}: finish_reason {ch.finish_reason}: {ch.message}")
                check(ch.message.tool_calls, f"{tmpl}: no tool calls: {ch.message}")
                for call in ch.message.tool_calls:
                    check_call(call, {"get_weather", "add"})
            # The loop: the call and its result go back; the model answers in text (tools still offered).
            history = messages + [ch.message.model_dump(exclude_none=True)]
            for call in ch.message.tool_calls:
                history.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21 °C"})
            r2 = c.chat.completions.create(model="m", messages=history, tools=tools, tool_choice="none",
                                           max_tokens=16, seed=3)
            check(r2.choices[0].message.tool_calls is None, f"{tmpl}: calls with tool_choice none")
            check(isinstance(r2.choices[0].message.content, str), f"{tmpl}: {r2.choices[0].message}")
            check(r2.choices[0].finish_reason in ("stop", "length"), r2.choices[0].finish_reason)

            # Streamed: the first chunk of a call has index, id, type and name; then argument fragments.
            named = {"type": "function", "function": {"name": "add"}}
            kw = dict(model="m", messages=messages, tools=tools, tool_choice=named, temperature=1.5, seed=7,
                      max_tokens=400)
            whole = c.chat.completions.create(**kw).choices[0]
            calls, finish = {}, None
            for chunk in c.chat.completions.create(stream=True, **kw):
                for choice in chunk.choices:
                    finish = choice.finish_reason or finish
                    for d in choice.delta.tool_calls or []:
                        if d.index not in calls:
                            check(d.id and d.type == "function" and d.function.name, f"first call chunk {d}")
                            calls[d.index] = {"id": d.id, "name": d.function.name, "arguments": ""}
                        else:
                            check(d.id is None and (d.function.name is None), f"later chunk {d}")
                        calls[d.index]["arguments"] += d.function.arguments or ""
            check(finish == "tool_calls", f"{tmpl}: streamed finish_reason {finish}")
            check([(x["name"], json.loads(x["arguments"])) for x in calls.values()] ==
                  [(x.function.name, json.loads(x.function.arguments)) for x in whole.message.tool_calls],
                  f"{tmpl}: streamed {calls} vs whole {whole.message.tool_calls}")

            for bad, param in [(dict(tool_choice={"type": "function", "function": {"name": "nope"}}),
                                "tool_choice.function.name"),
                               (dict(tools=None, tool_choice="required"), "tool_choice")]:
                args = dict(model="m", messages=messages, tools=tools, max_tokens=4)
                args.update(bad)
                if args["tools"] is None:
                    del args["tools"]
                try:
                    c.chat.completions.create(**args)
                    check(False, f"no 400 for {bad}")
                except openai.BadRequestError as e:
                    check(e.body.get("param") == param, f"{bad}: {e.body}")
            r = s.post("/v1/chat/completions", {"messages": messages + [{"role": "tool", "content": "x"}]})
            check(r.status_code == 400 and r.json()["error"]["param"] == "messages[2].tool_call_id", r.text)
        finally:
            check(s.stop() == 0, "clean exit")


def case_diffusion(loom, model):
    # A masked-diffusion model (the synthetic llada): completions fill a canvas; streamed, the text comes block by
    # block; fields of a left-to-right sampler are refused by name.
    tmp = tempfile.mkdtemp(prefix="loom-serve-llada-")
    llada = os.path.join(tmp, "llada.gguf")
    subprocess.run([loom, "synth", os.path.join(ROOT, "tests/data/synth/llada.toml"), "-o", llada], check=True,
                   capture_output=True)
    s = Server(loom, llada, "-c", "256", "--diffusion-steps", "6", "--diffusion-block-length", "16")
    try:
        r = s.post("/v1/completions", {"prompt": "once upon a time", "max_tokens": 32, "top_k": 1, "seed": 3})
        check(r.status_code == 200, f"diffusion completion: {r.status_code} {r.text}")
        whole = r.json()["choices"][0]["text"]
        check(r.json()["usage"]["completion_tokens"] > 0, f"usage: {r.json()['usage']}")
        pieces = [ch.choices[0].text for ch in s.client.completions.create(model="m", prompt="once upon a time", max_tokens=32,
                                                                             stream=True, seed=3, extra_body={"top_k": 1})
                  if ch.choices and ch.choices[0].text]
        check("".join(pieces) == whole, f"streamed {''.join(pieces)!r}, whole {whole!r}")
        for field, value in (("logprobs", 2), ("presence_penalty", 0.5), ("min_p", 0.1)):
            r = s.post("/v1/completions", {"prompt": "x", "max_tokens": 8, field: value})
            check(r.status_code == 400 and r.json()["error"]["param"] == field, f"{field}: {r.status_code} {r.text}")
    finally:
        s.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--loom", required=True)
    ap.add_argument("--model", default="synth", help="synth (a tiny random-weight model) or default (the default model)")
    ap.add_argument("-k", default="", help="run only cases whose name contains this")
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="loom-serve-test-")
    if args.model == "synth":
        model = os.path.join(tmp, "llama.gguf")
        subprocess.run([args.loom, "synth", os.path.join(ROOT, "tests/data/synth/llama.toml"), "-o", model], check=True,
                       capture_output=True)
        shared = [case_models_health, case_chat_shapes, case_stream_equals_whole, case_logprobs_shapes, case_stop,
                  case_seed_and_n, case_tokenize, case_concurrency, case_cancel, case_malformed, case_structured_output,
                  case_web_page, case_metrics]
        own = [case_queue_full, case_api_key_and_bind, case_sigterm_drains, case_prefix_cache, case_keep_alive_and_cors,
               case_diffusion, case_tools]
        serve_args = ["--parallel", "16", "-c", "512"]
    else:
        model = None  # the default model
        shared = [case_models_health, case_chat_shapes, case_stream_equals_whole, case_logprobs_shapes, case_stop,
                  case_seed_and_n, lambda s: case_concurrency(s, n_clients=4, max_tokens=12)]
        shared[-1].__name__ = "case_concurrency_4"
        own = []
        serve_args = ["--parallel", "4", "-c", "2048"]

    failures = []

    def run(name, fn):
        if args.k not in name:
            return
        t0 = time.time()
        try:
            fn()
            print(f"ok    {name} ({time.time() - t0:.1f} s)", flush=True)
        except Exception:
            failures.append(name)
            print(f"FAIL  {name}\n{traceback.format_exc()}", flush=True)

    s = Server(args.loom, model, *serve_args)
    try:
        for fn in shared:
            run(fn.__name__, lambda: fn(s))
    finally:
        rc = s.stop()
        if rc != 0:
            failures.append("clean exit")
            print(f"FAIL  the server exited with {rc}:\n" + "".join(s.log[-20:]))
    for fn in own:
        run(fn.__name__, lambda: fn(args.loom, model))
    print(f"{len(failures)} failed" + (": " + ", ".join(failures) if failures else ""))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
