#!/usr/bin/env bash
# Starts the local stack (lib.sh's summa_stack_start WORKDIR) and keeps it up
# until this script gets TERM or INT, then stops it (also when it failed to
# start). For programs that drive rounds on one stack (the fault campaign's
# state-machine part, functions/summa-functions/tests/fault_campaign/stack.rs):
#
#   infra/local/stack.sh WORKDIR        # SUMMA_LOCAL_FAULT_DIR: see lib.sh
#
# When the stack is up it writes its process groups to WORKDIR/pids and prints
# one line on stdout:
#   ready SUMMA_LOCAL_MOTO_URL=<url> SUMMA_LOCAL_LAMBDA_PORT=<port>
# Progress and errors go to stderr; exit 1 if the stack did not start.
set -euo pipefail
(($# == 1)) || {
  echo "usage: infra/local/stack.sh WORKDIR" >&2
  exit 2
}
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck disable=SC2034 # read by lib.sh's summa_log
SUMMA_LOG_TAG=stack
trap 'summa_stack_stop; exit $?' TERM INT
trap 'summa_stack_stop' EXIT
if ! summa_stack_start "$1"; then
  summa_stack_logs
  exit 1
fi
# The process groups, for a caller that must kill them if this script cannot.
echo "${SUMMA_STACK_PIDS[*]}" >"$1/pids"
echo "ready SUMMA_LOCAL_MOTO_URL=$SUMMA_LOCAL_MOTO_URL SUMMA_LOCAL_LAMBDA_PORT=$SUMMA_LOCAL_LAMBDA_PORT"
while :; do sleep 1 & wait $! || true; done
