# edgeq: `make setup` once on a fresh Debian machine (also run by demo/test), `make demo`, `make test`.
VENV   := .venv
PY     := $(VENV)/bin/python
PYTEST := $(PY) -m pytest

.PHONY: setup demo test test-fast bench clean
setup:
	bash scripts/setup.sh

demo: setup
	$(VENV)/bin/edgeq demo --out out/demo

test: setup
	$(PYTEST) -q -ra

# the unit tests (tests/unit): seconds; no toolchain, emulator, training or wheel build
test-fast: setup
	$(PYTEST) -q tests/unit

bench: setup
	$(PY) -m benchmarks.deploy

clean:
	rm -rf out build .pytest_cache
