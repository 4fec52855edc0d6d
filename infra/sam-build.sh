#!/usr/bin/env bash
# What `sam build` runs for each function (BuildMethod: makefile in
# infra/template.yaml; the root Makefile's build-<LogicalId> rule): the
# function's bootstrap from `make arm64` (infra/arm64.sh), the very binary that
# `make arm64-test` runs under qemu, copied into SAM's artifacts directory. So
# what `sam deploy` uploads is what was tested, and SAM needs neither zig nor a
# rustup target. infra/arm64.sh runs each time: cargo rebuilds only what changed.
#
#   infra/sam-build.sh <LogicalId> <ARTIFACTS_DIR>   build and copy
#   infra/sam-build.sh --source <LogicalId>          print the file it copies
#
# The function of <LogicalId> is its name without "Function", in kebab case
# (MiniTreeFunction: the mini-tree binary). SUMMA_LAMBDA_ARCH=x86_64 (with
# `--parameter-overrides Architecture=x86_64`) copies x86_64 bootstraps instead,
# built by the host's cargo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
usage="usage: infra/sam-build.sh <LogicalId> <ARTIFACTS_DIR> | --source <LogicalId>"

arch="${SUMMA_LAMBDA_ARCH:-arm64}"
function_of() { sed -E 's/Function$//; s/([a-z0-9])([A-Z])/\1-\2/g' <<<"$1" | tr '[:upper:]' '[:lower:]'; }
source_of() { # source_of FUNCTION: the bootstrap of FUNCTION for $arch
  case "$arch" in
    arm64) echo "target/lambda/$1/bootstrap" ;;
    x86_64) echo "target/release/$1" ;;
    *) echo "sam-build: SUMMA_LAMBDA_ARCH must be arm64 or x86_64, not $arch" >&2; exit 2 ;;
  esac
}

if [ "${1:-}" = --source ]; then
  source_of "$(function_of "${2:?$usage}")"
  exit
fi
id="${1:?$usage}"
artifacts="${2:?$usage}"
f="$(function_of "$id")"
src="$(source_of "$f")"
if [ "$arch" = arm64 ]; then
  bash infra/arm64.sh >&2
else
  "${CARGO:-cargo}" build --release -p "summa-fn-$f" >&2
  bash infra/check-glibc.sh "$src"
fi
[ -f "$src" ] || { echo "sam-build: $id: no $src (no function binary \"$f\")" >&2; exit 2; }
mkdir -p "$artifacts"
cp "$src" "$artifacts/bootstrap"
echo "sam-build: $id <- $src ($(stat -c %s "$src") bytes, $arch)" >&2
