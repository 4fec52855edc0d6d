#!/usr/bin/env bash
# Installs what the fuzz scripts need, and prints the toolchain they use: cargo-fuzz
# (from crates.io, pinned, into the project-local root .tools/cargo/, gitignored),
# and rustup's `nightly` toolchain if there is one (the sanitizer and coverage flags
# of `cargo fuzz` need a nightly rustc); without it, `stable` (fuzz/run.sh then sets
# RUSTC_BOOTSTRAP=1, which lets stable accept the same -Z flags). Idempotent.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$REPO/.tools/cargo"
CARGO_FUZZ_VERSION="0.13.2"

log() { printf 'fuzz/setup: %s\n' "$*" >&2; }

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  toolchain=nightly
else
  toolchain=stable
  log "no nightly toolchain: using stable with RUSTC_BOOTSTRAP=1 ('rustup toolchain install nightly' to use nightly)"
fi

have="$("$ROOT/bin/cargo-fuzz" --version 2>/dev/null || true)"
if [[ "$have" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION into $ROOT"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$ROOT" --quiet
fi
echo "$toolchain"
