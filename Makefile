# memtrace: the two commands a fresh machine needs are `make demo` and `make test`.
CARGO ?= cargo

.PHONY: build test demo reproduce bench fmt lint clean

build:
	$(CARGO) build --release --workspace

test:
	$(CARGO) test --release --workspace

# The main job: record every seed protocol, analyze the traces with `analyze`,
# print each seed table beside the published figures, write reports/seeds.md.
demo: reproduce

reproduce: build
	target/release/reproduce

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

bench:
	$(CARGO) run --release -p memtrace-bench
