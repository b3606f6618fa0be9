#!/usr/bin/env python3
"""Render chat templates over a set of conversations with Python jinja2 configured as Hugging Face's
apply_chat_template configures it (transformers: ImmutableSandboxedEnvironment, trim_blocks, lstrip_blocks,
loopcontrols, its tojson/raise_exception/strftime_now), as the golden data of loom's Jinja interpreter.

Templates are read from TEMPLATE_DIR (the real templates of the models, e.g. llama.cpp's models/templates)
and copied into --out/templates/ with their source recorded. strftime_now is fixed at NOW (UTC) so that
renders are reproducible; loom's tests fix its clock the same way.

Writes --out/cases.jsonl.gz: {"template", "conversation", "expected"} or {"template", "conversation", "error"}.

Usage: record_chat_template_goldens.py TEMPLATE_DIR NAME.jinja ... [--out tests/data/chat_templates]
"""
import argparse
import datetime
import gzip
import json
import pathlib
import shutil

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

NOW = 1767225600  # 2026-01-01T00:00:00Z

TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather in a city",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. Zürich"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}}, "required": ["city"]}}},
    {"type": "function", "function": {
        "name": "add", "description": "Add two numbers",
        "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                       "required": ["a", "b"]}}},
]

CONVERSATIONS = {
    "user": {"messages": [{"role": "user", "content": "Hello!"}], "add_generation_prompt": True},
    "system_user": {"messages": [{"role": "system", "content": "You are a terse assistant."},
                                 {"role": "user", "content": "What is 2+2?"}], "add_generation_prompt": True},
    "multi_turn": {"messages": [{"role": "user", "content": "Hi there"},
                                {"role": "assistant", "content": "Hello! How can I help?"},
                                {"role": "user", "content": "Tell me a joke about cats.\nMake it short."}],
                   "add_generation_prompt": True},
    "no_generation_prompt": {"messages": [{"role": "user", "content": "Hi"},
                                          {"role": "assistant", "content": "Hello."}],
                             "add_generation_prompt": False},
    "empty_content": {"messages": [{"role": "system", "content": ""}, {"role": "user", "content": ""}],
                      "add_generation_prompt": True},
    "unicode": {"messages": [{"role": "user", "content": "  Grüße, 世界! 🤖 «quotes» \"double\" 'single'  "}],
                "add_generation_prompt": True},
    "tools": {"messages": [{"role": "system", "content": "Use tools when needed."},
                           {"role": "user", "content": "Weather in Zürich?"}],
              "tools": TOOLS, "add_generation_prompt": True},
    "tool_call": {"messages": [
        {"role": "user", "content": "What is 3 + 4?"},
        {"role": "assistant", "content": "",
         "tool_calls": [{"type": "function", "id": "call_1",
                         "function": {"name": "add", "arguments": {"a": 3, "b": 4}}}]},
        {"role": "tool", "tool_call_id": "call_1", "name": "add", "content": "7"},
        {"role": "assistant", "content": "3 + 4 = 7."},
        {"role": "user", "content": "Thanks"}], "tools": TOOLS, "add_generation_prompt": True},
    "thinking_on": {"messages": [{"role": "user", "content": "Solve x+1=3."}], "add_generation_prompt": True,
                    "enable_thinking": True},
    "thinking_off": {"messages": [{"role": "user", "content": "Solve x+1=3."}], "add_generation_prompt": True,
                     "enable_thinking": False},
    "reasoning_history": {"messages": [
        {"role": "user", "content": "Is 7 prime?"},
        {"role": "assistant", "content": "Yes, 7 is prime.", "reasoning_content": "7 has no divisors but 1 and 7."},
        {"role": "user", "content": "And 9?"}], "add_generation_prompt": True},
    "bad_alternation": {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
                        "add_generation_prompt": True},
}


class Generation(jinja2.ext.Extension):
    """HF's {% generation %}...{% endgeneration %} (assistant-token tracking): renders its body unchanged."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_render"), [], [], body).set_lineno(lineno)

    def _render(self, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return datetime.datetime.fromtimestamp(NOW, datetime.timezone.utc).strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols, Generation])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


def context(conv):
    c = {"bos_token": "<BOS>", "eos_token": "<EOS>", "tools": None}
    c.update(conv)
    return c


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("template_dir")
    ap.add_argument("templates", nargs="+")
    ap.add_argument("--out", default="tests/data/chat_templates")
    a = ap.parse_args()
    out = pathlib.Path(a.out)
    (out / "templates").mkdir(parents=True, exist_ok=True)
    env = make_env()
    with open(out / "conversations.json", "w") as f:
        json.dump({k: context(v) for k, v in CONVERSATIONS.items()}, f, ensure_ascii=False, indent=1)
    n = errors = 0
    with gzip.GzipFile(out / "cases.jsonl.gz", "wb", mtime=0) as f:
        for arg in a.templates:  # a name inside TEMPLATE_DIR, or a path
            src = pathlib.Path(arg) if "/" in arg else pathlib.Path(a.template_dir) / arg
            name = src.name
            shutil.copyfile(src, out / "templates" / name)
            tmpl = env.from_string(src.read_text())
            for conv_name, conv in CONVERSATIONS.items():
                rec = {"template": name, "conversation": conv_name}
                try:
                    rec["expected"] = tmpl.render(**context(conv))
                except Exception as e:  # noqa: BLE001 - any template error is an expected error
                    rec["error"] = f"{type(e).__name__}: {e}"
                    errors += 1
                f.write((json.dumps(rec, ensure_ascii=False) + "\n").encode())
                n += 1
    with open(out / "PROVENANCE.md", "w") as f:
        f.write("# Chat template goldens\n\n")
        f.write(f"Rendered by `tools/record_chat_template_goldens.py` with jinja2 {jinja2.__version__} set up as "
                "Hugging Face transformers' apply_chat_template sets it up; strftime_now fixed at "
                f"{NOW} (2026-01-01 UTC). {n} cases ({errors} of them template errors), "
                f"{len(a.templates)} templates x {len(CONVERSATIONS)} conversations (`conversations.json`).\n\n")
        f.write("`templates/`: the models' own chat templates, copied from llama.cpp's `models/templates/` "
                "(llama-cpp-python 0.3.36 sdist, llama.cpp commit 0c1e57098bba43ac29e6e3b677cdceebdd22334f), which "
                "holds them as published with each model. `google-gemma-3-it.jinja` (Gemma 3, the default model's "
                "family; the default GGUF carries no template) is the chat_template of google/gemma-3's "
                "tokenizer_config.json as quoted in ShishirPatil/gorilla @72055c51cf80, "
                "berkeley-function-call-leaderboard/bfcl/model_handler/local_inference/gemma.py. "
                "`ggml-vocab-gemma-4.jinja` is the tokenizer.chat_template that a real Gemma 4 GGUF carries: the one in "
                "llama.cpp's `models/ggml-vocab-gemma-4.gguf` (same sdist; an earlier revision of "
                "`google-gemma-4-31B-it.jinja`).\n")
    print(f"{n} cases, {errors} errors")


if __name__ == "__main__":
    main()
