#!/usr/bin/env bash
# scripts/install_check.sh [BUILD_DIR]: installs a build (default build/release) into a temporary prefix and runs
# the installed loom from / as a user would: --version names the commit, and it generates from the default
# model (scripts/setup.sh fetches it). Exit 1, saying what failed, otherwise.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:-$ROOT/build/release}"
prefix="$(mktemp -d)"
trap 'rm -rf "$prefix"' EXIT

fail() { printf 'install_check: %s\n' "$*" >&2; exit 1; }

cmake --install "$BUILD" --prefix "$prefix" >/dev/null || fail "cmake --install $BUILD --prefix $prefix failed"
loom="$prefix/bin/loom"
[[ -x "$loom" ]] || fail "no $loom after cmake --install"

version="$(cd / && "$loom" --version)" || fail "$loom --version failed"
commit="$(git -C "$ROOT" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
[[ "$version" == "loom "*"$commit"* ]] || fail "$loom --version says '$version', which does not name commit $commit"

out="$(cd / && "$loom" run -p 'The capital of France is' -n 4 --temp 0 -q 2>&1)" \
  || fail "the installed loom, run from /, failed on the default model: $out"
printf 'install_check: %s runs from / (%s): %s\n' "$loom" "$version" "$(tr '\n' ' ' <<<"$out")"
