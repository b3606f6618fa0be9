#!/usr/bin/env bash
# scripts/tidy.sh [--all | BASE]: runs clang-tidy (.clang-tidy) on the C++ files changed since BASE, or on
# every one with --all; any finding fails it (exit 1). It reads build/release/compile_commands.json, so run
# scripts/build.sh release (or just cmake --preset release) first.
#   BASE  a commit; default $LOOM_TIDY_BASE, else where HEAD left main (a branch's own commits), else HEAD~1
#         (on main: the last commit). Uncommitted changes are always included.
#   LOOM_TIDY_JOBS  files checked at once (default 2)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DB="build/release"
JOBS="${LOOM_TIDY_JOBS:-2}"

die() { printf 'tidy: error: %s\n' "$*" >&2; exit 2; }

command -v clang-tidy >/dev/null || die "clang-tidy not found (scripts/setup.sh installs Debian's clang-tidy)"
[[ -f "$DB/compile_commands.json" ]] || die "no $DB/compile_commands.json: run scripts/build.sh release first"

# The base that says what "changed" means on this checkout (a clean clone has full history and origin/main).
default_base() {
  local main ref
  for ref in origin/main main; do
    if git rev-parse -q --verify "$ref^{commit}" >/dev/null; then main="$ref"; break; fi
  done
  if [[ -n "${main:-}" ]] && [[ "$(git rev-parse HEAD)" != "$(git rev-parse "$main")" ]] \
     && ! git merge-base --is-ancestor HEAD "$main"; then
    git merge-base HEAD "$main"
  elif git rev-parse -q --verify HEAD~1 >/dev/null; then
    git rev-parse HEAD~1
  else
    git hash-object -t tree /dev/null  # a single commit (shallow clone): everything is new
  fi
}

if [[ "${1:-}" == "--all" ]]; then
  mapfile -t files < <(git ls-files '*.h' '*.cpp' | grep -E '^(src|tests|bench)/' | grep -v '^src/tokenizer/unicode_tables\.cpp$')
  what="every file"
else
  base="${1:-${LOOM_TIDY_BASE:-$(default_base)}}"
  git rev-parse -q --verify "$base^{object}" >/dev/null || die "base '$base' is not a commit here"
  mapfile -t files < <({ git diff --name-only --diff-filter=d "$base" HEAD; git diff --name-only --diff-filter=d HEAD; } \
                         | sort -u | grep -E '^(src|tests|bench)/.*\.(h|cpp)$' | grep -v '^src/tokenizer/unicode_tables\.cpp$' || true)
  what="files changed since $(git rev-parse --short "$base")"
  # A file whose change is layout only (the same text once whitespace is dropped, e.g. a reformat commit) has
  # nothing new to lint, and skipping it keeps a reformat of the whole tree from linting the whole tree.
  changed=()
  for f in "${files[@]}"; do
    if git cat-file -e "$base:$f" 2>/dev/null \
       && cmp -s <(git show "$base:$f" | tr -d ' \t\n') <(tr -d ' \t\n' <"$f"); then
      continue
    fi
    changed+=("$f")
  done
  [[ ${#changed[@]} -eq ${#files[@]} ]] || what+=" ($(( ${#files[@]} - ${#changed[@]} )) more in layout only)"
  files=("${changed[@]}")
fi
if [[ ${#files[@]} -eq 0 ]]; then
  printf 'tidy: no C++ files to check (%s)\n' "$what"
  exit 0
fi
printf 'tidy: %d %s\n' "${#files[@]}" "$what"

# The compile database is GCC's: clang-tidy is told to pass over GCC-only warning options (-Wno-restrict).
# A header is checked with the flags of a source beside it (clang's compile-database interpolation); findings
# in a header a source includes are reported with that source too (HeaderFilterRegex).
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
printf '%s\n' "${files[@]}" | xargs -P "$JOBS" -n 1 clang-tidy -p "$DB" --quiet --extra-arg=-Wno-unknown-warning-option >"$log" 2>/dev/null || status=1
if [[ $status -ne 0 ]] || grep -qE ': (warning|error): ' "$log"; then
  cat "$log" >&2
  printf 'tidy: findings above (.clang-tidy says which checks run and why some are off)\n' >&2
  exit 1
fi
printf 'tidy: no findings\n'
