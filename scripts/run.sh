#!/usr/bin/env bash
# scripts/run.sh [ARGS...]: set up, build release, and run loom's main job on the default model.
# The job is `loom run`: generate text from a prompt (ARGS are passed on, e.g. -p "Once upon a time" -n 64).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
# Quiet unless the build fails: then its whole log goes to stderr.
mkdir -p build
if ! bash scripts/build.sh release loom_cli >build/run-build.log 2>&1; then
  cat build/run-build.log >&2
  printf 'run: error: the build failed (log above, also in build/run-build.log)\n' >&2
  exit 1
fi
exec build/release/loom run "$@"
