#!/usr/bin/env bash
# End-to-end test of infra/local/run-round.sh (CI): one local stack (moto_server,
# cargo lambda watch, the five functions), three rounds through the trigger and the
# state machine, each compared with the summa-agg CLI:
#   (a) tests/fixtures/entry_16_1..4.csv, v1: the CLI's result and the known root of
#       entry_64.csv;
#   (a') the same shards again with --previous (a): every mini-tree re-used;
#   (b) entry_16_1..3.csv (3 shards, not a power of two) in agg2023 and legacy: the
#       CLI's result;
#   (c) entry_16_1.csv + entry_16_overflow.csv: the round fails, naming the shard
#       and the cause; P/error.json says so; there is no P/result.json;
#   (d) 1,100 shards of 4 users: the Maps read their items from S3 (the
#       ItemReader shim), every state stays under 256 KiB although result.json is
#       ~530 KB; the CLI's result.
# One line per check (PASS/FAIL), then `N passed, M failed`; exit 1 if any failed.
#
#   infra/local/test-e2e.sh            (SUMMA_LOCAL_KEEP=1 keeps the logs)
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
# shellcheck source=lib.sh
source "$REPO/infra/local/lib.sh"
# shellcheck disable=SC2034 # read by lib.sh's summa_log
SUMMA_LOG_TAG=test-e2e
ROOT_64_V1=0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da
T0=$SECONDS
passed=0 failed=0 summary_printed=0

work="$(mktemp -d "${TMPDIR:-/tmp}/test-e2e.XXXXXX")"
summary() {
  summary_printed=1
  echo "$passed passed, $failed failed"
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((failed)) || [[ "$rc" != @(0|130|143) ]]; then summa_stack_logs; fi
  summa_stack_stop || rc=1
  if [[ "${SUMMA_LOCAL_KEEP:-}" == 1 ]]; then summa_log "kept $work"; else rm -rf "$work"; fi
  if ((!summary_printed)); then
    failed=$((failed + 1))
    echo "FAIL the test did not finish (exit $rc)"
    summary
  fi
  ((rc || !failed)) || rc=1
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# check DESCRIPTION COMMAND...: PASS or FAIL (with the command's output, indented).
check() {
  local desc="$1"
  shift
  if "$@" >"$work/check.log" 2>&1; then
    echo "PASS $desc"
    passed=$((passed + 1))
  else
    echo "FAIL $desc"
    sed 's/^/    /' "$work/check.log"
    failed=$((failed + 1))
  fi
}

# json_true EXPR FILE...: EXPR (Python) over the JSON files as j[0], j[1]...;
# wa(x) is x without its "artifacts" (the CLI's result has none) and "build" (times).
json_true() {
  python3 - "$@" <<'EOF'
import json, sys
expr, files = sys.argv[1], sys.argv[2:]
j = []
for f in files:
    with open(f) as fh:
        j.append(json.load(fh))
# Without what differs between S3 and local files: artifacts, run, the inputs'
# keys and ETags (their sizes and SHA-256s, and the mini-trees' hashes, stay).
def wa(x):
    x = {k: v for k, v in x.items() if k not in ("artifacts", "run", "build")}
    x["inputs"] = [
        {"size": i["size"], "sha256": i["sha256"], "mini_tree_sha256": i["mini_tree_sha256"],
         "key": i["key"].rsplit("/", 1)[-1], "mini_tree": i["mini_tree"].rsplit("/", 1)[-1]}
        for i in x.get("inputs", [])
    ]
    return x
if not eval(expr):
    for f, v in zip(files, j):
        print(f"{f}: {json.dumps(v)}")
    sys.exit(f"false: {expr}")
EOF
}

# shards NAME FIXTURE...: a directory with copies of tests/fixtures/FIXTURE.
shards() {
  local dir="$work/$1" f
  shift
  mkdir -p "$dir"
  for f in "$@"; do cp "tests/fixtures/$f" "$dir/"; done
  echo "$dir"
}

# round NAME DIR ARGS...: run-round.sh into $work/NAME.{out,err,rc,json} under
# prefix rounds/e2e-NAME; NAME.json is the last line of stdout.
round() {
  local name="$1" dir="$2" rc=0
  shift 2
  infra/local/run-round.sh "$dir" --prefix "rounds/e2e-$name" "$@" \
    >"$work/$name.out" 2>"$work/$name.err" || rc=$?
  echo "$rc" >"$work/$name.rc"
  tail -n 1 "$work/$name.out" >"$work/$name.json"
}

# succeeded NAME: exit 0 and a JSON last line (else the stderr of run-round.sh).
succeeded() {
  [[ "$(cat "$work/$1.rc")" == 0 ]] && json_true 'isinstance(j[0], dict)' "$work/$1.json" && return 0
  echo "run-round.sh exited $(cat "$work/$1.rc"); stderr:"
  cat "$work/$1.err"
  return 1
}

# cli NAME DIR LAYOUT: the summa-agg CLI's result.json for DIR into $work/NAME.cli.json.
cli() {
  "$BIN/summa-agg" round "$2" --layout "$3" --out "$work/$1.cli" >/dev/null 2>"$work/$1.cli.err" ||
    { cat "$work/$1.cli.err" >&2; return 1; }
  cp "$work/$1.cli/result.json" "$work/$1.cli.json"
}

# failed_round NAME: run-round.sh exited 2 and printed nothing on stdout.
failed_round() {
  [[ "$(cat "$work/$1.rc")" == 2 && ! -s "$work/$1.out" ]] && return 0
  echo "run-round.sh exited $(cat "$work/$1.rc"); stdout and stderr:"
  cat "$work/$1.out" "$work/$1.err"
  return 1
}

moto() { python3 infra/local/moto-client.py "$@"; }

# execution_started REGEX: moto lists an execution of the round state machine
# whose whole input matches this extended regular expression.
execution_started() {
  moto executions "$SUMMA_STATE_MACHINE_ARN" >"$work/executions"
  cat "$work/executions"
  cut -f3 "$work/executions" | grep -qxE "$1"
}

# not_in_s3 KEY: moto-client get says NotFound (exit 3).
not_in_s3() {
  local rc=0
  moto get summa-rounds "$1" >"$work/object" 2>&1 || rc=$?
  ((rc == 3)) && return 0
  echo "s3://summa-rounds/$1: expected no such key, got exit $rc:"
  cat "$work/object"
  return 1
}

# --- the stack (and the CLI, in the same cargo build) -------------------------------
if ! summa_stack_start "$work/stack" -p summa-agg-cli --bin summa-agg; then
  echo "FAIL the local stack starts (moto_server, cargo lambda watch, functions)"
  failed=$((failed + 1))
  summary
  exit 1
fi
BIN="$(summa_target_dir)/debug"
summa_aws_env "$SUMMA_LOCAL_MOTO_URL"
summa_log "stack up in $((SECONDS - T0)) s"

# --- (a) four equal shards, v1 -----------------------------------------------------
t=$SECONDS
dir="$(shards four entry_16_1.csv entry_16_2.csv entry_16_3.csv entry_16_4.csv)"
round four "$dir"
cli four "$dir" v1
check "(a) 4 shards, v1: run-round.sh succeeds, result.json is its last stdout line" succeeded four
check "(a) root = $ROOT_64_V1 (entry_64.csv), balances 2227448/2227448" \
  json_true "j[0]['root'] == {'hash': '$ROOT_64_V1', 'balances': ['2227448', '2227448']} and j[0]['mini_trees'] == 4" \
  "$work/four.json"
check "(a) result = the summa-agg round CLI's result (root, depths, counts, currencies)" \
  json_true 'wa(j[0]) == wa(j[1])' "$work/four.json" "$work/four.cli.json"
moto get summa-rounds rounds/e2e-four/result.json >"$work/four.s3.json" 2>&1 || true
check "(a) result.json in S3 = the printed result" \
  json_true 'j[0] == j[1]' "$work/four.s3.json" "$work/four.json"
check "(a) trigger started the execution in moto's Step Functions with input {bucket, prefix, run}" \
  execution_started '\{"bucket":"summa-rounds","prefix":"rounds/e2e-four","run":"rounds-e2e-four-[0-9a-f]{16}"\}'
check "(a) the result names its run, and that run's artifacts hold it" \
  json_true "j[0]['run'].startswith('rounds-e2e-four-') and j[0]['artifacts']['result'] == 'rounds/e2e-four/runs/' + j[0]['run'] + '/result.json' and len(j[0]['inputs']) == 4" \
  "$work/four.json"
check "(a) result.json's build: each shard's Poseidon backend, CPU, architecture, threads" \
  json_true "[s['shard'] for s in j[0]['build']['shards']] == [0, 1, 2, 3] and all(s['backend'] and s['cpu'] and s['arch'] and s['threads'] >= 1 for s in j[0]['build']['shards']) and j[0]['build']['backends'] == sorted({s['backend'] for s in j[0]['build']['shards']}) and j[0]['build']['cpus'] == sorted({s['cpu'] for s in j[0]['build']['shards']})" \
  "$work/four.json"
summa_log "(a) $((SECONDS - t)) s"

# --- (a') the same shards again, built on (a): every mini-tree re-used ---------------
t=$SECONDS
round again "$dir" --previous rounds/e2e-four
check "(a') incremental round on rounds/e2e-four: succeeds" succeeded again
check "(a') all 4 mini-trees re-used (server-side copies), same result as (a)" \
  json_true "j[0]['reused_mini_trees'] == 4 and 'build' not in j[0] and j[0]['previous'] == 'rounds/e2e-four (run ' + j[1]['run'] + ')' and j[0]['root'] == j[1]['root'] and [i['mini_tree_sha256'] for i in j[0]['inputs']] == [i['mini_tree_sha256'] for i in j[1]['inputs']]" \
  "$work/again.json" "$work/four.json"
summa_log "(a') $((SECONDS - t)) s"

# --- (b) three shards (not a power of two), agg2023 and legacy ---------------------
dir="$(shards three entry_16_1.csv entry_16_2.csv entry_16_3.csv)"
for layout in agg2023 legacy; do
  t=$SECONDS
  round "three-$layout" "$dir" --layout "$layout"
  cli "three-$layout" "$dir" "$layout"
  check "(b) 3 shards, $layout: run-round.sh succeeds" succeeded "three-$layout"
  check "(b) 3 shards, $layout: result = the CLI's (root $(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["root"]["hash"][:18])' "$work/three-$layout.cli.json")...)" \
    json_true "wa(j[0]) == wa(j[1]) and j[0]['mini_trees'] == 3 and j[0]['layout'] == '$layout'" \
    "$work/three-$layout.json" "$work/three-$layout.cli.json"
  summa_log "(b) $layout $((SECONDS - t)) s"
done

# --- (c) a bad shard ----------------------------------------------------------------
t=$SECONDS
dir="$(shards bad entry_16_1.csv entry_16_overflow.csv)"
round bad "$dir"
bad_key=rounds/e2e-bad/shards/entry_16_overflow.csv
check "(c) bad shard: run-round.sh exits 2 (round failed), nothing on stdout" failed_round bad
check "(c) the failure names the shard and the cause (stderr)" \
  grep -F "FAILED: InvalidInput: mini-tree: shard 1 ($bad_key): $bad_key:2: balance_ETH_ETH of user \"dxGaEAii\"" "$work/bad.err"
moto get summa-rounds rounds/e2e-bad/error.json >"$work/bad.error.json" 2>&1 || true
check "(c) error.json in S3: step mini-tree, shard 1, its key, InvalidInput, out of range" \
  json_true "j[0]['run'].startswith('rounds-e2e-bad-') and j[0]['step'] == 'mini-tree' and j[0]['shard'] == 1 and j[0]['shard_key'] == '$bad_key' and j[0]['error'] == 'InvalidInput' and 'out of range for n_bytes = 14' in j[0]['cause']" \
  "$work/bad.error.json"
check "(c) no result.json in S3" not_in_s3 rounds/e2e-bad/result.json
summa_log "(c) $((SECONDS - t)) s"

# --- (d) 1,100 small shards: the Maps' items from S3, a result over 256 KiB -----------
t=$SECONDS
dir="$work/many"
mkdir -p "$dir"
python3 - "$dir" <<'EOF'
import random, sys
r = random.Random(5)
for s in range(1100):
    with open(f"{sys.argv[1]}/s{s:05}.csv", "w") as f:
        f.write("username,balance_ETH_ETH,balance_USDT_ETH\n")
        f.writelines(f"u{s}_{i},{r.randrange(10**6)},{r.randrange(10**6)}\n" for i in range(4))
EOF
round many "$dir"
cli many "$dir" v1
check "(d) 1,100 shards: run-round.sh succeeds (every state under 256 KiB although result.json is not)" succeeded many
check "(d) 1,100 shards: result = the CLI's, result.json over 256 KiB" \
  json_true "wa(j[0]) == wa(j[1]) and j[0]['mini_trees'] == 1100 and len(json.dumps(j[0])) > 262144" \
  "$work/many.json" "$work/many.cli.json"
summa_log "(d) $((SECONDS - t)) s"

# --- teardown ------------------------------------------------------------------------
((failed == 0)) || summa_stack_logs
check "the stack stops, no process left" summa_stack_stop
summa_log "total $((SECONDS - T0)) s"
summary
((failed == 0))
