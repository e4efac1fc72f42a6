# `make demo` and `make test` work on a fresh machine with Python 3.10+ and make:
# uv is bootstrapped into .tools/ when missing, then the workspace is synced from uv.lock.
SHELL := /bin/sh
UV := $(shell sh scripts/ensure-uv.sh)
export UV_PYTHON_DOWNLOADS := never
# Scripts called from here (scripts/e2e.sh) find the same uv on PATH.
export PATH := $(dir $(UV)):$(PATH)
RUN := $(UV) run --frozen

.PHONY: sync demo test unit lint typecheck bench e2e

sync:
	$(UV) sync --frozen --all-packages

demo: sync
	$(RUN) python examples/demo.py

test: sync lint typecheck unit e2e

unit:
	$(RUN) pytest -q -m "not e2e"

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck:
	$(RUN) mypy

bench: sync
	$(RUN) python benchmarks/bench_overhead.py

e2e: sync
	bash scripts/e2e.sh

