// The chat page, kept in one raw string so the binary serves it with nothing else installed.
#include "server/web_page.h"

namespace loom::server {

const std::string& web_page() {
    static const std::string page = R"PAGE(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>loom</title>
<style>
  body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 0 auto; padding: 1rem; color: #222; }
  header { display: flex; justify-content: space-between; align-items: baseline; }
  #log { border: 1px solid #ccc; border-radius: 6px; padding: .5rem; min-height: 16rem; overflow-y: auto; }
  .msg { white-space: pre-wrap; margin: .4rem 0; }
  .user { color: #064; }
  .assistant { color: #222; }
  .error { color: #a00; }
  form { display: flex; gap: .5rem; margin-top: .5rem; }
  #prompt { flex: 1; padding: .4rem; }
  #stats { color: #666; font-size: .9em; }
  details { margin-top: .5rem; font-size: .9em; }
</style>
</head>
<body>
<header><h1>loom</h1><span><a href="/diagram" target="_blank">architecture</a> <span id="stats"></span></span></header>
<div id="log"></div>
<form id="form">
  <input id="prompt" autocomplete="off" placeholder="Say something" autofocus>
  <button id="send" type="submit">Send</button>
</form>
<details><summary>Settings</summary>
  <label>API key <input id="key" type="password"></label>
  <label>Temperature <input id="temp" type="number" value="0.7" step="0.1" min="0" max="2"></label>
  <label>Max tokens <input id="max" type="number" value="256" min="1"></label>
</details>
<script>
"use strict";
const log = document.getElementById("log"), stats = document.getElementById("stats");
const messages = [];

function line(cls, text) {
  const d = document.createElement("div");
  d.className = "msg " + cls;
  d.textContent = text;
  log.appendChild(d);
  log.scrollTop = log.scrollHeight;
  return d;
}

async function send(text) {
  messages.push({role: "user", content: text});
  line("user", text);
  const out = line("assistant", "");
  const headers = {"Content-Type": "application/json"};
  const key = document.getElementById("key").value;
  if (key) headers["Authorization"] = "Bearer " + key;
  const body = {messages, stream: true, temperature: Number(document.getElementById("temp").value),
                max_tokens: Number(document.getElementById("max").value)};
  const t0 = performance.now();
  let first = 0, tokens = 0, reply = "";
  try {
    const res = await fetch("/v1/chat/completions", {method: "POST", headers, body: JSON.stringify(body)});
    if (!res.ok) {
      const err = await res.json().catch(() => ({error: {message: res.statusText}}));
      throw new Error(err.error ? err.error.message : res.statusText);
    }
    const reader = res.body.getReader(), dec = new TextDecoder();
    let buf = "";
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buf += dec.decode(value, {stream: true});
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const ev = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (!ev.startsWith("data: ")) continue;
        const data = ev.slice(6);
        if (data === "[DONE]") continue;
        const j = JSON.parse(data);
        if (j.error) throw new Error(j.error.message);
        const delta = j.choices && j.choices[0] && j.choices[0].delta;
        const piece = delta ? (delta.content || "") : "";
        if (piece) {
          if (!first) first = performance.now();
          tokens += 1;
          reply += piece;
          out.textContent = reply;
          const s = (performance.now() - first) / 1000;
          stats.textContent = tokens > 1 && s > 0 ? ((tokens - 1) / s).toFixed(1) + " tok/s" : "";
        }
      }
    }
    messages.push({role: "assistant", content: reply});
    const total = (performance.now() - t0) / 1000;
    if (!reply) out.textContent = "(empty reply)";
    stats.textContent = tokens + " chunks, " + (tokens > 1 && first ? ((tokens - 1) / ((performance.now() - first) / 1000)).toFixed(1) : "-") +
                        " tok/s, first after " + ((first - t0) / 1000).toFixed(2) + " s, " + total.toFixed(2) + " s in all";
    out.dataset.done = "1";
  } catch (e) {
    out.className = "msg error";
    out.textContent = "error: " + e.message;
    messages.pop();
  }
}

// "/?q=text[&max_tokens=n]" sends that text at once: a link that opens a conversation (and what the headless
// browser test uses).
const query = new URLSearchParams(location.search);
if (query.get("max_tokens")) document.getElementById("max").value = query.get("max_tokens");
if (query.get("q")) send(query.get("q"));

document.getElementById("form").addEventListener("submit", ev => {
  ev.preventDefault();
  const p = document.getElementById("prompt");
  const text = p.value.trim();
  if (!text) return;
  p.value = "";
  send(text);
});
</script>
</body>
</html>
)PAGE";
    return page;
}

}  // namespace loom::server
