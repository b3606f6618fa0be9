#!/usr/bin/env bash
# scripts/build.sh [release|asan] [TARGET...]: configures and builds one preset from CMakePresets.json into
# build/<preset>: every target, or only the TARGETs named (loom_cli is the loom binary).
#   release  -O3, kernels chosen at run time from the CPU's features
#   asan     Debug with AddressSanitizer + UndefinedBehaviorSanitizer
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRESET="${1:-release}"
shift $(( $# > 0 ? 1 : 0 ))
case "$PRESET" in
  release|asan) ;;
  *) printf 'build: error: unknown preset %q (expected release or asan)\n' "$PRESET" >&2; exit 2 ;;
esac

cd "$ROOT"
printf 'build: %s\n' "$PRESET"
cmake --preset "$PRESET" >/dev/null || { printf 'build: error: cmake --preset %s failed\n' "$PRESET" >&2; exit 1; }
cmake --build --preset "$PRESET" ${1:+--target "$@"}
