#!/usr/bin/env bash
# Installs what the fuzz scripts need: cargo-fuzz (from crates.io, pinned, into
# the project-local root .tools/cargo/, gitignored), and checks that rustup has a
# nightly toolchain (the sanitizer and coverage flags of `cargo +nightly fuzz`
# need one; `rustup toolchain install nightly` adds it). Idempotent.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROOT="$REPO/.tools/cargo"
CARGO_FUZZ_VERSION="0.13.2"

log() { printf 'fuzz/setup: %s\n' "$*" >&2; }

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  log "no nightly toolchain: run 'rustup toolchain install nightly' (cargo fuzz needs it)"
  exit 1
fi

have="$("$ROOT/bin/cargo-fuzz" --version 2>/dev/null || true)"
if [[ "$have" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
  log "cargo install cargo-fuzz $CARGO_FUZZ_VERSION into $ROOT"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$ROOT" --quiet
fi
