#!/usr/bin/env bash
# `make verifier`: the WebAssembly verifier and its JavaScript module and page.
#
#   verifier/build.sh [OUT]       (OUT defaults to verifier/pkg)
#
# Installs what is missing (Debian packages; as root, like infra/arm64.sh):
#   rustc-web, cargo-web   rustc/cargo 1.96 at /usr/bin (rustup's come first on PATH,
#                          and rustup has only the x86_64 target and cannot fetch others)
#   rust-web-src           the standard library's source with its dependencies vendored:
#                          std is built for wasm32-unknown-unknown (-Zbuild-std)
#   rust-web-llvm          rust-lld, the wasm linker rustc calls: a link to the lld of
#                          rust-web's LLVM (lld-22), a package of its own that
#                          rust-web-llvm does not pull in
# then builds verifier/ for wasm32-unknown-unknown into target/wasm (its own target
# directory, so the x86_64 builds are untouched) and packs OUT (verifier/js/pack.mjs):
# summa_verifier.wasm, summa_verifier.js, summa_verifier.wasm.sha256 and web/.
#
# Reproducible: fixed profile (fat LTO, one codegen unit, panic=abort, no debug info,
# symbols stripped) and every absolute path remapped, so that two clean builds in
# different directories give the same bytes (verifier/repro.sh checks it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"
OUT="${1:-verifier/pkg}"
TARGET_DIR="${VERIFIER_TARGET_DIR:-target/wasm}"

have() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for p in rustc-web cargo-web rust-web-src rust-web-llvm; do
  have "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "verifier: installing ${missing[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi
# /usr/bin/rust-lld -> lld-N: install lld-N when the link is dangling (a fresh machine).
lld="$(readlink /usr/bin/rust-lld || true)"
if [[ -n "$lld" && ! -e "/usr/bin/$lld" ]]; then
  echo "verifier: installing $lld (rust-lld links to it)" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=600 "$lld" >/dev/null
fi
[[ -x /usr/bin/rust-lld ]] || { echo "verifier: /usr/bin/rust-lld does not run (rust-web-llvm, $lld)" >&2; exit 1; }

CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
mkdir -p "$TARGET_DIR"
TARGET_ABS="$(cd "$TARGET_DIR" && pwd)"
SYSROOT_SRC="$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust"
export RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1
export CARGO_PROFILE_RELEASE_LTO=fat CARGO_PROFILE_RELEASE_CODEGEN_UNITS=1 \
  CARGO_PROFILE_RELEASE_PANIC=abort CARGO_PROFILE_RELEASE_DEBUG=false \
  CARGO_PROFILE_RELEASE_STRIP=symbols CARGO_PROFILE_RELEASE_OPT_LEVEL=3 \
  CARGO_PROFILE_RELEASE_INCREMENTAL=false
# Later prefixes win where several match: the target directory (which may lie in the
# checkout) last.
export RUSTFLAGS="--remap-path-prefix=$REPO=/summa-agg --remap-path-prefix=$CARGO_HOME=/cargo --remap-path-prefix=$(readlink -f "$SYSROOT_SRC")=/rustc-src --remap-path-prefix=$SYSROOT_SRC=/rustc-src --remap-path-prefix=$TARGET_ABS=/target"
unset CARGO_ENCODED_RUSTFLAGS CARGO_BUILD_RUSTFLAGS
echo "verifier: $(/usr/bin/cargo --version), $($RUSTC --version)" >&2
start=$(date +%s)
/usr/bin/cargo build --locked --release -p summa-agg-verifier \
  --target wasm32-unknown-unknown -Zbuild-std=std,panic_abort --target-dir "$TARGET_DIR"
echo "verifier: wasm build $(($(date +%s) - start)) s" >&2

wasm="$TARGET_DIR/wasm32-unknown-unknown/release/summa_agg_verifier.wasm"
rm -rf "$OUT"
sha=$(node verifier/js/pack.mjs "$wasm" "$OUT")
echo "verifier: $OUT/summa_verifier.wasm SHA-256 $sha"
echo "verifier: sizes (bytes, raw / gzip -9):"
for f in summa_verifier.wasm summa_verifier.js web/index.html web/app.js web/style.css web/summa_verifier_embed.js; do
  printf '  %-32s %10s %10s\n' "$f" "$(stat -c %s "$OUT/$f")" "$(gzip -9n <"$OUT/$f" | wc -c)"
done
