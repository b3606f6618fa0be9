#!/usr/bin/env bash
# scripts/test.sh: set up, check formatting, build release, asan and tsan, lint the changed files, run the parser
# tests under ASan + UBSan and the threaded ones under TSan, check an installed loom, then the whole suite in
# release. Every phase runs even when one fails; the whole suite runs last so that ctest's closing summary counts
# every test. Each phase prints its time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# Run under ASan + UBSan: code that reads untrusted bytes (GGUF, safetensors and tokenizer.model parsing, Hugging
# Face directories, dequantization, half floats, inspect's printing of file strings, synth specs, text through the
# tokenizers, arch files, HTTP requests, grammars and JSON schemas) and the kernel suites but matmul (its grid is
# slow there).
SANITIZED_TESTS='Gguf|gguf|Quant|Half|Inspect|Synth|NormTest|RopeTest|SoftmaxTest|ElementwiseTest|TopKTest|MoeRouteTest|WeightedSumTest|ColumnBroadcastTest|OpHarnessCo|OpHarness\.(Norm|Rope|Softmax|Unary|Glu|Binary|Scale|GetRows|TopK|MoeRoute|WeightedSum|Conv1d|DeltaNet)|Attention|Recurrent|Memory\.|MemorySnapshot|SlidingWindow|SharedKv|Diffusion|LatentAttention|Expr|ArchFile|Params|ModelLoad|Session|FamilyCache|Sampler|Stop|VocabTest|SpmTest|SpmModel|SpmVocab|BpeTest|PretokenizeTest|StreamingDecoderTest|Golden\.|ChatTemplate|HfVocab|TokenizeCommand|ServerRequest|ServerResponse|ServerHttp|ServerMetrics|ServerScheduler|PrefixCache|ArchLookup|Safetensors|HfMap|HfTransform|HfDirectory|GbnfParser|Automaton|JsonSchema|NumberRange|RegexGbnf|TokenMask|VocabTrie|HfFallbackVocabReader|HfFallbackLlama|ServerOutputFormat|ToolCallParser|ToolFormat|ServerToolRequest|_fuzz_replay'
# Run under TSan: the code with threads of its own (the server's HTTP and scheduler threads, the thread pool, sessions
# decoding on it).
TSAN_TESTS='ThreadPool|ServerHttp|ServerScheduler|PrefixCache|ServerMetrics|Session\.|FamilyCache'
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_stack_use_after_return=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export TSAN_OPTIONS="${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}"

# ctest, less its "Start" and "Passed" line for each test: failures (with their output) and the summary remain.
run_ctest() {
  ctest "$@" --no-tests=error | grep -v -E '^ +Start +[0-9]+: |^ *[0-9]+/[0-9]+ Test +#[0-9]+: .* +Passed +[0-9.]+ sec$'
}

# Left to the release suite: the scheduler's alone-or-beside-others test for the families whose code paths other
# families there already cover (the sanitizers keep llama, qwen35 for recurrent memory, gemma4 for sliding and shared
# KV); under a sanitizer each costs 15-20 s.
SANITIZER_SKIP='AloneOrTogether.*/(qwen2moe|qwen3moe|qwen35moe|gemma4moe|deepseek2)'
# Also left out under ASan: the diagram tests (some names match Synth), as Graphviz's own text-span cache reads freed
# memory under ASan when a process lays out with several contexts, and its plugins keep allocations until exit; and
# the long runs that repeat code the shorter tests already take there (320 tokens in small chunks through two
# sliding-window models, the sampler's frequency count over many draws, whole Hugging Face models quantized at
# load: 50 s each there, while the quantizers themselves run under ASan in the Quant suites; every row subset of
# a diffusion pass, 90 s, beside the other Diffusion tests; sequences decoded together against their solo runs,
# 80 s, which TSan runs and the scheduler's AloneOrTogether cases cover here; Gemma 3's whole 262k-piece
# tokenizer.model, 50 s, where the SpmModel tests and spm_model_fuzz_replay take the parser).
ASAN_SKIP="$SANITIZER_SKIP|Diagram|SlidingWindow.DroppingSlotsChangesNoBit|SamplerDraw.FrequenciesMatchTheDistribution|/HfQuantize\.|Diffusion.RowsAskedForKeepTheBitsOfTheWholePass|Session.SequencesDecodedTogetherEqualTheirSoloRuns|SpmVocab.Gemma3DirectoryGivesItsGgufKeysAndIds"
asan_tests() { run_ctest --preset asan -j2 -R "$SANITIZED_TESTS" -E "$ASAN_SKIP"; }
# The TSan binary holds only the files of the threaded tests (tests/CMakeLists.txt): it must hold every test of the
# release binary that TSAN_TESTS matches.
tsan_test_names() {  # the names of a preset's tests that TSan runs, without gtest's "# GetParam() = ..." comments
  ctest --preset "$1" -N -R "$TSAN_TESTS" -E "$SANITIZER_SKIP" | sed -n 's/^ *Test *#[0-9]*: //p' | sed 's/  *#.*//' | sort
}
tsan_tests() {
  local want got
  want="$(tsan_test_names release)"
  got="$(tsan_test_names tsan)"
  if [[ "$want" != "$got" ]]; then
    printf 'test: error: the TSan binary lacks tests that TSAN_TESTS matches; add their files to LOOM_TSAN in tests/CMakeLists.txt:\n'
    comm -23 <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed 's/^/  /'
    return 1
  fi
  run_ctest --preset tsan -j2 -R "$TSAN_TESTS" -E "$SANITIZER_SKIP"
}

# Runs a phase and prints its time; returns the phase's status.
time_it() {
  local start=$SECONDS rc=0
  "$@" || rc=$?
  printf 'test: %s took %ss%s\n' "$*" "$((SECONDS - start))" "$([[ $rc -eq 0 ]] || echo " and FAILED")"
  return "$rc"
}

time_it bash scripts/setup.sh
status=0
time_it bash scripts/format.sh --check || status=1
time_it bash scripts/build.sh release
time_it bash scripts/build.sh asan
time_it bash scripts/build.sh tsan loom_tests  # only the suite: the threaded tests are all in it
time_it bash scripts/tidy.sh || status=1

printf '\ntest: parser tests under ASan + UBSan (-R %s)\n' "$SANITIZED_TESTS"
time_it asan_tests || status=1
printf '\ntest: threaded tests under TSan (-R %s)\n' "$TSAN_TESTS"
time_it tsan_tests || status=1
printf '\n'
time_it bash scripts/install_check.sh || status=1
printf '\ntest: the whole suite (release)\n'
run_ctest --preset release -j2 || status=1  # its summary stays the last line printed
exit "$status"
