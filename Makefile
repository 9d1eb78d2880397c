# memtrace: the two commands a fresh machine needs are `make demo` and `make test`.
CARGO ?= cargo
PYTHON ?= python3

.PHONY: build test demo reproduce bench findings fmt lint clean golden venv

build:
	$(CARGO) build --release --workspace

test:
	$(CARGO) test --release --workspace
	$(PYTHON) -m unittest discover -s python/tests

# A virtual environment holding the Python package and the two commands,
# installed the way a user installs them (CI tests against it).
venv:
	python3 -m venv target/venv
	target/venv/bin/pip install --quiet './python[numpy,pandas]'

# The main job: record every seed protocol, analyze the traces with `analyze`,
# print each seed table beside the published figures, write reports/seeds.md.
demo: reproduce

reproduce: build
	target/release/reproduce

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) fmt --manifest-path python/native/Cargo.toml -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings
	$(CARGO) clippy --release --manifest-path python/native/Cargo.toml -- -D warnings

fmt:
	$(CARGO) fmt --all
	$(CARGO) fmt --manifest-path python/native/Cargo.toml

clean:
	$(CARGO) clean

# Speed figures of README.md (the Python package's with $(PYTHON): point it
# at a venv holding `pip install ./python` to measure the Rust hot paths). With `pip install libcachesim` (or
# MEMTRACE_LIBCACHESIM_PYTHON=/path/to/python), also libCacheSim side by side.
bench: build
	$(CARGO) run --release -p memtrace-bench
	$(PYTHON) python/bench.py

# The tables of docs/findings.md, recorded and measured from scratch.
findings: build
	python3 scripts/findings.py target/release

# Regenerates the expected analyzer outputs of the golden traces after a
# deliberate change of output. Never regenerates the traces themselves:
# they are the promise that version-1 files stay readable.
golden: build
	cd traces/golden && for t in *.trace *.zst; do \
	  ../../target/release/analyze info --json $$t > $$t.info.json; \
	  ../../target/release/analyze ard --json $$t > $$t.ard.json; \
	  ../../target/release/analyze cache --size 32KiB,256KiB --json $$t > $$t.cache.json; \
	  ../../target/release/analyze hist --json $$t > $$t.hist.json; \
	done
