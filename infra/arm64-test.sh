#!/usr/bin/env bash
# Tests the aarch64 artifacts built by infra/arm64.sh under qemu-aarch64-static
# (Debian's qemu-user-static), all with one thread (under qemu-user on these
# machines a program that starts a thread hangs):
#
#   1. the aarch64 summa-agg `--threads 1 round`: its roots against
#      tests/fixtures/known-answers.json in all three layouts, and the 4-shard
#      round against entry_64.csv's root; and `--threads 1 self-test`: the
#      engine's field arithmetic (src/poseidon/aarch64.rs's assembly, which it
#      must report) against halo2curves' Fr on edge and pseudo-random values, its
#      permutation and batches against the specification and halo2_poseidon;
#   2. the aarch64 Lambda bootstraps of plan, mini-tree and aggregator
#      (target/lambda/<f>/bootstrap) as on Lambda: polling a Lambda runtime API
#      (`cargo lambda watch --only-lambda-apis`) with SUMMA_AGG_THREADS=1 (a
#      current-thread runtime, no thread started), against moto_server's S3 on
#      127.0.0.1 (an IP literal: no resolver thread); each round is invoked
#      with `cargo lambda invoke` (plan, mini-tree per shard, aggregator), and
#      its result.json's root must be the known one, with every shard's build
#      record saying aarch64 and one thread.
#
# One line per check, then `N passed, M failed`; exit 1 if any failed.
# Needs the tools of infra/setup-tools.sh (installed here if missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BIN=target/aarch64-unknown-linux-gnu/release/summa-agg
[[ -x "$BIN" ]] || { echo "arm64-test: no $BIN: run infra/arm64.sh (make arm64) first" >&2; exit 1; }
QEMU=(qemu-aarch64-static -L /usr/aarch64-linux-gnu)
# Each invocation takes well under a second under qemu; a hung one fails after this.
INVOKE_TIMEOUT="${ARM64_TEST_INVOKE_TIMEOUT:-60}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
passed=0 failed=0
check() { # check DESCRIPTION EXPECTED ACTUAL
  if [[ "$2" == "$3" ]]; then
    echo "PASS $1"; passed=$((passed + 1))
  else
    echo "FAIL $1: expected $2, got $3"; failed=$((failed + 1))
  fi
}
root_of() { # root_of OUT ARGS...: the round's root hash
  local out="$1"
  shift
  timeout 300 "${QEMU[@]}" "$BIN" --threads 1 round "$@" --out "$out" 2>"$out.err" | tail -n 1 |
    python3 -c 'import json, sys; print(json.loads(sys.stdin.read())["root"]["hash"])' 2>/dev/null || echo "no result ($(tail -n 1 "$out.err" 2>/dev/null))"
}
known() { # known LAYOUT: entry_16.csv's known root in that layout
  python3 -c 'import json, sys
ka = json.load(open("tests/fixtures/known-answers.json"))
print(next(r["hash"] for r in ka["roots"] if r["layout"] == sys.argv[1] and r["csv"] == "entry_16.csv"))' "$1"
}
for layout in v1 agg2023 legacy; do
  check "aarch64 summa-agg --threads 1 round entry_16.csv --layout $layout = the known root" \
    "$(known "$layout")" "$(root_of "$work/$layout" tests/fixtures/entry_16.csv --layout "$layout")"
done
check "aarch64 summa-agg --threads 1 round over entry_16_1..4.csv = entry_64.csv's root" \
  "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da" \
  "$(root_of "$work/four" tests/fixtures/entry_16_1.csv tests/fixtures/entry_16_2.csv tests/fixtures/entry_16_3.csv tests/fixtures/entry_16_4.csv)"
self_test() { # the self-test's implementation and failure count, or why none
  timeout 300 "${QEMU[@]}" "$BIN" --threads 1 self-test --cases "${ARM64_TEST_SELF_TEST_CASES:-20000}" 2>"$work/self-test.err" |
    python3 -c 'import json, sys; r = json.loads(sys.stdin.read()); print(r["field_ops"], len(r["failures"]), "failures" if r["checks"] > 0 else "no checks", r["failures"][:3])' 2>/dev/null ||
    echo "no result ($(tail -n 1 "$work/self-test.err" 2>/dev/null))"
}
check "aarch64 summa-agg --threads 1 self-test: the aarch64 assembly's field ops, permutation and batches equal halo2curves / halo2_poseidon" \
  "aarch64-asm 0 failures []" "$(self_test)"

# --- 2. the Lambda bootstraps behind a runtime API, on moto's S3 -----------------
SUMMA_LOG_TAG=arm64-test
# shellcheck source=local/lib.sh
source infra/local/lib.sh
summa_tools >/dev/null
trap 'summa_stack_stop >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
LAMBDA_FUNCTIONS=(plan mini-tree aggregator)
stack_ok=1
for f in "${LAMBDA_FUNCTIONS[@]}"; do
  [[ -x "target/lambda/$f/bootstrap" ]] || { echo "arm64-test: no target/lambda/$f/bootstrap: run make arm64" >&2; exit 1; }
done
summa_spawn_listening moto_server "$work/moto.log" moto_server -H 127.0.0.1 -p "{port}" || stack_ok=0
moto_port="${SUMMA_SPAWNED_PORT:-0}"
summa_spawn_listening "cargo lambda watch" "$work/watch.log" cargo lambda watch --only-lambda-apis \
  --invoke-address 127.0.0.1 --invoke-port "{port}" --timeout "$INVOKE_TIMEOUT" || stack_ok=0
lambda_port="${SUMMA_SPAWNED_PORT:-0}"
for f in "${LAMBDA_FUNCTIONS[@]}"; do
  summa_spawn "$f" "$work/$f.log" env -u AWS_PROFILE -u AWS_SESSION_TOKEN \
    AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$lambda_port/.rt/$f" \
    AWS_LAMBDA_FUNCTION_NAME="$f" AWS_LAMBDA_FUNCTION_VERSION=1 \
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1769 SUMMA_AGG_THREADS=1 \
    AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" \
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_REGION="$SUMMA_REGION" AWS_DEFAULT_REGION="$SUMMA_REGION" RUST_LOG=info \
    "${QEMU[@]}" "target/lambda/$f/bootstrap"
done
summa_aws_env "http://127.0.0.1:$moto_port"
BUCKET=summa-arm64-test
invoke() { # invoke FUNCTION PAYLOAD: the function's output, or exit status 1
  NO_COLOR=1 timeout "$INVOKE_TIMEOUT" cargo lambda invoke "$1" --invoke-address 127.0.0.1 \
    --invoke-port "$lambda_port" --data-ascii "$2" 2>>"$work/invoke.err"
}
map_items() { # map_items FIELD: one line per item of the file plan.out's FIELD names
  python3 - "$BUCKET" "$work/plan.out" "$1" <<'PY'
import json, sys
import boto3
key = json.load(open(sys.argv[2]))[sys.argv[3]]
for item in json.loads(boto3.client("s3").get_object(Bucket=sys.argv[1], Key=key)["Body"].read()):
    print(json.dumps(item))
PY
}
lambda_round() { # lambda_round PREFIX LAYOUT SHARD...: the round's root, or why not
  # (after one failed round the others are not run: a dead or hung bootstrap
  # would make each of their invocations wait for the timeout)
  [[ -e "$work/round-failed" ]] && { echo "not run: an earlier round failed"; return; }
  touch "$work/round-failed"
  local prefix="$1" layout="$2" run="arm64-test" n i in result
  shift 2
  python3 - "$BUCKET" "$prefix" "$layout" "$@" <<'PY' || { echo "upload failed"; return; }
import json, os, sys
import boto3
bucket, prefix, layout, shards = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
s3 = boto3.client("s3")
try:
    s3.create_bucket(Bucket=bucket)
except s3.exceptions.BucketAlreadyOwnedByYou:
    pass
for path in shards:
    s3.upload_file(path, bucket, f"{prefix}/shards/{os.path.basename(path)}")
s3.put_object(Bucket=bucket, Key=f"{prefix}/round.json", Body=json.dumps({"layout": layout}))
PY
  in="{\"bucket\": \"$BUCKET\", \"prefix\": \"$prefix\", \"run\": \"$run\"}"
  invoke plan "$in" >"$work/plan.out" || { echo "plan failed: $(tail -n 3 "$work/invoke.err")"; return; }
  n="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["shard_count"])' "$work/plan.out")"
  # Each Map's items as its ItemReader gives them: every item of the plan's
  # items.json to a mini-tree, then every item of index-items.json to the
  # aggregator in index mode (the UserIndex Map).
  map_items items_key >"$work/items.jsonl" || { echo "items.json unreadable"; return; }
  map_items index_items_key >"$work/index-items.jsonl" || { echo "index-items.json unreadable"; return; }
  i=0
  while IFS= read -r item; do
    invoke mini-tree "$item" </dev/null >/dev/null || { echo "mini-tree $i failed: $(tail -n 3 "$work/invoke.err")"; return; }
    i=$((i + 1))
  done <"$work/items.jsonl"
  ((i == n)) || { echo "items.json has $i items for $n shards"; return; }
  while IFS= read -r item; do
    invoke aggregator "$item" </dev/null >/dev/null || { echo "index partition failed: $(tail -n 3 "$work/invoke.err")"; return; }
  done <"$work/index-items.jsonl"
  result="$work/${prefix//\//_}.result.json"
  invoke aggregator "$in" >"$result" ||
    { echo "aggregator failed: $(tail -n 3 "$work/invoke.err")"; return; }
  python3 - "$result" "$n" "$BUCKET" <<'PY'
import json, sys
import boto3
# The aggregator answers the result without its per-shard lists and where the
# whole result is: read that one.
brief = json.load(open(sys.argv[1]))
r = json.loads(boto3.client("s3").get_object(Bucket=sys.argv[3], Key=brief["result_key"])["Body"].read())
assert r["root"] == brief["root"], (r["root"], brief["root"])
b = r.get("build") or {}
shards = b.get("shards", [])
bad = [s for s in shards if (s["arch"], s["threads"]) != ("aarch64", 1)]
if len(shards) != int(sys.argv[2]) or bad:
    print(f"build records not all aarch64 with 1 thread: {b}")
else:
    print(r["root"]["hash"])
    print(f"arm64-test: build records of {sys.argv[1].split('/')[-1]}: backends {b['backends']}, cpus {b['cpus']}, build_ms {[s['build_ms'] for s in shards]}", file=sys.stderr)
PY
  rm -f "$work/round-failed"
}
if ((stack_ok)); then
  for layout in v1 agg2023 legacy; do
    check "aarch64 plan, mini-tree, aggregator (Lambda runtime API, moto S3, 1 thread) on entry_16.csv --layout $layout = the known root" \
      "$(known "$layout")" "$(lambda_round "rounds/$layout" "$layout" tests/fixtures/entry_16.csv)"
  done
  check "aarch64 plan, mini-tree x4, aggregator (Lambda runtime API, moto S3, 1 thread) over entry_16_1..4.csv = entry_64.csv's root" \
    "0x1a2cd781913e49ef803fbdff9bfa873d0e8b8e1ca96d593bc4837e2d1bea03da" \
    "$(lambda_round rounds/four v1 tests/fixtures/entry_16_1.csv tests/fixtures/entry_16_2.csv tests/fixtures/entry_16_3.csv tests/fixtures/entry_16_4.csv)"
  # No thread started: qemu-user runs each guest thread as a host thread, plus
  # one of its own (its RCU thread), so a guest that started none has 2.
  for i in "${!SUMMA_STACK_NAMES[@]}"; do
    name="${SUMMA_STACK_NAMES[$i]}"
    [[ " ${LAMBDA_FUNCTIONS[*]} " == *" $name "* ]] || continue
    check "aarch64 $name started no thread (2 host threads: the guest's one and qemu's RCU thread)" 2 \
      "$(awk '/^Threads:/ {print $2}' "/proc/$(pgrep -g "${SUMMA_STACK_PIDS[$i]}" -f bootstrap | head -n 1)/status" 2>/dev/null || echo "not running")"
  done
else
  check "the local stack (moto_server, cargo lambda watch) starts" started "not started"
  summa_stack_logs
fi
if ((failed)); then summa_stack_logs; fi

echo "$passed passed, $failed failed"
((failed == 0))
