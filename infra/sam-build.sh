#!/usr/bin/env bash
# What `sam build` runs for each function (BuildMethod: makefile in
# infra/template.yaml; the root Makefile's build-<LogicalId> targets): the
# function's bootstrap from `make arm64` (infra/arm64.sh), the very binary that
# `make arm64-test` runs under qemu, copied into SAM's artifacts directory. So
# what `sam deploy` uploads is what was tested, and SAM needs neither zig nor a
# rustup target. infra/arm64.sh runs each time: cargo rebuilds only what changed.
#
#   infra/sam-build.sh <LogicalId> <ARTIFACTS_DIR>
#
# SUMMA_LAMBDA_ARCH=x86_64 (with `--parameter-overrides Architecture=x86_64`)
# copies x86_64 bootstraps instead, built by the host's cargo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

id="${1:?usage: infra/sam-build.sh <LogicalId> <ARTIFACTS_DIR>}"
artifacts="${2:?usage: infra/sam-build.sh <LogicalId> <ARTIFACTS_DIR>}"
case "$id" in
  TriggerFunction) f=trigger ;;
  PlanFunction) f=plan ;;
  MiniTreeFunction) f=mini-tree ;;
  AggregatorFunction) f=aggregator ;;
  ProofFunction) f=proof ;;
  *) echo "sam-build: unknown function $id" >&2; exit 2 ;;
esac

case "${SUMMA_LAMBDA_ARCH:-arm64}" in
  arm64)
    bash infra/arm64.sh >&2
    src="target/lambda/$f/bootstrap"
    ;;
  x86_64)
    "${CARGO:-cargo}" build --release -p "summa-fn-$f" >&2
    src="target/release/$f"
    bash infra/check-glibc.sh "$src"
    ;;
  *) echo "sam-build: SUMMA_LAMBDA_ARCH must be arm64 or x86_64, not ${SUMMA_LAMBDA_ARCH}" >&2; exit 2 ;;
esac
mkdir -p "$artifacts"
cp "$src" "$artifacts/bootstrap"
echo "sam-build: $id <- $src ($(stat -c %s "$src") bytes, ${SUMMA_LAMBDA_ARCH:-arm64})" >&2
