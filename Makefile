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

# unit tests only: seconds, no toolchain or emulator
test-fast: setup
	$(PYTEST) -q -m "not toolchain and not emulator and not slow"

bench: setup
	$(PY) -m benchmarks.deploy

clean:
	rm -rf out build .pytest_cache
