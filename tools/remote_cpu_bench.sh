#!/usr/bin/env bash
# tools/remote_cpu_bench.sh: run loom's matmul tests and benchmarks on another x86-64 machine that has no build
# tools for loom (e.g. an AVX-512 host where this one has only AVX2), against llama.cpp built natively there.
#
#   bash tools/remote_cpu_bench.sh pack     here: build/remote/ gets loom, loom_tests, matmul_bench, the shared
#                                           libraries they need (not glibc/libstdc++) and llama.cpp's source
#                                           (from $LOOM_LLAMA_CPP_SRC, default: the llama-cpp-python sdist's vendor/
#                                           dir under /tmp/llamacpp), about 25 MiB
#   bash tools/remote_cpu_bench.sh run      there, from a copy of the repository with build/remote/ in it: the
#                                           matmul tests (AVX-512 == AVX2 bit for bit where the CPU has it), then
#                                           matmul_bench and `loom bench -p 512 -n 128 -r 2 -t 2` with LOOM_CPU=avx2
#                                           and without, and llama-bench with the same flags, pinned to CPUS
#   CPUS=2,3 TYPES="q4_0 q8_0 q4_k_m" LLAMA=0   which cores, which model types (1.1B llama shape, `loom synth`),
#                                           LLAMA=0 skips building and running llama.cpp
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build/remote"

pack() {
    local b="$ROOT/build/release"
    cmake --build "$b" --target loom_cli loom_tests matmul_bench >/dev/null
    rm -rf "$OUT" && mkdir -p "$OUT/lib"
    cp "$b/loom" "$b/tests/loom_tests" "$b/bench/matmul_bench" "$OUT/"
    strip "$OUT/loom" "$OUT/loom_tests" "$OUT/matmul_bench"
    ldd "$OUT/loom" "$OUT/loom_tests" "$OUT/matmul_bench" | awk '/=>/ {print $3}' | sort -u |
        grep -v -E '/(libc|libm|libstdc\+\+|libgcc_s|ld-linux[^/]*)\.so' | xargs -r -I{} cp -L {} "$OUT/lib/"
    local src="${LOOM_LLAMA_CPP_SRC:-$(ls -d /tmp/llamacpp/llama_cpp_python-*/vendor/llama.cpp 2>/dev/null | head -1)}"
    if [[ -n "$src" && -d "$src" ]]; then
        # What llama-bench needs, without the other backends, models and docs.
        local tmp; tmp="$(mktemp -d)"
        mkdir -p "$tmp/llama.cpp"
        for d in CMakeLists.txt cmake common ggml src include tools vendor licenses app; do
            [[ -e "$src/$d" ]] && cp -r "$src/$d" "$tmp/llama.cpp/"
        done
        find "$tmp/llama.cpp/ggml/src" -mindepth 1 -maxdepth 1 -type d -name 'ggml-*' ! -name ggml-cpu -exec rm -rf {} +
        tar -C "$tmp" -cJf "$OUT/llamacpp.tar.xz" llama.cpp
        rm -rf "$tmp"
    fi
    du -sh "$OUT"
}

run() {
    export LD_LIBRARY_PATH="$OUT/lib"
    local cpus="${CPUS:-2,3}" types="${TYPES:-q4_0 q8_0 q4_k_m}"
    grep -o -E 'avx512[a-z_0-9]*|avx_vnni|amx_int8' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
    "$OUT/loom_tests" --gtest_filter='*Matmul*:*Golden*:Session*' 2>&1 | grep -E 'FAILED|PASSED|Failure' | head -20
    local lc=""
    if [[ "${LLAMA:-1}" != 0 && -f "$OUT/llamacpp.tar.xz" ]]; then
        (cd /tmp && tar xJf "$OUT/llamacpp.tar.xz" && cd llama.cpp &&
         cmake -B b -DGGML_NATIVE=ON -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
               -DLLAMA_BUILD_SERVER=OFF -DCMAKE_BUILD_TYPE=Release >/tmp/llama-cfg.log 2>&1 &&
         cmake --build b -j"$(nproc)" --target llama-bench >/tmp/llama-build.log 2>&1) &
        lc=/tmp/llama.cpp/b/bin/llama-bench
    fi
    for t in $types; do
        "$OUT/loom" synth "$ROOT/bench/models/llama-1.1b-shape.toml" --type "$t" -o "/tmp/loom-bench-$t.gguf" >/dev/null 2>&1 &
    done
    wait
    for cpu in avx2 avx512; do
        LOOM_CPU=$cpu taskset -c "$cpus" "$OUT/matmul_bench" --benchmark_min_time=0.3 \
            --benchmark_filter='read_bandwidth|(matvec|matmul512)/cpu/(q4_0|q8_0|q4_k)/2048x5632' 2>&1 | grep manual
    done
    for t in $types; do
        for cpu in avx2 avx512; do
            echo "== loom $t LOOM_CPU=$cpu"
            LOOM_CPU=$cpu taskset -c "$cpus" "$OUT/loom" bench -m "/tmp/loom-bench-$t.gguf" -p 512 -n 128 -r 2 -t 2 2>&1 |
                grep -E 'pp512|tg128'
        done
        if [[ -n "$lc" && -x "$lc" ]]; then
            echo "== llama.cpp $t"
            taskset -c "$cpus" "$lc" -m "/tmp/loom-bench-$t.gguf" -p 512 -n 128 -r 2 -t 2 2>&1 | grep -E 'pp512|tg128'
        fi
    done
}

case "${1:-}" in
pack) pack ;;
run) run ;;
*) echo "usage: $0 pack|run" >&2; exit 2 ;;
esac
