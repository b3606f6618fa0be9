// The chat page, kept in one raw string so the binary serves it with nothing else installed: a conversation with
// the served model through /v1/chat/completions (streamed), replies rendered as Markdown (escaped first: nothing
// the model writes becomes markup of its own), reasoning shown apart, a stop button, the system prompt and sampling
// settings (kept in the browser's localStorage), and each reply's speed, first-token time and cached tokens.
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
  :root { --fg: #1d2125; --dim: #6b7280; --line: #d9dde3; --user: #eef4ff; --code: #f5f6f8; --accent: #2458c6; }
  * { box-sizing: border-box; }
  body { font-family: system-ui, sans-serif; margin: 0; color: var(--fg); display: flex; height: 100vh; }
  main { flex: 1; display: flex; flex-direction: column; min-width: 0; }
  header { display: flex; gap: 1rem; align-items: baseline; padding: .6rem 1rem; border-bottom: 1px solid var(--line); }
  header h1 { font-size: 1.1rem; margin: 0; }
  header .model { color: var(--dim); flex: 1; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
  header a, header button { font-size: .9rem; }
  #log { flex: 1; overflow-y: auto; padding: 1rem; }
  .msg { max-width: 48rem; margin: 0 auto .8rem; padding: .5rem .8rem; border-radius: 8px; line-height: 1.45; }
  .msg.user { background: var(--user); white-space: pre-wrap; }
  .msg.error { color: #a00; border: 1px solid #e8b4b4; }
  .msg .meta { color: var(--dim); font-size: .8rem; margin-top: .3rem; }
  .msg pre { background: var(--code); padding: .6rem; border-radius: 6px; overflow-x: auto; position: relative; }
  .msg code { background: var(--code); padding: 0 .2rem; border-radius: 3px; font-size: .92em; }
  .msg pre code { padding: 0; background: none; }
  .msg pre button.copy { position: absolute; top: .3rem; right: .3rem; font-size: .75rem; }
  .msg p { margin: .3rem 0; }
  details.reasoning { color: var(--dim); border-left: 3px solid var(--line); padding-left: .6rem; margin-bottom: .4rem; }
  details.reasoning .text { white-space: pre-wrap; font-size: .92em; }
  form { display: flex; gap: .5rem; padding: .6rem 1rem; border-top: 1px solid var(--line); }
  #prompt { flex: 1; padding: .5rem; font: inherit; resize: vertical; min-height: 2.6rem; max-height: 40vh; }
  #send { min-width: 5rem; }
  #send.stop { background: #a00; color: white; }
  aside { width: 18rem; border-left: 1px solid var(--line); padding: .8rem; overflow-y: auto; font-size: .9rem; }
  aside label { display: block; margin: .5rem 0 .2rem; color: var(--dim); }
  aside input, aside textarea { width: 100%; font: inherit; padding: .3rem; }
  aside textarea { min-height: 6rem; resize: vertical; }
  #stats { color: var(--dim); font-size: .85rem; }
  @media (max-width: 720px) { aside { display: none; } body.settings aside { display: block; position: fixed;
    right: 0; top: 0; bottom: 0; background: white; } }
</style>
</head>
<body>
<main>
  <header><h1>loom</h1><span class="model" id="model"></span><span id="stats"></span>
    <button id="new" type="button">New chat</button><button id="toggle" type="button">Settings</button>
    <a href="/diagram" target="_blank">architecture</a></header>
  <div id="log"></div>
  <form id="form">
    <textarea id="prompt" rows="1" placeholder="Message (Enter sends, Shift+Enter for a new line)" autofocus></textarea>
    <button id="send" type="submit">Send</button>
  </form>
</main>
<aside>
  <label for="system">System prompt</label><textarea id="system" placeholder="none"></textarea>
  <label for="temp">Temperature</label><input id="temp" type="number" value="0.7" step="0.1" min="0" max="2">
  <label for="top_p">Top p</label><input id="top_p" type="number" value="0.95" step="0.05" min="0" max="1">
  <label for="max">Max tokens</label><input id="max" type="number" value="512" min="1">
  <label for="seed">Seed (empty: random)</label><input id="seed" type="number">
  <label for="key">API key</label><input id="key" type="password" autocomplete="off">
</aside>
<script>
"use strict";
const $ = id => document.getElementById(id);
const log = $("log"), stats = $("stats"), sendButton = $("send");
const settings = ["system", "temp", "top_p", "max", "seed", "key"];
let messages = [];      // the conversation as the API takes it (without the system prompt)
let controller = null;  // the reply being generated, to stop it

// Markdown of a reply as HTML. The text is escaped first, so only the markup made here reaches the page.
function escapeHtml(s) {
  return s.replace(/[&<>"']/g, c => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"})[c]);
}
function inline(s) {
  return s.replace(/`([^`\n]+)`/g, "<code>$1</code>")
          .replace(/\*\*([^*\n]+)\*\*/g, "<strong>$1</strong>")
          .replace(/(^|[^*])\*([^*\n]+)\*/g, "$1<em>$2</em>")
          .replace(/\[([^\]\n]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2" target="_blank" rel="noopener">$1</a>');
}
function renderMarkdown(text) {
  const out = [], lines = escapeHtml(text).split("\n");
  let para = [], list = null;
  const flush = () => {
    if (para.length) out.push("<p>" + inline(para.join("<br>")) + "</p>");
    if (list) out.push("<" + list.tag + ">" + list.items.map(i => "<li>" + inline(i) + "</li>").join("") + "</" + list.tag + ">");
    para = [];
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const fence = lines[i].match(/^\s*```\s*([\w+#.-]*)\s*$/);
    if (fence) {  // a code block, to its closing fence or the end of the text (still streaming)
      flush();
      const code = [];
      for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]); i++) code.push(lines[i]);
      const lang = fence[1] ? ' data-lang="' + fence[1] + '"' : "";
      out.push("<pre><code" + lang + ">" + code.join("\n") + "</code></pre>");
      continue;
    }
    const heading = lines[i].match(/^(#{1,6})\s+(.*)$/);
    const bullet = lines[i].match(/^\s*[-*+]\s+(.*)$/), numbered = lines[i].match(/^\s*\d+[.)]\s+(.*)$/);
    if (heading) {  // "#" is h3: the page's own title is the largest
      flush();
      const h = "h" + Math.min(6, heading[1].length + 2);
      out.push("<" + h + ">" + inline(heading[2]) + "</" + h + ">");
    } else if (bullet || numbered) {
      const tag = bullet ? "ul" : "ol";
      if (para.length || (list && list.tag !== tag)) flush();
      list = list || {tag, items: []};
      list.items.push((bullet || numbered)[1]);
    } else if (!lines[i].trim()) {
      flush();
    } else {
      if (list) flush();
      para.push(lines[i]);
    }
  }
  flush();
  return out.join("");
}

function addMessage(cls, text) {
  const d = document.createElement("div");
  d.className = "msg " + cls;
  if (text !== undefined) d.textContent = text;
  log.appendChild(d);
  log.scrollTop = log.scrollHeight;
  return d;
}

// Fills an assistant message: reasoning (if any) apart and folded once the answer starts, the answer as Markdown.
function showReply(el, reasoning, content) {
  el.replaceChildren();
  if (reasoning) {
    const det = document.createElement("details");
    det.className = "reasoning";
    det.open = !content;
    det.innerHTML = "<summary>Reasoning</summary>";
    const t = document.createElement("div");
    t.className = "text";
    t.textContent = reasoning;
    det.appendChild(t);
    el.appendChild(det);
  }
  const body = document.createElement("div");
  body.className = "content";
  body.innerHTML = renderMarkdown(content);
  for (const pre of body.querySelectorAll("pre")) {
    const b = document.createElement("button");
    b.className = "copy";
    b.type = "button";
    b.textContent = "copy";
    b.onclick = () => navigator.clipboard && navigator.clipboard.writeText(pre.querySelector("code").textContent);
    pre.appendChild(b);
  }
  el.appendChild(body);
  log.scrollTop = log.scrollHeight;
}

function requestBody() {
  const body = {messages: ($("system").value.trim() ? [{role: "system", content: $("system").value}] : []).concat(messages),
                stream: true, stream_options: {include_usage: true}, temperature: Number($("temp").value),
                top_p: Number($("top_p").value), max_tokens: Number($("max").value)};
  if ($("seed").value !== "") body.seed = Number($("seed").value);
  return body;
}

function setBusy(busy) {
  sendButton.textContent = busy ? "Stop" : "Send";
  sendButton.classList.toggle("stop", busy);
}

async function send(text) {
  messages.push({role: "user", content: text});
  addMessage("user", text);
  const out = addMessage("assistant");
  const meta = document.createElement("div");
  meta.className = "meta";
  const headers = {"Content-Type": "application/json"};
  if ($("key").value) headers["Authorization"] = "Bearer " + $("key").value;
  controller = new AbortController();
  setBusy(true);
  const t0 = performance.now();
  let first = 0, chunks = 0, reply = "", reasoning = "", usage = null, finish = "";
  const speed = () => chunks > 1 && first ? ((chunks - 1) / ((performance.now() - first) / 1000)).toFixed(1) : "-";
  try {
    const res = await fetch("/v1/chat/completions",
                            {method: "POST", headers, body: JSON.stringify(requestBody()), signal: controller.signal});
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
        if (!ev.startsWith("data: ")) continue;  // keep-alive comments
        const data = ev.slice(6);
        if (data === "[DONE]") continue;
        const j = JSON.parse(data);
        if (j.error) throw new Error(j.error.message);
        if (j.usage) usage = j.usage;
        const choice = j.choices && j.choices[0];
        if (!choice) continue;
        if (choice.finish_reason) finish = choice.finish_reason;
        const delta = choice.delta || {};
        if (delta.content || delta.reasoning_content) {
          if (!first) first = performance.now();
          chunks += 1;
          reply += delta.content || "";
          reasoning += delta.reasoning_content || "";
          showReply(out, reasoning, reply);
          stats.textContent = speed() + " tok/s";
        }
      }
    }
  } catch (e) {
    if (e.name !== "AbortError") {
      out.className = "msg error";
      out.textContent = "error: " + e.message;
      messages.pop();
      controller = null;
      setBusy(false);
      return;
    }
    finish = "stopped";
    out.dataset.stopped = "1";
  }
  controller = null;
  setBusy(false);
  showReply(out, reasoning, reply || (finish === "stopped" ? "" : "(empty reply)"));
  messages.push({role: "assistant", content: reply});
  const cached = usage && usage.prompt_tokens_details ? usage.prompt_tokens_details.cached_tokens : 0;
  const total = (performance.now() - t0) / 1000;
  meta.textContent = (usage ? usage.completion_tokens + " tokens, " : chunks + " chunks, ") + speed() + " tok/s, first after " +
                     (first ? ((first - t0) / 1000).toFixed(2) : "-") + " s, " + total.toFixed(2) + " s in all" +
                     (usage ? ", prompt " + usage.prompt_tokens + " (" + cached + " cached)" : "") +
                     (finish && finish !== "stop" ? ", " + finish : "");
  out.appendChild(meta);
  stats.textContent = speed() + " tok/s";
  out.dataset.done = "1";
}

// Settings live in the browser between visits.
for (const id of settings) {
  const saved = localStorage.getItem("loom." + id);
  if (saved !== null && id !== "key") $(id).value = saved;
  $(id).addEventListener("change", () => localStorage.setItem("loom." + id, id === "key" ? "" : $(id).value));
}

fetch("/v1/models", {headers: $("key").value ? {"Authorization": "Bearer " + $("key").value} : {}})
  .then(r => r.json()).then(j => { if (j.data && j.data[0]) $("model").textContent = j.data[0].id; }).catch(() => {});

$("form").addEventListener("submit", ev => {
  ev.preventDefault();
  if (controller) {  // the button is "Stop" while a reply streams
    controller.abort();
    return;
  }
  const text = $("prompt").value.trim();
  if (!text) return;
  $("prompt").value = "";
  send(text);
});
$("prompt").addEventListener("keydown", ev => {
  if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    $("form").requestSubmit();
  }
});
$("new").addEventListener("click", () => {
  if (controller) controller.abort();
  messages = [];
  log.replaceChildren();
  stats.textContent = "";
});
$("toggle").addEventListener("click", () => document.body.classList.toggle("settings"));

// "/?q=text[&max_tokens=n][&system=text]" sends that text at once: a link that opens a conversation (and what the
// headless browser test uses).
const query = new URLSearchParams(location.search);
if (query.get("max_tokens")) $("max").value = query.get("max_tokens");
if (query.get("system")) $("system").value = query.get("system");
if (query.get("q")) send(query.get("q"));
</script>
</body>
</html>
)PAGE";
    return page;
}

}  // namespace loom::server
