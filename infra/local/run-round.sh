#!/usr/bin/env bash
# Runs one Summa round end to end on this machine: the real Lambda functions
# behind `cargo lambda watch`, S3 and Step Functions' API on moto_server, and
# state-machine/round.asl.json (placeholders filled, nothing else changed) in
# aws-local-stepfunctions (infra/local-sfn.mjs, Node 22).
#
#   infra/local/run-round.sh SHARDS_DIR [--layout v1|agg2023|legacy] [--n-bytes N]
#                            [--prefix P] [--bucket B] [--previous PREV]
#   infra/local/run-round.sh --redrive --prefix P [--bucket B]
#
#   1. Starts moto_server and cargo lambda watch with the five functions on free
#      127.0.0.1 ports (tools installed and binaries built if needed), unless
#      SUMMA_LOCAL_MOTO_URL and SUMMA_LOCAL_LAMBDA_PORT name a running stack
#      (the end-to-end test's own stack, functions/summa-functions/tests/local_lambda/, or moto_server
#      + infra/local/run-functions.sh by hand); then it only uses them.
#   2. Creates bucket B (default summa-rounds) and the state machine summa-round in
#      moto (if missing), empties P/ (default rounds/<UTC time>-<random>), uploads
#      SHARDS_DIR/*.csv as P/shards/<name>.csv and the manifest P/round.json =
#      {"layout": L (v1), "n_bytes": N (14)}, with "previous": PREV when given (an
#      incremental round: unchanged shards re-use PREV's published mini-trees).
#   3. Invokes `trigger` with the S3 event of the manifest upload (real ETag and
#      size); it starts an execution in moto's Step Functions. The execution's
#      input, read back from moto (ListExecutions, DescribeExecution), is the input
#      of the run.
#   4. Runs the state machine locally; every Task invokes the real function with
#      `cargo lambda invoke` (infra/local/invoke.sh), function errors keep their
#      errorType, so Retry and Catch behave as in AWS.
#
# --redrive: steps 2 and 3 are skipped; the state machine runs again with the
# input of P's newest execution in moto (the same run), as after a failure: the
# emulator has no RedriveExecution, so every state runs again (a superset of a
# redrive, which re-runs only the failed ones; the functions re-use what the run
# already wrote). SUMMA_LOCAL_RETRY_MS=N waits N ms between retries instead of
# the definition's intervals (the fault campaign, fault_campaign/stack.rs).
#
# Output: on success the round's result.json, read from S3, as the last line on
# stdout (one JSON line), exit 0. A failed round prints the execution's Error and
# Cause and P/error.json on stderr, exit 2. Other trouble: exit 1. Progress goes to
# stderr. Everything started here is stopped on exit, also on failure and Ctrl-C.
# SUMMA_LOCAL_KEEP=1 keeps the work directory (logs, trace) and prints its path.
# shellcheck source-path=SCRIPTDIR
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=lib.sh
source "$REPO/infra/local/lib.sh"
# shellcheck disable=SC2034 # read by lib.sh's summa_log
SUMMA_LOG_TAG=run-round
T0=$SECONDS

usage() {
  echo "usage: infra/local/run-round.sh SHARDS_DIR [--layout v1|agg2023|legacy] [--n-bytes N] [--prefix P] [--bucket B] [--previous PREV]" >&2
  echo "       infra/local/run-round.sh --redrive --prefix P [--bucket B]" >&2
  exit 1
}
die() {
  summa_log "$*"
  exit 1
}

shards_dir="" layout=v1 n_bytes=14 prefix="" bucket=summa-rounds previous="" redrive=0
while (($#)); do
  case "$1" in
    --layout | --n-bytes | --prefix | --bucket | --previous)
      (($# >= 2)) || usage
      case "$1" in
        --layout) layout="$2" ;;
        --n-bytes) n_bytes="$2" ;;
        --prefix) prefix="$2" ;;
        --bucket) bucket="$2" ;;
        --previous) previous="$2" ;;
      esac
      shift 2
      ;;
    --redrive)
      redrive=1
      shift
      ;;
    -h | --help) usage ;;
    -*) usage ;;
    *)
      [[ -z "$shards_dir" ]] || usage
      shards_dir="$1"
      shift
      ;;
  esac
done
if ((redrive)); then
  [[ -z "$shards_dir" && -n "$prefix" ]] || usage
  [[ -n "${SUMMA_LOCAL_MOTO_URL:-}" && -n "${SUMMA_LOCAL_LAMBDA_PORT:-}" ]] ||
    die "--redrive runs an execution of a running stack again: set SUMMA_LOCAL_MOTO_URL and SUMMA_LOCAL_LAMBDA_PORT (lib.sh)"
else
  [[ -n "$shards_dir" ]] || usage
  [[ -d "$shards_dir" ]] || die "$shards_dir is not a directory"
  shard_count="$(find -L "$shards_dir" -maxdepth 1 -type f -name '*.csv' | wc -l)"
  ((shard_count > 0)) || die "no *.csv files in $shards_dir"
  shards_dir="$(cd "$shards_dir" && pwd)"
fi
cd "$REPO"
[[ "$n_bytes" =~ ^[0-9]+$ ]] || die "--n-bytes must be a number, got '$n_bytes'"
prefix="${prefix%/}"
prefix="${prefix#/}"
if [[ -z "$prefix" ]]; then
  prefix="rounds/$(date -u +%Y%m%dT%H%M%SZ)-$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/run-round.XXXXXX")"
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  summa_stack_stop || rc=1
  if [[ "${SUMMA_LOCAL_KEEP:-}" == 1 ]]; then
    summa_log "kept $work"
  else
    rm -rf "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- 1. the stack ------------------------------------------------------------
if [[ -n "${SUMMA_LOCAL_MOTO_URL:-}" && -n "${SUMMA_LOCAL_LAMBDA_PORT:-}" ]]; then
  summa_tools
  summa_log "using moto_server on $SUMMA_LOCAL_MOTO_URL, cargo lambda watch on 127.0.0.1:$SUMMA_LOCAL_LAMBDA_PORT"
else
  summa_stack_start "$work/stack" || {
    summa_stack_logs
    die "could not start the local stack"
  }
fi
export SUMMA_LOCAL_LAMBDA_PORT
summa_aws_env "$SUMMA_LOCAL_MOTO_URL"
moto() { python3 infra/local/moto-client.py "$@"; }

# --- 2. bucket, state machine, shards, manifest --------------------------------
# Map concurrency: each function serves one invocation at a time here (one
# process per function), so more than a few at once only queue up.
python3 infra/render-asl.py state-machine/round.asl.json MapConcurrency="${SUMMA_LOCAL_MAP_CONCURRENCY:-16}" >"$work/round.asl.json"
sm_arn="$(moto init "$bucket" "$SUMMA_STATE_MACHINE" "$work/round.asl.json" \
  "arn:aws:iam::$SUMMA_ACCOUNT:role/$SUMMA_STATE_MACHINE")"
[[ "$sm_arn" == "$SUMMA_STATE_MACHINE_ARN" ]] ||
  die "state machine is $sm_arn, but trigger starts $SUMMA_STATE_MACHINE_ARN"
# Steps 2 (the upload) and 3 (trigger): sets exec_arn and writes $work/input.json.
upload_and_trigger() {
  manifest="$(python3 -c 'import json, sys
m = {"layout": sys.argv[1], "n_bytes": int(sys.argv[2])}
if sys.argv[3]:
    m["previous"] = sys.argv[3]
print(json.dumps(m))' "$layout" "$n_bytes" "$previous")"
  moto upload-round "$bucket" "$prefix" "$shards_dir" "$manifest" >"$work/event.json"
  summa_log "uploaded $shard_count shards and $manifest to s3://$bucket/$prefix/"

  # --- 3. trigger ------------------------------------------------------------------
  if ! infra/local/invoke.sh trigger "$(cat "$work/event.json")" >"$work/trigger.json"; then
    die "trigger failed: $(cat "$work/trigger.json")"
  fi
  exec_arn="$(python3 - "$work/trigger.json" "$SUMMA_STATE_MACHINE_ARN" <<'EOF'
import json, sys
out = json.load(open(sys.argv[1]))
started = out.get("started", [])
if len(started) != 1:
    sys.exit(f"trigger started {len(started)} executions, expected 1: {json.dumps(out)}")
s = started[0]
arn = s.get("execution_arn")
if not arn:  # already_started: this manifest version's execution exists
    arn = sys.argv[2].replace(":stateMachine:", ":execution:") + ":" + s["execution_name"]
print(arn)
EOF
  )"
  moto execution-input "$SUMMA_STATE_MACHINE_ARN" "$exec_arn" >"$work/input.json"
  summa_log "trigger: execution $exec_arn, input (from moto) $(cat "$work/input.json")"
}

if ((redrive)); then
  moto execution-of-prefix "$SUMMA_STATE_MACHINE_ARN" "$prefix" >"$work/execution.tsv" ||
    die "no execution of $SUMMA_STATE_MACHINE for $prefix to redrive"
  exec_arn="$(cut -f1 "$work/execution.tsv")"
  cut -f2- "$work/execution.tsv" >"$work/input.json"
  summa_log "redrive: execution $exec_arn again, input (from moto) $(cat "$work/input.json")"
else
  upload_and_trigger
fi

# --- 4. the state machine ----------------------------------------------------------
mkdir -p "$work/fn"
for f in plan mini-tree aggregator; do
  # shellcheck disable=SC2016 # "$1" belongs to the wrapper
  printf '#!/usr/bin/env bash\nexec %q %q "$1"\n' "$REPO/infra/local/invoke.sh" "$f" >"$work/fn/$f"
  chmod +x "$work/fn/$f"
done
retry_ms=()
if [[ -n "${SUMMA_LOCAL_RETRY_MS:-}" ]]; then
  for state in Plan MiniTree IndexPartition Aggregate; do
    retry_ms+=(-r "$state:$SUMMA_LOCAL_RETRY_MS")
  done
fi
t_sfn=$SECONDS
sfn_status=0
node infra/local-sfn.mjs -f "$work/round.asl.json" --trace \
  -t "Plan:$work/fn/plan" -t "MiniTree:$work/fn/mini-tree" \
  -t "IndexPartition:$work/fn/aggregator" -t "Aggregate:$work/fn/aggregator" \
  "${retry_ms[@]}" - <"$work/input.json" >"$work/output.json" 2>"$work/trace.jsonl" || sfn_status=$?
python3 - "$work/trace.jsonl" "$((SECONDS - t_sfn))" <<'EOF' >&2 || true
import json, sys
path, maps, iters = [], {}, {}
for line in open(sys.argv[1]):
    try:
        ev = json.loads(line)
    except ValueError:
        continue
    t, s = ev.get("type"), ev.get("state")
    if t == "StateEntered" and s and "parent" not in ev and "index" not in ev:
        path.append(s)
    elif t == "MapIterationStarted":
        iters[ev.get("parent", s)] = iters.get(ev.get("parent", s), 0) + 1
    elif t in ("StateRetried", "StateCaught", "StateFailed") or (t == "MapIterationFailed"):
        parts = [t, s, f"#{ev['index']}" if "index" in ev else None, ev.get("Error")]
        print("run-round: " + " ".join(str(p) for p in parts if p is not None))
print("run-round: states: " + " -> ".join(f"{p} [{iters[p]} iterations]" if p in iters else p for p in path)
      + f" ({sys.argv[2]} s)")
EOF

case "$sfn_status" in
  0)
    moto get "$bucket" "$prefix/result.json" >"$work/result.json" ||
      die "the execution succeeded but s3://$bucket/$prefix/result.json cannot be read"
    python3 - "$work/result.json" "$work/output.json" <<'EOF' || die "result.json differs from the execution's output"
import json, sys
stored = json.load(open(sys.argv[1]))
output = json.loads(open(sys.argv[2]).read())
# The execution's output is the result without its per-shard lists, and the key
# of the whole result (which the published P/result.json equals).
key = output.pop("result_key", None)
if key != stored.get("artifacts", {}).get("result"):
    sys.exit(f"run-round: the execution output's result_key {key!r} is not result.json's artifacts.result")
brief = dict(stored, inputs=[])
if brief.get("build"):
    brief["build"] = dict(brief["build"], shards=[])
if brief != dict(output, inputs=output.get("inputs", [])):
    sys.exit(f"run-round: s3 result.json {stored} does not match the execution output {output}")
EOF
    summa_log "round s3://$bucket/$prefix succeeded in $((SECONDS - T0)) s; result.json:"
    python3 -c 'import json, sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' \
      "$work/result.json"
    ;;
  2)
    python3 - "$work/output.json" "s3://$bucket/$prefix" <<'EOF' >&2 || cat "$work/output.json" >&2
import json, sys
f = json.load(open(sys.argv[1]))
cause = f.get("Cause") or ""
try:
    c = json.loads(cause)
    cause = c.get("errorMessage", cause) if isinstance(c, dict) else cause
except ValueError:
    pass
print(f"run-round: round {sys.argv[2]} FAILED: {f.get('Error')}: {cause}")
EOF
    # What AWS does next: the template's EventBridge rule (AggregatorFunction,
    # RoundFailed) delivers the execution's FAILED status change to the
    # aggregator, which writes the run's error.json and P/error.json. Here that
    # event is built from the execution (as in
    # functions/aggregator/events/execution-failed.json) and sent the same way.
    python3 - "$exec_arn" "$SUMMA_STATE_MACHINE_ARN" "$work/input.json" "$work/output.json" \
      >"$work/failed-event.json" <<'EOF'
import json, sys
arn, sm, input_path, output_path = sys.argv[1:]
f = json.load(open(output_path))
print(json.dumps({
    "version": "0",
    "detail-type": "Step Functions Execution Status Change",
    "source": "aws.states",
    "resources": [arn],
    "detail": {
        "executionArn": arn,
        "stateMachineArn": sm,
        "name": arn.rsplit(":", 1)[1],
        "status": "FAILED",
        "input": open(input_path).read().strip(),
        "inputDetails": {"included": True},
        "output": None,
        "error": f.get("Error"),
        "cause": f.get("Cause"),
        "redriveCount": 0,
    },
}))
EOF
    if ! infra/local/invoke.sh aggregator "$(cat "$work/failed-event.json")" >"$work/failure-record.json"; then
      summa_log "the failure handler (aggregator) failed: $(cat "$work/failure-record.json")"
    fi
    if moto get "$bucket" "$prefix/error.json" >"$work/error.json" 2>/dev/null; then
      summa_log "s3://$bucket/$prefix/error.json:"
      cat "$work/error.json" >&2
    else
      summa_log "no s3://$bucket/$prefix/error.json"
    fi
    if moto get "$bucket" "$prefix/result.json" >/dev/null 2>&1; then
      summa_log "s3://$bucket/$prefix/result.json exists although the round failed"
    fi
    exit 2
    ;;
  *)
    summa_log "local-sfn.mjs failed (exit $sfn_status):"
    cat "$work/output.json" "$work/trace.jsonl" >&2
    summa_stack_logs
    exit 1
    ;;
esac
