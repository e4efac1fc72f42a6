# `make demo` and `make test` work on a fresh machine with Python 3.10+ and make:
# uv is bootstrapped into .tools/ when missing, then the workspace is synced from uv.lock.
SHELL := /bin/sh
UV := $(shell sh scripts/ensure-uv.sh)
export UV_PYTHON_DOWNLOADS := never
# Scripts called from here (scripts/e2e.sh) find the same uv on PATH.
export PATH := $(dir $(UV)):$(PATH)
RUN := $(UV) run --frozen

.PHONY: sync demo test unit unit-py310 lint typecheck bench e2e

sync:
	$(UV) sync --frozen --all-packages

demo: sync
	$(RUN) python examples/demo.py

test: sync lint typecheck unit unit-py310 e2e

unit:
	$(RUN) pytest -q -m "not e2e"

# The oldest supported Python, in its own environment, when the machine has it.
PY310 := $(shell sh scripts/find-python310.sh)
unit-py310:
	@if [ -z "$(PY310)" ]; then echo "python3.10 not found: skipping the 3.10 unit run"; else \
	  UV_PROJECT_ENVIRONMENT=.venv-py310 $(UV) sync --frozen --all-packages -q -p "$(PY310)" && \
	  .venv-py310/bin/python -m pytest -q -m "not e2e" -p no:cacheprovider; fi

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck:
	$(RUN) mypy

bench: sync
	$(RUN) python benchmarks/bench_overhead.py
	$(RUN) python benchmarks/bench_redaction.py

e2e: sync
	bash scripts/e2e.sh

