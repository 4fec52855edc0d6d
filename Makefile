# The two commands of the README:
#   make example   builds summa-agg and runs a round on the shipped example shards
#   make test      installs the test tools, then formatting, lints and every test
# .ci/run runs `make test`.

CARGO ?= cargo
EXAMPLE_OUT ?= out/example

.PHONY: example test tools lint unit infra bench

example:
	$(CARGO) run --release --bin summa-agg -- round examples/shards --out $(EXAMPLE_OUT)

tools:
	bash infra/setup-tools.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

unit:
	SUMMA_REQUIRE_TOOLS=1 $(CARGO) test --workspace

infra:
	bash infra/check.sh

test: tools lint unit infra

bench:
	$(CARGO) bench --bench poseidon
