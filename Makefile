# `make demo` and `make test` work on a fresh machine with Python 3.10+ and make:
# uv is bootstrapped into .tools/ when missing, then the workspace is synced from uv.lock.
SHELL := /bin/sh
UV := $(shell sh scripts/ensure-uv.sh)
export UV_PYTHON_DOWNLOADS := never
# Scripts called from here (scripts/e2e.sh) find the same uv on PATH.
export PATH := $(dir $(UV)):$(PATH)
RUN := $(UV) run --frozen

.PHONY: sync debian demo test unit unit-py310 dist dist-test lint typecheck bench e2e

sync:
	$(UV) sync --frozen --all-packages

demo: sync
	$(RUN) python examples/demo.py

test: sync debian lint typecheck unit unit-py310 dist-test e2e

# Real parts from Debian (redis-server, chromium, promtool) when root and missing; see the script.
debian:
	sh scripts/ensure-debian.sh

# Unit tests and the docs' code blocks; the e2e suite and the wheel round trip have their targets.
UNIT_MARKERS := not e2e and not slow
unit:
	@echo "== unit tests: $$($(RUN) python -c 'import platform; print("Python", platform.python_version())') (.venv)"
	$(RUN) pytest -q -m "$(UNIT_MARKERS)"

# The oldest supported Python, in its own environment, when the machine has it.
PY310 := $(shell sh scripts/find-python310.sh)
unit-py310:
	@if [ -z "$(PY310)" ]; then echo "== unit tests: Python 3.10 not found, skipping the 3.10 run"; else \
	  echo "== unit tests: Python 3.10 ($(PY310)), syncing .venv-py310 from uv.lock first" && \
	  UV_PROJECT_ENVIRONMENT=.venv-py310 $(UV) sync --frozen --all-packages -q -p "$(PY310)" && \
	  .venv-py310/bin/python -m pytest -q -m "$(UNIT_MARKERS)" -p no:cacheprovider; fi

# The three wheels (core, exporters, instrumentation), built from this checkout by hatchling.
DIST_DIR ?= dist
dist:
	@echo "building the otel-resilience, -exporters and -instrumentation wheels into $(DIST_DIR)/"
	rm -f $(DIST_DIR)/otel_resilience*.whl
	$(UV) build --all-packages --wheel -q -o $(DIST_DIR)

# Builds the wheels and installs them into fresh venvs (tests/test_dist_wheels.py, marker slow).
dist-test: sync
	@echo "== wheel round trip: make dist, then install the wheels into fresh venvs and import them"
	$(RUN) pytest -q -m slow

lint:
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck:
	$(RUN) mypy

# `make bench BENCH_FLAGS=--check` fails on a missed target; without it the figures are informational.
BENCH_FLAGS ?=
bench: sync
	$(RUN) python benchmarks/bench_overhead.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_bulkhead.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_cache.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_strategies.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_budget.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_http.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_llm.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_import.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_store.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_streams.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_breaker_memory.py $(BENCH_FLAGS)
	$(RUN) python benchmarks/bench_redaction.py

e2e: sync
	bash scripts/e2e.sh

