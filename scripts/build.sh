#!/usr/bin/env bash
# scripts/build.sh [release|asan|tsan|fuzz] [TARGET...]: configures and builds one preset from CMakePresets.json
# into build/<preset>: its targets, or only the TARGETs named (loom_cli is the loom binary).
#   release  -O3, kernels chosen at run time from the CPU's features
#   asan     Debug with AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan     -O1 with ThreadSanitizer
#   fuzz     clang: the libFuzzer targets (tests/fuzz/README.md)
# The presets CI builds (release, asan, tsan) and fuzz treat warnings as errors (LOOM_WERROR).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRESET="${1:-release}"
shift $(( $# > 0 ? 1 : 0 ))
case "$PRESET" in
  release|asan|tsan|fuzz) ;;
  *) printf 'build: error: unknown preset %q (expected release, asan, tsan or fuzz)\n' "$PRESET" >&2; exit 2 ;;
esac

cd "$ROOT"
printf 'build: %s\n' "$PRESET"
cmake --preset "$PRESET" >/dev/null || { printf 'build: error: cmake --preset %s failed\n' "$PRESET" >&2; exit 1; }
cmake --build --preset "$PRESET" ${1:+--target "$@"}
