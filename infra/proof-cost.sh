#!/usr/bin/env bash
# What one user's zero-knowledge proof costs: the instructions of proving one
# depth-28, 2-currency proof (v1, n_bytes 14; key generation not counted), on
# x86_64 and on aarch64, and its CPU time on one thread here (`make proof-cost`).
#
#   infra/proof-cost.sh [BASE]     (make proof-cost BASE=<commit>)
#
#   x86_64:  summa-agg --threads 1 bench-zk --depth 28 --proofs 1 under valgrind
#            --tool=callgrind --toggle-collect='*prove_raw*': only what
#            summa_agg_zk::proof::prove_raw and its callees execute (one thread:
#            --threads 1 makes the calling thread rayon's only one, so every
#            parallel loop of the prover runs inside that call).
#   aarch64: the aarch64 build of the same command under Debian's qemu-user with
#            infra/qemu-insn's counting plugin, --proofs 2 less --proofs 1: one
#            proof, plus the check of that proof and its synthetic witness (both
#            well under 1 % of a proof).
#   cpu_s:   the x86_64 build's prove_cpu_s, --threads 1 --proofs 3, here.
#
# Counts, not times: the same whatever else the machine does. With BASE, that
# commit is built in a worktree (target/proof-cost-base/) and counted the same
# way. The last line on stdout is one JSON object:
#   {"depth": 28, "currencies": 2, "x86_64_instructions": N, "aarch64_instructions": N,
#    "cpu_s": X[, "base": "<commit>", "base_x86_64_instructions": N,
#    "base_aarch64_instructions": N]}
# Measured on this 2-core machine: about 4 min under callgrind and 3 min under qemu a
# commit, plus its builds; `make proof-cost BASE=707ba01` took 17 min 51 s in all.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BASE="${1:-}"
TARGET=aarch64-unknown-linux-gnu
DEPTH=28
CURRENCIES=2
BENCH=(--threads 1 bench-zk --depth "$DEPTH" --currencies "$CURRENCIES")
log() { echo "proof-cost: $*" >&2; }

# The Debian cross toolchain of infra/arm64.sh (installed there if missing).
a64_env() {
  env RUSTC=/usr/bin/rustc \
    CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
    CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
    AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar "$@"
}
command -v aarch64-linux-gnu-gcc >/dev/null && [[ -x /usr/bin/cargo ]] || {
  log "no Debian cross toolchain: run make arm64 once (it installs it)"
  exit 1
}
command -v valgrind >/dev/null || {
  log "no valgrind"
  exit 1
}
QEMU="$(bash infra/qemu-insn/build.sh)"

# build DIR TARGET_DIR: the CLI with zk, for x86_64 then aarch64, from DIR.
build() {
  local dir="$1" target_dir="$2"
  log "building $(git -C "$dir" rev-parse --short HEAD) (x86_64, then aarch64) into $target_dir"
  (cd "$dir" && CARGO_TARGET_DIR="$target_dir" cargo build -q --release \
    -p summa-agg-cli --no-default-features --features zk)
  (cd "$dir" && a64_env CARGO_TARGET_DIR="$target_dir" /usr/bin/cargo build -q --release \
    --target "$TARGET" -p summa-agg-cli --no-default-features --features summa-agg-cli/zk)
}

# x86_count BINARY: instructions inside prove_raw.
x86_count() {
  local n
  n="$(valgrind --tool=callgrind --toggle-collect='*prove_raw*' --callgrind-out-file=/dev/null \
    "$1" "${BENCH[@]}" --proofs 1 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')"
  # A prove_raw inlined away would collect nothing: refuse a count that small.
  [[ -n "$n" ]] && ((n > 1000000000)) || {
    log "callgrind collected '${n}' instructions in prove_raw: is the symbol there?"
    exit 1
  }
  echo "$n"
}

# a64_count BINARY PROOFS: every instruction of the run.
a64_count() {
  local n
  # shellcheck disable=SC2086 # $QEMU is a command prefix
  n="$($QEMU "$1" "${BENCH[@]}" --proofs "$2" 2>&1 >/dev/null | sed -n 's/^insn-count: \([0-9]*\)$/\1/p')"
  [[ -n "$n" ]] || {
    log "no count from qemu for $1 --proofs $2"
    exit 1
  }
  echo "$n"
}

# count TARGET_DIR PREFIX: sets ${PREFIX}_x86 and ${PREFIX}_a64.
count() {
  local t="$1" x a1 a2 s=$SECONDS
  x="$(x86_count "$t/release/summa-agg")"
  log "x86_64: $x instructions in prove_raw ($((SECONDS - s)) s under callgrind)"
  s=$SECONDS
  a1="$(a64_count "$t/$TARGET/release/summa-agg" 1)"
  a2="$(a64_count "$t/$TARGET/release/summa-agg" 2)"
  log "aarch64: $a1 (1 proof) and $a2 (2 proofs): $((a2 - a1)) a proof ($((SECONDS - s)) s under qemu)"
  printf -v "${2}_x86" '%s' "$x"
  printf -v "${2}_a64" '%s' "$((a2 - a1))"
}

head_target="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
build . "$head_target"
count "$head_target" head
cpu_s="$("$head_target/release/summa-agg" "${BENCH[@]}" --proofs 3 2>/dev/null |
  python3 -c 'import json, sys; print(round(json.loads(sys.stdin.read().strip().splitlines()[-1])["prove_cpu_s"], 3))')"
log "cpu: $cpu_s s a proof on one thread (x86_64, here)"

base_json=""
if [[ -n "$BASE" ]]; then
  rev="$(git rev-parse --verify "$BASE^{commit}")"
  worktree="$(mktemp -d "${TMPDIR:-/tmp}/proof-cost-base.XXXXXX")"
  trap 'git worktree remove --force "$worktree" >/dev/null 2>&1 || true; rm -rf "$worktree"' EXIT
  git worktree add --detach "$worktree" "$rev" >/dev/null
  build "$worktree" "$head_target/proof-cost-base"
  count "$head_target/proof-cost-base" base
  base_json="$(printf ', "base": "%s", "base_x86_64_instructions": %s, "base_aarch64_instructions": %s' \
    "${rev:0:12}" "$base_x86" "$base_a64")"
fi
printf '{"depth": %d, "currencies": %d, "x86_64_instructions": %s, "aarch64_instructions": %s, "cpu_s": %s%s}\n' \
  "$DEPTH" "$CURRENCIES" "$head_x86" "$head_a64" "$cpu_s" "$base_json"
