# The two commands of the README:
#   make example   builds summa-agg and runs a round on the shipped example shards
#   make test      installs the test tools, then formatting, lints and every test,
#                  the fuzz smoke, and the arm64 deploy artifacts built and tested
# .ci/run runs `make test`.

CARGO ?= cargo
EXAMPLE_OUT ?= out/example

.PHONY: pinned-keys pinned-keys-check example test tools lint unit infra e2e fault-campaign proof-cost contracts contracts-check chain-example fuzz fuzz-smoke fuzz-seeds bench scale-probe scale-probe-smoke round-2-24 arm64 arm64-test sam-build verifier verifier-test verifier-repro verifier-bench

# The embedded default needs no AWS SDK: build the CLI without its S3 mode. After
# the round, a user's zero-knowledge proof with keys on the UNSAFE test SRS
# (examples only: anyone can forge proofs against those keys), verified with the
# verifying key pinned in the program for the shape (derived from the circuit when
# it was built; no SRS file); the verifier accepts that setup only because
# --unsafe-test-srs says so, and prints that the result proves nothing.
SUMMA = ./target/release/summa-agg
example:
	$(CARGO) build --release -p summa-agg-cli --no-default-features --features zk
	$(SUMMA) round examples/shards --out $(EXAMPLE_OUT)
	$(SUMMA) zk-keys --round $(EXAMPLE_OUT) --unsafe-test-srs --out $(EXAMPLE_OUT)/zk-keys > /dev/null
	$(SUMMA) proof --round $(EXAMPLE_OUT) --user dxGaEAii --keys $(EXAMPLE_OUT)/zk-keys > $(EXAMPLE_OUT)/zk-proof.json
	$(SUMMA) verify $(EXAMPLE_OUT)/zk-proof.json --result $(EXAMPLE_OUT)/result.json --unsafe-test-srs

tools:
	bash infra/setup-tools.sh

# The contracts (contracts/): every Solidity verifier of contracts/generated/ made
# anew from the circuit (summa-agg chain gen-verifier, UNSAFE TEST SRS keys: for the
# tests, the example and the figures), then every contract compiled by the pinned
# solc-js into contracts/out/. Run it after a circuit change; `make test` runs the
# check, which fails on any drift from the circuit or the sources.
contracts: pinned-keys
	$(CARGO) build -p summa-agg-cli
	bash contracts/regen.sh

# The verifying keys pinned in code (zk/src/pinned/: a user's check of a pinned
# shape needs no SRS file and no key derivation): every supported shape's key
# derived from the circuit over the unsafe test setup and over each ceremony file
# of PIN_CEREMONIES (halo2 format, e.g. hermez-raw-13: pinned for the shapes its
# 2^k points reach), written with their SHA-256. `make contracts` runs it after a
# circuit change; `pinned-keys-check` re-derives every key and fails on drift
# (`cargo test` re-derives a sample).
PIN_CEREMONIES ?=
pinned-keys:
	$(CARGO) run --release -p summa-agg-zk --example pin-keys -- $(PIN_CEREMONIES)

pinned-keys-check:
	$(CARGO) run --release -p summa-agg-zk --example pin-keys -- --check $(PIN_CEREMONIES)

contracts-check:
	$(CARGO) build -p summa-agg-cli
	bash contracts/regen.sh --check

# The example round on a local chain (anvil, started and stopped here): the
# registry and the verifier deployed, the round committed, a user's proof verified
# from the chain by the CLI and by the contract. Last line: one JSON object.
chain-example: tools
	$(CARGO) build --release -p summa-agg-cli
	bash infra/chain-example.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	$(CARGO) test --workspace

infra:
	bash infra/check.sh

# The one end-to-end harness (functions/summa-functions/tests/local_lambda/): the real
# functions behind cargo lambda, S3 and Step Functions from moto_server, whole rounds
# through infra/local/run-round.sh and the real definition in aws-local-stepfunctions.
# `make unit` (cargo test --workspace) runs it too, so `make test` does not repeat it.
e2e: tools
	$(CARGO) test -p summa-functions --test local_lambda

# The fault campaign (issue 30; functions/summa-functions/tests/fault_campaign/):
# seeded fault schedules over whole serverless rounds in process (S3 errors,
# throttling, resets, lost answers, cut and trickled bodies, hangs, functions
# killed after writing, tasks run twice, events delivered twice, two rounds at
# once, previous rounds re-used; retries, timeouts and redrives as the state
# machine's definition says), then through the real functions and the real state
# machine on the local stack (infra/local/: function processes killed in the
# middle of a step, S3 faults from infra/local/fault-proxy.py, redrives), each
# checked against the round's invariant. A random seed unless FAULT_SEED is
# given; its last line is a JSON object. `make unit` (cargo test) runs its
# fixed-seed smoke: 1,000 schedules in process, 2 through the state machine.
fault-campaign: tools
	FAULT_SCHEDULES=$${FAULT_SCHEDULES:-5000} FAULT_STATE_MACHINE_SCHEDULES=$${FAULT_STATE_MACHINE_SCHEDULES:-30} \
	  FAULT_SEED=$${FAULT_SEED:-$$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')} \
	  $(CARGO) test -p summa-functions --test fault_campaign

# What one user's proof costs (issue 31): instructions of one depth-28, 2-currency
# proof on x86_64 (callgrind) and aarch64 (qemu-user with infra/qemu-insn's
# counting plugin), and its CPU time on one thread here; BASE=<commit> counts that
# commit too. Its last line is a JSON object (infra/proof-cost.sh).
proof-cost:
	bash infra/proof-cost.sh $(BASE)

test: tools lint unit contracts-check scale-probe-smoke infra verifier verifier-test fuzz-smoke arm64 arm64-test sam-build

# Coverage-guided fuzzing (fuzz/, cargo-fuzz + libFuzzer on the nightly toolchain) of
# every reader of untrusted bytes: each target for FUZZ_SECONDS (default 60), then
# executions and coverage per target; exit 1 on any crash, leak, timeout or oversized
# allocation. `make test` runs the 10-second smoke.
fuzz:
	bash fuzz/run.sh

# A fixed libFuzzer seed, so that the smoke in `make test` explores the same inputs
# on every run (about the same number of them: it is time-bounded) rather than
# failing at random on main; `make fuzz` explores with a random seed.
fuzz-smoke:
	FUZZ_SECONDS=$${FUZZ_SECONDS:-10} FUZZ_ARGS="$${FUZZ_ARGS:--seed=1}" bash fuzz/run.sh

# Rewrites the committed seed corpora fuzz/seeds/ from the fixtures (after a format change).
fuzz-seeds:
	$(CARGO) run --release --manifest-path fuzz/Cargo.toml --example make_seeds -- fuzz/seeds

# Every step of a round as its own process (summa-agg step), at 9 sizes: peak
# memory, output and storage requests, fitted and extrapolated to 2^28 and 2^30
# users against the template's MemorySize; exit 1 if a step would not fit
# (infra/scale-probe.py). A benchmark, not a test: `make test` runs its smoke.
scale-probe:
	$(CARGO) build --release -p summa-agg-cli
	python3 infra/scale-probe.py --bin target/release/summa-agg

scale-probe-smoke:
	$(CARGO) build -p summa-agg-cli
	python3 infra/scale-probe.py --bin target/debug/summa-agg --quick | tail -n 1 | python3 -c 'import json, sys; j = json.load(sys.stdin); assert j["quick"] and len(j["rounds"]) == 3 and all(len(r["steps"]) == 4 for r in j["rounds"]), j; print("scale-probe smoke: every step measured")'

# A 2^24-user round (256 shards of 2^16 users), each step its own process under
# its function's MemorySize (prlimit --as), root compared with summa-agg round.
round-2-24:
	$(CARGO) build --release -p summa-agg-cli
	python3 infra/scale-probe.py --bin target/release/summa-agg --round 256x65536

bench:
	$(CARGO) bench -p summa-agg --bench poseidon --bench tree
	$(CARGO) run --release -p summa-agg-cli --no-default-features -- bench --users 65536
	$(CARGO) run --release -p summa-agg-cli --no-default-features --features zk -- bench-zk --depth 20
	$(CARGO) run --release -p summa-agg-cli --no-default-features --features zk -- bench-zk --depth 28

# The arm64 (Graviton) Lambda artifacts, cross-built with Debian's rustc-web and
# gcc-aarch64-linux-gnu (installed by the script), and tested under qemu-user: the
# aarch64 summa-agg against the known answers, and the aarch64 plan, mini-tree and
# aggregator bootstraps through a Lambda runtime API (cargo lambda watch) against
# moto's S3, on one thread. In `make test` (the cross build takes 11.5 to 17 minutes on
# 2 cores), then `make sam-build`: what is deployed is what CI tested.
arm64:
	bash infra/arm64.sh

arm64-test:
	bash infra/arm64-test.sh

# `sam build` of infra/template.yaml (SAM CLI installed into .tools/sam-venv by the
# script), then a check that each artifact is `make arm64`'s bootstrap, byte for byte.
sam-build:
	bash infra/sam.sh

# What `sam build` runs per function (BuildMethod: makefile; ARTIFACTS_DIR is SAM's).
build-%Function:
	bash infra/sam-build.sh $*Function "$(ARTIFACTS_DIR)"

# The WebAssembly verifier (verifier/): built for wasm32-unknown-unknown with Debian's
# rustc-web and rust-web-src (installed by the script), packed into verifier/pkg/
# (summa_verifier.js + .wasm, and the static page in verifier/pkg/web/); prints the
# module's SHA-256 and the sizes.
verifier:
	bash verifier/build.sh

# Node tests of the module and a headless-Chromium test of the page (Debian's
# chromium, npm's playwright-core, installed by the script), on fixtures made by the
# native CLI; screenshots in target/verifier-test/browser/.
verifier-test: tools
	bash verifier/test.sh

# Two clean builds in two directories: the same bytes (not in `make test`: two
# clean wasm builds took 11.5 min on 2 cores).
verifier-repro:
	bash verifier/repro.sh

# The README's verifier figures: a synthetic depth-28, 2-currency proof timed in Node
# and headless Chromium (after `make verifier verifier-test`).
verifier-bench:
	bash verifier/bench.sh
