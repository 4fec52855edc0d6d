# shellcheck shell=bash source-path=SCRIPTDIR
# The local stack of infra/local/run-round.sh, as functions to source (bash):
#
#   source infra/local/lib.sh
#   summa_stack_start WORKDIR     # tools, cargo build, moto_server, cargo lambda
#                                 # watch, the five functions; exports
#                                 # SUMMA_LOCAL_MOTO_URL and SUMMA_LOCAL_LAMBDA_PORT
#   ... infra/local/run-round.sh DIR ...   # uses the running stack (those variables)
#   summa_stack_stop              # stops everything it started; non-zero if
#                                 # something survived
#
# SUMMA_LOCAL_FAULT_DIR=DIR adds S3 faults and killed functions (fault-proxy.py;
# the state-machine part of the fault campaign, functions/summa-functions/tests/
# fault_campaign/stack.rs).
#
# Every process runs in its own process group (setsid) and is stopped as a group
# (TERM, then KILL after 5 s). Logs: WORKDIR/{moto,watch,<function>}.log.
# The caller installs the trap: `trap summa_stack_stop EXIT`.

SUMMA_REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SUMMA_FUNCTIONS=(trigger plan mini-tree aggregator proof)
SUMMA_FUNCTION_PACKAGES=(-p summa-fn-trigger -p summa-fn-plan -p summa-fn-mini-tree
  -p summa-fn-aggregator -p summa-fn-proof)
SUMMA_REGION=us-east-1
SUMMA_ACCOUNT=123456789012
SUMMA_STATE_MACHINE=summa-round
SUMMA_STATE_MACHINE_ARN="arn:aws:states:$SUMMA_REGION:$SUMMA_ACCOUNT:stateMachine:$SUMMA_STATE_MACHINE"
SUMMA_STACK_PIDS=()
SUMMA_STACK_NAMES=()
SUMMA_STACK_LOGS=()
SUMMA_STACK_DIR=""

summa_log() { printf '%s: %s\n' "${SUMMA_LOG_TAG:-local}" "$*" >&2; }

# Installs the tools if needed (quiet when they are there) and puts them on PATH.
summa_tools() {
  bash "$SUMMA_REPO/infra/setup-tools.sh"
  # shellcheck source=../env.sh
  source "$SUMMA_REPO/infra/env.sh"
}

# The environment of the AWS clients (functions, boto3) for moto at URL.
summa_aws_env() {
  export AWS_ENDPOINT_URL="$1" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
    AWS_REGION="$SUMMA_REGION" AWS_DEFAULT_REGION="$SUMMA_REGION"
  unset AWS_PROFILE AWS_SESSION_TOKEN
}

summa_target_dir() {
  (cd "$SUMMA_REPO" && cargo metadata --format-version 1 --no-deps) |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

summa_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# summa_spawn NAME LOG COMMAND...: in the background, in a new session and
# process group whose id is the recorded pid. (With job control on, as in an
# interactive shell, the job would lead its own group and setsid would fork
# instead: it is turned off for the spawn.)
summa_spawn() {
  local name="$1" log="$2" monitor=0
  shift 2
  if [[ $- == *m* ]]; then monitor=1 && set +m; fi
  setsid "$@" </dev/null >"$log" 2>&1 &
  if ((monitor)); then set -m; fi
  SUMMA_STACK_PIDS+=($!)
  SUMMA_STACK_NAMES+=("$name")
  SUMMA_STACK_LOGS+=("$log")
}

summa_tail_log() { # NAME LOG
  [[ -s "$2" ]] || return 0
  printf -- '---- last lines of %s (%s) ----\n' "$1" "$2" >&2
  tail -n 40 "$2" >&2
}

# summa_wait_port PORT NAME LOG PID: until PORT accepts connections (60 s).
summa_wait_port() {
  local port="$1" name="$2" log="$3" pid="$4" i
  for i in $(seq 600); do
    if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then
      summa_log "$name exited before listening on $port"
      summa_tail_log "$name" "$log"
      return 1
    fi
    sleep 0.1
  done
  summa_log "$name did not listen on $port within 60 s"
  summa_tail_log "$name" "$log"
  return 1
}

# summa_spawn_listening NAME LOG COMMAND...: spawns COMMAND (summa_spawn) with
# every argument "{port}" replaced by a free port, waits until it listens, and
# sets SUMMA_SPAWNED_PORT. The port is free when picked but not held, so another
# process (an outgoing connection's ephemeral port, another test's server) can
# take it before COMMAND binds it: a COMMAND that exits before listening is
# started again on another port, up to 5 times in all.
summa_spawn_listening() {
  local name="$1" log="$2" try port arg cmd
  SUMMA_SPAWNED_PORT=
  shift 2
  for try in 1 2 3 4 5; do
    port="$(summa_free_port)" || return 1
    cmd=()
    for arg in "$@"; do cmd+=("${arg//\{port\}/$port}"); done
    summa_spawn "$name" "$log" "${cmd[@]}"
    if summa_wait_port "$port" "$name" "$log" "${SUMMA_STACK_PIDS[-1]}"; then
      SUMMA_SPAWNED_PORT="$port"
      return 0
    fi
    # Alive but not listening within summa_wait_port's 60 s: not a taken port; it
    # stays recorded, so that summa_stack_stop stops it.
    if kill -0 "${SUMMA_STACK_PIDS[-1]}" 2>/dev/null; then return 1; fi
    # Dead before listening: forget it (the stop would find nothing to stop).
    wait "${SUMMA_STACK_PIDS[-1]}" 2>/dev/null || true
    unset 'SUMMA_STACK_PIDS[-1]' 'SUMMA_STACK_NAMES[-1]' 'SUMMA_STACK_LOGS[-1]'
    if ((try < 5)); then summa_log "starting $name again on another port (try $((try + 1)) of 5)"; fi
  done
  return 1
}

# summa_stack_start WORKDIR [MORE_CARGO_BUILD_ARGS...]  (e.g. -p summa-agg --bins:
# one cargo build for the functions and whatever else the caller needs).
# Returns non-zero on the first problem (every step checked: errexit does not
# apply inside `summa_stack_start || ...`); the caller's summa_stack_stop then
# stops what did start.
summa_stack_start() {
  local bin moto_port lambda_port f i pid
  SUMMA_STACK_DIR="$1"
  shift
  mkdir -p "$SUMMA_STACK_DIR" || return 1
  summa_tools || return 1
  summa_log "building the functions (${SUMMA_FUNCTIONS[*]})${*:+ and $*}"
  (cd "$SUMMA_REPO" && cargo build -q "${SUMMA_FUNCTION_PACKAGES[@]}" "$@") || return 1
  bin="$(summa_target_dir)/debug" || return 1

  summa_spawn_listening moto_server "$SUMMA_STACK_DIR/moto.log" \
    moto_server -H 127.0.0.1 -p "{port}" || return 1
  moto_port="$SUMMA_SPAWNED_PORT"

  # cargo lambda watch emulates Lambda's control plane (invoke API and runtime
  # API); the functions are the binaries just built, polling its runtime API as
  # they would Lambda's. (Plain `cargo lambda watch` works too, but it runs
  # `cargo run --bin NAME` on each function's first invocation: in a tree being
  # edited that rebuilds in the middle of a round, behind cargo's build lock.)
  summa_spawn_listening "cargo lambda watch" "$SUMMA_STACK_DIR/watch.log" \
    env -C "$SUMMA_REPO" cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 \
    --invoke-port "{port}" --timeout 300 || return 1
  lambda_port="$SUMMA_SPAWNED_PORT"

  # With SUMMA_LOCAL_FAULT_DIR: each function reaches S3 through its own port of
  # infra/local/fault-proxy.py (the faults of DIR/faults.json), and runs under a
  # supervisor that starts a new process when one is killed, as Lambda starts a
  # new sandbox; DIR/<function>.pid is the live one (read by the proxy to kill it
  # and by invoke.sh to notice).
  local -A endpoint=()
  local fault_dir="${SUMMA_LOCAL_FAULT_DIR:-}" ports line
  for f in "${SUMMA_FUNCTIONS[@]}"; do endpoint[$f]="http://127.0.0.1:$moto_port"; done
  if [[ -n "$fault_dir" ]]; then
    # The proxy binds its ports itself (the kernel picks them) and names them in
    # a file once all are bound.
    mkdir -p "$fault_dir" || return 1
    ports="$SUMMA_STACK_DIR/fault-proxy.ports"
    rm -f "$ports"
    summa_spawn fault-proxy "$SUMMA_STACK_DIR/fault-proxy.log" \
      python3 "$SUMMA_REPO/infra/local/fault-proxy.py" --moto "http://127.0.0.1:$moto_port" \
      --dir "$fault_dir" --ports-file "$ports" "${SUMMA_FUNCTIONS[@]}"
    pid="${SUMMA_STACK_PIDS[-1]}"
    for i in $(seq 600); do
      [[ -s "$ports" ]] && break
      if ! kill -0 "$pid" 2>/dev/null; then break; fi
      sleep 0.1
    done
    if [[ ! -s "$ports" ]]; then
      summa_log "fault-proxy did not name its ports (in $ports)"
      summa_tail_log fault-proxy "$SUMMA_STACK_DIR/fault-proxy.log"
      return 1
    fi
    while IFS= read -r line; do endpoint[${line%%=*}]="http://127.0.0.1:${line#*=}"; done <"$ports"
  fi
  for f in "${SUMMA_FUNCTIONS[@]}"; do
    local run=("$bin/$f")
    if [[ -n "$fault_dir" ]]; then
      # shellcheck disable=SC2016 # expanded by the supervisor's shell
      # A process that dies is started again after 0.2 s; ten deaths within a
      # second of their start in a row (a function that cannot start) end it.
      run=(bash -c 'quick=0
        while ((quick < 10)); do
          t=$SECONDS; "$1" & echo $! >"$2.tmp" && mv "$2.tmp" "$2"; wait $!
          if ((SECONDS - t < 1)); then quick=$((quick + 1)); else quick=0; fi
          sleep 0.2
        done
        echo "supervise: $1 died at start 10 times" >&2; rm -f "$2"; exit 1' \
        supervise "$bin/$f" "$fault_dir/$f.pid")
    fi
    summa_spawn "$f" "$SUMMA_STACK_DIR/$f.log" env -u AWS_PROFILE -u AWS_SESSION_TOKEN \
      AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$lambda_port/.rt/$f" \
      AWS_LAMBDA_FUNCTION_NAME="$f" AWS_LAMBDA_FUNCTION_VERSION=1 \
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE=1024 \
      AWS_ENDPOINT_URL="${endpoint[$f]}" \
      AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
      AWS_REGION="$SUMMA_REGION" AWS_DEFAULT_REGION="$SUMMA_REGION" \
      STATE_MACHINE_ARN="$SUMMA_STATE_MACHINE_ARN" RUST_LOG="${RUST_LOG:-info}" \
      "${run[@]}"
  done
  sleep 0.2
  if [[ -n "$fault_dir" ]]; then
    # Each supervised function's live process, named in its pid file.
    for f in "${SUMMA_FUNCTIONS[@]}"; do
      for i in $(seq 100); do
        pid="$(cat "$fault_dir/$f.pid" 2>/dev/null || true)"
        [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null && break
        sleep 0.1
      done
      [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null || {
        summa_log "$f has no live process ($fault_dir/$f.pid)"
        summa_tail_log "$f" "$SUMMA_STACK_DIR/$f.log"
        return 1
      }
    done
  fi
  for i in "${!SUMMA_STACK_PIDS[@]}"; do
    pid="${SUMMA_STACK_PIDS[$i]}"
    if ! kill -0 "$pid" 2>/dev/null; then
      summa_log "${SUMMA_STACK_NAMES[$i]} exited at start"
      summa_tail_log "${SUMMA_STACK_NAMES[$i]}" "${SUMMA_STACK_LOGS[$i]}"
      return 1
    fi
  done
  export SUMMA_LOCAL_MOTO_URL="http://127.0.0.1:$moto_port"
  export SUMMA_LOCAL_LAMBDA_PORT="$lambda_port"
  summa_log "moto_server on $SUMMA_LOCAL_MOTO_URL, cargo lambda watch on 127.0.0.1:$lambda_port, logs in $SUMMA_STACK_DIR"
}

# Prints the last lines of every log of the stack (on stderr).
summa_stack_logs() {
  local i
  for i in "${!SUMMA_STACK_LOGS[@]}"; do
    summa_tail_log "${SUMMA_STACK_NAMES[$i]}" "${SUMMA_STACK_LOGS[$i]}"
  done
}

# Stops every process group the stack started; non-zero if one survived.
summa_stack_stop() {
  local pid i left=()
  ((${#SUMMA_STACK_PIDS[@]})) || return 0
  for pid in "${SUMMA_STACK_PIDS[@]}"; do
    # The group, or the process itself if it has not reached setsid yet.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  done
  for i in $(seq 50); do
    left=()
    for pid in "${SUMMA_STACK_PIDS[@]}"; do
      if kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null; then left+=("$pid"); fi
    done
    ((${#left[@]})) || break
    sleep 0.1
  done
  for pid in "${left[@]}"; do
    kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
  done
  for pid in "${SUMMA_STACK_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  left=()
  for i in "${!SUMMA_STACK_PIDS[@]}"; do
    pid="${SUMMA_STACK_PIDS[$i]}"
    if kill -0 -- "-$pid" 2>/dev/null; then left+=("${SUMMA_STACK_NAMES[$i]} (group $pid)"); fi
  done
  SUMMA_STACK_PIDS=()
  SUMMA_STACK_NAMES=()
  SUMMA_STACK_LOGS=()
  if [[ -n "${SUMMA_LOCAL_FAULT_DIR:-}" ]]; then
    rm -f "$SUMMA_LOCAL_FAULT_DIR"/*.pid
  fi
  if ((${#left[@]})); then
    summa_log "still running after KILL: ${left[*]}"
    return 1
  fi
  summa_log "stopped moto_server, cargo lambda watch and the functions"
}
