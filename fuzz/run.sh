#!/usr/bin/env bash
# Builds the fuzz targets once, runs each for FUZZ_SECONDS (default 60) with
# libFuzzer, and prints executions and coverage per target. Exit status 1 if any
# target found a crash, a leak, a timeout or an allocation over the limits (the
# input is kept in fuzz/artifacts/<target>/; its log in fuzz/logs/<target>.log).
#
#   make fuzz                      every target, 60 s each
#   FUZZ_SECONDS=600 make fuzz     longer
#   FUZZ_TARGETS="csv_shard tree_file" make fuzz
#   make fuzz-smoke                every target, 10 s each (CI)
#
# Toolchain: `cargo +nightly fuzz` (the sanitizer and coverage flags need a
# nightly rustc); without a nightly toolchain, stable with RUSTC_BOOTSTRAP=1 (see
# fuzz/setup.sh, which also installs cargo-fuzz into .tools/cargo/).
#
# Limits, under which every target must run clean: inputs up to FUZZ_MAX_LEN
# bytes (8192), a process under FUZZ_RSS_LIMIT_MB (2048 MiB), no single
# allocation over FUZZ_MALLOC_LIMIT_MB (256 MiB: nothing an 8 KiB input can
# justify), no input slower than FUZZ_TIMEOUT seconds (10).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

SECONDS_EACH="${FUZZ_SECONDS:-60}"
TARGETS="${FUZZ_TARGETS:-csv_shard manifest tree_file summary_json merkle_proof zk_keys zk_proof}"
MAX_LEN="${FUZZ_MAX_LEN:-8192}"
RSS_LIMIT_MB="${FUZZ_RSS_LIMIT_MB:-2048}"
MALLOC_LIMIT_MB="${FUZZ_MALLOC_LIMIT_MB:-256}"
TIMEOUT="${FUZZ_TIMEOUT:-10}"
# Extra flags for `cargo fuzz build` / `run` (e.g. FUZZ_BUILD_FLAGS="--sanitizer none").
read -r -a BUILD_FLAGS <<<"${FUZZ_BUILD_FLAGS:-}"
# Extra libFuzzer flags, e.g. long inputs from the start (the long-line check of
# fuzz/README.md): FUZZ_MAX_LEN=1048576 FUZZ_ARGS="-len_control=0".
read -r -a FUZZ_ARGS <<<"${FUZZ_ARGS:-}"

toolchain="$(bash fuzz/setup.sh)"
export PATH="$REPO/.tools/cargo/bin:$PATH"
if [[ "$toolchain" == stable ]]; then
  export RUSTC_BOOTSTRAP=1
fi
CARGO_FUZZ=(cargo "+$toolchain" fuzz)

start=$(date +%s)
echo "fuzz: building the targets (${CARGO_FUZZ[*]} build ${BUILD_FLAGS[*]})" >&2
"${CARGO_FUZZ[@]}" build "${BUILD_FLAGS[@]}" >&2
built=$(date +%s)
echo "fuzz: built in $((built - start)) s" >&2

mkdir -p fuzz/logs
results=()
failed=0
for t in $TARGETS; do
  corpus="fuzz/corpus/$t"
  mkdir -p "$corpus" "fuzz/artifacts/$t"
  dict=()
  case "$t" in
    csv_shard) dict=("-dict=fuzz/dict/csv.dict") ;;
    manifest | summary_json | merkle_proof | zk_proof | zk_keys) dict=("-dict=fuzz/dict/json.dict") ;;
  esac
  log="fuzz/logs/$t.log"
  echo "fuzz: $t for ${SECONDS_EACH} s" >&2
  status=ok
  # The working corpus (gitignored) comes first: libFuzzer adds new inputs to it;
  # the committed seeds are read only.
  if ! "${CARGO_FUZZ[@]}" run "${BUILD_FLAGS[@]}" "$t" "$corpus" "fuzz/seeds/$t" -- \
    -max_total_time="$SECONDS_EACH" -max_len="$MAX_LEN" \
    -rss_limit_mb="$RSS_LIMIT_MB" -malloc_limit_mb="$MALLOC_LIMIT_MB" \
    -timeout="$TIMEOUT" -print_final_stats=1 "${dict[@]}" "${FUZZ_ARGS[@]}" >"$log" 2>&1; then
    status=FAILED
    failed=1
  fi
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  secs=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  last=$(grep -E '^#[0-9]+' "$log" | grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' | tail -1 || true)
  cov=$(sed -n 's/cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.*corp: \([0-9]*\).*/\1/p' <<<"$last")
  results+=("$(printf '%-14s %8s %12s %9s %8s %8s %7s  %s' "$t" "$SECONDS_EACH" "${execs:-?}" "${secs:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$status")")
  if [[ "$status" != ok ]]; then
    echo "fuzz: $t FAILED, see $log and fuzz/artifacts/$t/:" >&2
    grep -E 'ERROR|panicked|SUMMARY|Test unit written|out-of-memory|malloc' "$log" | head -20 >&2 || true
  fi
done

printf '\n%-14s %8s %12s %9s %8s %8s %7s  %s\n' target seconds executions "exec/s" coverage features corpus result
printf '%s\n' "${results[@]}"
echo "(coverage: libFuzzer's covered edges; features: its coverage features; corpus: inputs kept)"
exit "$failed"
