#!/usr/bin/env bash
# The test fixtures, made by the native command line (as `make example` does), not
# committed: they always match the current circuit and formats, and a proof is made
# in about a second.
#
#   verifier/tests/fixtures.sh DIR
#
# DIR/round/           a round of examples/shards (64 users, depth 6, 2 currencies)
# DIR/keys/            its keys on the UNSAFE test SRS (srs.bin: the SRS the tests give)
# DIR/proof.json       user dxGaEAii's zero-knowledge proof, checked by `summa-agg verify`
# DIR/other-proof.json user aaGaEAaa's
# DIR/result.json      the round's published result.json
# DIR/srs.bin          = DIR/keys/srs.bin
# DIR/legacy/          a round of the same shards in the legacy layout, a shape with
#                      no pinned key: its result.json, proof.json and srs.bin
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
DIR="$1"
CARGO="${CARGO:-cargo}"
"$CARGO" build --quiet -p summa-agg-cli
SUMMA="${SUMMA:-target/debug/summa-agg}"
rm -rf "$DIR"
mkdir -p "$DIR"
"$SUMMA" round examples/shards --out "$DIR/round" >/dev/null
"$SUMMA" zk-keys --round "$DIR/round" --unsafe-test-srs --out "$DIR/keys" >/dev/null 2>&1
"$SUMMA" proof --round "$DIR/round" --user dxGaEAii --keys "$DIR/keys" >"$DIR/proof.json" 2>/dev/null
"$SUMMA" proof --round "$DIR/round" --user aaGaEAaa --keys "$DIR/keys" >"$DIR/other-proof.json" 2>/dev/null
cp "$DIR/round/result.json" "$DIR/result.json"
cp "$DIR/keys/srs.bin" "$DIR/srs.bin"
# The command line accepts the genuine proof: the fixture is what the tests say.
"$SUMMA" verify "$DIR/proof.json" --result "$DIR/result.json" --srs "$DIR/srs.bin" --unsafe-test-srs >/dev/null 2>&1
# The legacy layout: no key pinned for its shape (the slow path, from the SRS file).
"$SUMMA" round examples/shards --layout legacy --out "$DIR/legacy/round" >/dev/null
"$SUMMA" zk-keys --round "$DIR/legacy/round" --unsafe-test-srs --out "$DIR/legacy/keys" >/dev/null 2>&1
"$SUMMA" proof --round "$DIR/legacy/round" --user dxGaEAii --keys "$DIR/legacy/keys" >"$DIR/legacy/proof.json" 2>/dev/null
cp "$DIR/legacy/round/result.json" "$DIR/legacy/result.json"
cp "$DIR/legacy/keys/srs.bin" "$DIR/legacy/srs.bin"
echo "verifier fixtures: $DIR" >&2
