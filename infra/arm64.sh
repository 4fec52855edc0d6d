#!/usr/bin/env bash
# The deploy artifacts for AWS Lambda on arm64 (Graviton), built here by
# cross-compiling with Debian's packages (no rustup target needed, none can be
# downloaded here):
#   rustc-web, cargo-web          rustc/cargo 1.96 at /usr/bin (rustup's come first
#                                 on PATH, so they are called by full path)
#   libstd-rust-web-dev:arm64     the aarch64 standard library of that compiler
#   gcc-aarch64-linux-gnu         linker and C compiler for aarch64
#   qemu-user-static              runs the aarch64 binaries (infra/arm64-test.sh)
#
#   infra/arm64.sh          install what is missing, build, print the sizes
#
# Output: target/lambda/<function>/bootstrap for the five functions (the layout
# `cargo lambda build` and SAM use) and target/aarch64-unknown-linux-gnu/release/summa-agg.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

TARGET=aarch64-unknown-linux-gnu
FUNCTIONS=(trigger plan mini-tree aggregator proof)

have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in rustc-web cargo-web libstd-rust-web-dev:arm64 gcc-aarch64-linux-gnu qemu-user-static; do
  have "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "arm64: installing ${missing[*]}" >&2
  dpkg --print-foreign-architectures | grep -qx arm64 || dpkg --add-architecture arm64
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

export RUSTC=/usr/bin/rustc
export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
export CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc
export AR_aarch64_unknown_linux_gnu=aarch64-linux-gnu-ar
echo "arm64: $(/usr/bin/cargo --version), $($RUSTC --version)" >&2
# The CLI without its default `chain` feature (alloy: the on-chain record is
# published from the custodian's own machine, never from a Lambda). The function
# crates have no features of their own, so --no-default-features touches the CLI only.
/usr/bin/cargo build --release --target "$TARGET" \
  -p summa-fn-trigger -p summa-fn-plan -p summa-fn-mini-tree -p summa-fn-aggregator -p summa-fn-proof \
  -p summa-agg-cli --no-default-features --features summa-agg-cli/s3,summa-agg-cli/zk

out="target/$TARGET/release"
bootstraps=()
for f in "${FUNCTIONS[@]}"; do
  mkdir -p "target/lambda/$f"
  # Copied only when changed: `sam build` runs this once per function.
  cmp -s "$out/$f" "target/lambda/$f/bootstrap" || cp "$out/$f" "target/lambda/$f/bootstrap"
  bootstraps+=("target/lambda/$f/bootstrap")
done
echo "arm64 artifacts (aarch64 ELF, bytes):"
for b in "${bootstraps[@]}" "$out/summa-agg"; do
  printf '  %-32s %12s\n' "$b" "$(stat -c %s "$b")"
done
# Deployable on provided.al2023 (glibc 2.34), though linked against Debian's 2.36.
bash infra/check-glibc.sh "${bootstraps[@]}" "$out/summa-agg"
