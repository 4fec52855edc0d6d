#!/usr/bin/env bash
# Invokes one of the round's functions with `cargo lambda invoke` against a
# running `cargo lambda watch` (infra/local/run-round.sh, run-functions.sh), in
# the protocol of a Task override of infra/local-sfn.mjs:
#
#   infra/local/invoke.sh FUNCTION [PAYLOAD_JSON]     (payload: argument or stdin)
#
#   Port: SUMMA_LOCAL_LAMBDA_PORT (default 9000), address 127.0.0.1.
#   Success: exit 0, stdout = the function's result.
#   Function error: exit 1, stdout = {"errorType": ..., "errorMessage": ...}
#     (what Lambda returns, so the state machine's Retry/Catch match errorType).
#   Anything else (emulator unreachable, timeout): exit 1, the message on stderr
#     and nothing on stdout (local-sfn.mjs: Lambda.Unknown).
#
# cargo lambda prints a function error on stderr as `Error: <errorType>`, then the
# message wrapped at 80 columns (`  × ...`, `  │ ...`); the message is unwrapped
# here the way functions/summa-functions/tests/local_lambda/ does it: a wrap at a space
# becomes one space, a wrap after '/' or '-' none (a very long word may be split
# elsewhere and then gets a space).
set -euo pipefail

if (($# < 1 || $# > 2)); then
  echo "usage: infra/local/invoke.sh FUNCTION [PAYLOAD_JSON]" >&2
  exit 2
fi
fn="$1"
if (($# == 2)); then payload="$2"; else payload="$(cat)"; fi
port="${SUMMA_LOCAL_LAMBDA_PORT:-9000}"

err="$(mktemp)"
trap 'rm -f "$err"' EXIT
status=0
# The invocation; `exec`: run it in a subshell, which it replaces (so that `$!`
# of `invoke &` is cargo lambda's own pid).
invoke() {
  NO_COLOR=1 exec cargo lambda invoke "$fn" --invoke-address 127.0.0.1 --invoke-port "$port" \
    --data-ascii "$payload"
}
pid_file="${SUMMA_LOCAL_FAULT_DIR:+$SUMMA_LOCAL_FAULT_DIR/$fn.pid}"
if [[ -n "$pid_file" && -f "$pid_file" ]]; then
  # A stack with killable functions (lib.sh, SUMMA_LOCAL_FAULT_DIR): the live
  # process (one per function, so the one that will serve this invocation; the
  # caller runs one invocation per function at a time). If it dies before
  # answering, Lambda answers Runtime.ExitError at once, which Step Functions
  # reports as Lambda.Unknown: so does this (exit 1, nothing on stdout).
  for _ in $(seq 200); do
    serving="$(cat "$pid_file" 2>/dev/null || true)"
    [[ -n "$serving" ]] && kill -0 "$serving" 2>/dev/null && break
    sleep 0.05
  done
  if [[ -z "$serving" ]] || ! kill -0 "$serving" 2>/dev/null; then
    echo "invoke.sh: no live $fn process after 10 s ($pid_file)" >&2
    exit 1
  fi
  out="$(mktemp)"
  trap 'rm -f "$err" "$out"' EXIT
  set +m
  invoke >"$out" 2>"$err" &
  invoker=$!
  while kill -0 "$invoker" 2>/dev/null; do
    if ! kill -0 "$serving" 2>/dev/null; then
      kill -KILL "$invoker" 2>/dev/null || true
      wait "$invoker" 2>/dev/null || true
      echo "RequestId: local Error: Runtime exited with error: signal: killed (Runtime.ExitError; $fn process $serving)" >&2
      exit 1
    fi
    sleep 0.05
  done
  wait "$invoker" || status=$?
  cat "$out"
else
  (invoke) 2>"$err" || status=$?
fi
((status == 0)) && exit 0

# A function error, or a failed invocation?
python3 - "$err" "$fn" <<'EOF' && exit 1
import json, re, sys

text = re.sub(r"\x1b\[[0-9;]*m", "", open(sys.argv[1], encoding="utf-8", errors="replace").read())
lines = iter(text.splitlines())
for line in lines:
    m = re.fullmatch(r"Error: ([A-Za-z0-9_.:-]+)\s*", line)
    if m:
        break
else:
    sys.exit(1)
message = ""
for line in lines:
    t = line.lstrip()
    if t.startswith("×"):
        message += t[1:].strip()
    elif t.startswith("│") and message:
        if not message.endswith(("/", "-")):
            message += " "
        message += t[1:].strip()
    elif message:
        break
if not message:
    sys.exit(1)
print(json.dumps({"errorType": m.group(1), "errorMessage": message}))
EOF
echo "invoke.sh: cargo lambda invoke $fn failed (exit $status) without a function error:" >&2
cat "$err" >&2
exit 1
