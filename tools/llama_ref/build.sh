#!/usr/bin/env bash
# tools/llama_ref/build.sh: builds the llama.cpp reference (pinned: the llama.cpp vendored in the PyPI
# sdist llama-cpp-python==0.3.36) into a cache directory, then tools/llama_ref/llama_ref.cpp against it.
# Not part of CI (CI reads only the recorded goldens); tools/equiv_live.sh and tools/record_goldens.py use it.
#
#   LOOM_LLAMA_CPP_DIR  cache dir (default ~/.cache/loom/llama.cpp-0.3.36), laid out as
#                       <dir>/llama_cpp_python-0.3.36/vendor/llama.cpp (source) and <dir>/build (cmake build);
#                       an existing build there is reused as is (e.g. LOOM_LLAMA_CPP_DIR=/tmp/llamacpp)
#   LOOM_LLAMA_REF_OUT  where the llama_ref binary goes (default <repo>/build/llama_ref)
#   JOBS                parallel build jobs (default 2)
# Prints the binary's path on the last line of stdout.
set -euo pipefail

VERSION=0.3.36
SDIST_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${LOOM_LLAMA_CPP_DIR:-$HOME/.cache/loom/llama.cpp-$VERSION}"
OUT="${LOOM_LLAMA_REF_OUT:-$ROOT/build/llama_ref}"
JOBS="${JOBS:-2}"
SRC="$DIR/llama_cpp_python-$VERSION/vendor/llama.cpp"
BUILD="$DIR/build"

say() { printf 'llama_ref/build: %s\n' "$*" >&2; }
die() { printf 'llama_ref/build: error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$DIR"
if [[ ! -f "$SRC/include/llama.h" ]]; then
  tarball="$DIR/llama_cpp_python-$VERSION.tar.gz"
  if [[ ! -f "$tarball" ]]; then
    say "downloading the llama-cpp-python $VERSION sdist"
    python3 -m pip download --no-deps --no-binary :all: "llama-cpp-python==$VERSION" -d "$DIR" >&2 \
      || die "pip download of llama-cpp-python==$VERSION failed"
  fi
  echo "$SDIST_SHA256  $tarball" | sha256sum -c --quiet - || die "$tarball: sha256 differs from the pinned one"
  tar -xzf "$tarball" -C "$DIR"
  [[ -f "$SRC/include/llama.h" ]] || die "$tarball has no vendor/llama.cpp"
fi

if [[ ! -f "$BUILD/bin/libllama.so" ]]; then
  say "configuring llama.cpp in $BUILD"
  cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_NATIVE=ON \
    -DBUILD_SHARED_LIBS=ON -DLLAMA_BUILD_TESTS=OFF >&2
  say "building llama.cpp (target llama, $JOBS jobs)"
  nice -n 10 cmake --build "$BUILD" --target llama -j "$JOBS" >&2
fi
[[ -f "$BUILD/bin/libllama.so" ]] || die "$BUILD/bin/libllama.so missing after the build"

# The llama.cpp commit, for the records: git metadata ships in the sdist; else what cmake recorded.
commit="$(git -C "$SRC" rev-parse HEAD 2>/dev/null || true)"
if [[ -z "$commit" && -f "$BUILD/common/build-info.cpp" ]]; then
  commit="$(sed -n 's/.*LLAMA_COMMIT = "\(.*\)";/\1/p' "$BUILD/common/build-info.cpp")"
fi
version="llama-cpp-python $VERSION / llama.cpp ${commit:-unknown}"

mkdir -p "$OUT"
say "compiling llama_ref ($version)"
g++ -std=c++20 -O2 -Wall -Wextra -o "$OUT/llama_ref" "$ROOT/tools/llama_ref/llama_ref.cpp" \
  -DLLAMA_REF_LLAMA_CPP_VERSION="\"$version\"" \
  -I"$SRC/include" -I"$SRC/ggml/include" \
  -L"$BUILD/bin" -Wl,-rpath,"$BUILD/bin" -lllama -lggml -lggml-base
echo "$OUT/llama_ref"
