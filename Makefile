# memtrace: the two commands a fresh machine needs are `make demo` and `make test`.
CARGO ?= cargo

.PHONY: build test demo bench fmt lint clean

build:
	$(CARGO) build --release --workspace

test:
	$(CARGO) test --release --workspace

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean

bench:
	$(CARGO) run --release -p memtrace-bench
