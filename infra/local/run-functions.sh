#!/usr/bin/env bash
# Runs the five Lambda functions (trigger, plan, mini-tree, aggregator, proof)
# locally behind `cargo lambda watch`, the Lambda API emulator, until Ctrl-C.
# Then: cargo lambda invoke NAME --invoke-address 127.0.0.1 --invoke-port PORT ...
#
#   infra/local/run-functions.sh [PORT]        (default 9000)
#
# The functions get this shell's environment: set AWS_ENDPOINT_URL (moto_server),
# AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION and, for trigger,
# STATE_MACHINE_ARN before starting it. See functions/README.md.
#
# Why not plain `cargo lambda watch`: it starts a function with
# `cargo run --bin NAME` at the workspace root, whose package (summa-agg) has no
# such binary. So the watch only emulates the Lambda APIs (--only-lambda-apis)
# and this script starts each function's binary against it, as Lambda would.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
# shellcheck source=../env.sh
source infra/env.sh
PORT="${1:-9000}"
FUNCTIONS=(trigger plan mini-tree aggregator proof)

cargo build -q -p summa-fn-trigger -p summa-fn-plan -p summa-fn-mini-tree \
  -p summa-fn-aggregator -p summa-fn-proof
TARGET="$(cargo metadata --format-version 1 --no-deps |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -- "-$p" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setsid cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 \
  --invoke-port "$PORT" &
pids+=($!)
for _ in $(seq 100); do
  (echo >"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
  sleep 0.1
done
for f in "${FUNCTIONS[@]}"; do
  AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$PORT/.rt/$f" \
    AWS_LAMBDA_FUNCTION_NAME="$f" AWS_LAMBDA_FUNCTION_VERSION=1 \
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024 RUST_LOG="${RUST_LOG:-info}" \
    SUMMA_MERKLE_PROOFS=allow \
    setsid "$TARGET/debug/$f" &
  pids+=($!)
done
echo "run-functions: ${FUNCTIONS[*]} on 127.0.0.1:$PORT (Ctrl-C stops them)" >&2
wait
