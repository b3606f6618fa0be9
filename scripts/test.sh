#!/usr/bin/env bash
# scripts/test.sh: set up, build release and asan, run the parser tests under the sanitizers, then the whole
# suite in release. The whole suite runs last so that ctest's closing summary counts every test.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Run under ASan + UBSan: code that reads untrusted bytes (GGUF parsing, dequantization, half floats,
# inspect's printing of file strings, synth specs, text through the tokenizers, arch files, HTTP requests) and the kernel
# suites but matmul (its grid is slow there).
SANITIZED_TESTS='Gguf|gguf|Quant|Half|Inspect|Synth|NormTest|RopeTest|SoftmaxTest|ElementwiseTest|TopKTest|MoeRouteTest|WeightedSumTest|ColumnBroadcastTest|OpHarnessCo|OpHarness\.(Norm|Rope|Softmax|Unary|Glu|Binary|Scale|GetRows|TopK|MoeRoute|WeightedSum|Conv1d|DeltaNet)|Attention|Recurrent|Expr|ArchFile|Params|ModelLoad|Session|FamilyCache|Sampler|Stop|VocabTest|SpmTest|BpeTest|PretokenizeTest|StreamingDecoderTest|Golden\.|tokenizer_fuzz|ChatTemplate|jinja_fuzz|HfVocab|TokenizeCommand|ServerRequest|ServerResponse|ServerHttp|ServerMetrics|ServerScheduler|request_fuzz'
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# ctest, less its "Start" and "Passed" line for each test: failures (with their output) and the summary remain.
run_ctest() {
  ctest "$@" --no-tests=error | grep -v -E '^ +Start +[0-9]+: |^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* +Passed +[0-9.]+ sec$'
}

time_it() {
  local start=$SECONDS
  "$@"
  printf 'test: %s took %ss\n' "$*" "$((SECONDS - start))"
}

time_it bash scripts/setup.sh
time_it bash scripts/build.sh release
time_it bash scripts/build.sh asan

status=0
printf '\ntest: parser tests under ASan + UBSan (-R %s)\n' "$SANITIZED_TESTS"
run_ctest --preset asan -j2 -R "$SANITIZED_TESTS" || status=1
printf '\ntest: the whole suite (release)\n'
run_ctest --preset release -j2 || status=1  # its summary stays the last line printed
exit "$status"
