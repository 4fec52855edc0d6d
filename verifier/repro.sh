#!/usr/bin/env bash
# `make verifier-repro`: the WebAssembly verifier is reproducible. Two clean builds
# (empty target directories, in two different source paths: a copy of the tracked
# files in a temporary directory, and this checkout) must give the same bytes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/copy"
# The tracked files as they are in the working tree (uncommitted changes included).
git ls-files -z | xargs -0 cp --parents -t "$tmp/copy"
VERIFIER_TARGET_DIR="$tmp/target-a" bash "$tmp/copy/verifier/build.sh" "$tmp/pkg-a" | grep SHA-256
VERIFIER_TARGET_DIR="$tmp/target-b" bash verifier/build.sh "$tmp/pkg-b" | grep SHA-256
a=$(sha256sum <"$tmp/pkg-a/summa_verifier.wasm")
b=$(sha256sum <"$tmp/pkg-b/summa_verifier.wasm")
if [[ "$a" != "$b" ]]; then
  echo "verifier-repro: the two builds differ: ${a%% *} vs ${b%% *}" >&2
  exit 1
fi
cmp -s "$tmp/pkg-a/web/index.html" "$tmp/pkg-b/web/index.html"
cmp -s "$tmp/pkg-a/summa_verifier.js" "$tmp/pkg-b/summa_verifier.js"
echo "verifier-repro: two clean builds, same bytes: ${a%% *}"
