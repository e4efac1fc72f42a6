#!/usr/bin/env bash
# End-to-end suite against real telemetry backends (see docs/e2e.md).
#
# Installs what the suite needs -- Debian's prometheus (when root and missing) and Arize Phoenix
# in its own venv under .e2e/ (reused when the pinned version is already there) -- then runs
# `pytest -m e2e tests/e2e`. Idempotent; safe from a fresh clone. Every server the fixtures start
# records its PID in a private directory, and the EXIT trap ends any that are still running,
# even when pytest itself was killed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
UV=${UV:-$(sh scripts/ensure-uv.sh)}
export UV_PYTHON_DOWNLOADS=never

PHOENIX_VERSION=20.26.1
PHOENIX_VENV=$ROOT/.e2e/phoenix-venv
PHOENIX_STAMP=$PHOENIX_VENV/.installed-arize-phoenix-$PHOENIX_VERSION

log() { printf '[e2e] %s\n' "$*" >&2; }
now() { date +%s; }
suite_start=$(now)

PID_DIR=$(mktemp -d "${TMPDIR:-/tmp}/otel-resilience-e2e.XXXXXX")
cleanup() {
    local status=$? f pid left
    for f in "$PID_DIR"/*; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        log "stopping leftover server $(basename "$f") (pid $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    done
    for f in "$PID_DIR"/*; do
        [ -e "$f" ] || continue
        pid=$(cat "$f")
        left=50 # up to 10 s for a graceful exit, then SIGKILL
        while kill -0 "$pid" 2>/dev/null && [ "$left" -gt 0 ]; do
            sleep 0.2
            left=$((left - 1))
        done
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    done
    rm -rf "$PID_DIR"
    log "finished in $(($(now) - suite_start)) s (exit $status)"
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Prometheus (Debian package; the binary is run directly by the fixtures) -------------------
if ! command -v prometheus >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing prometheus from Debian"
        t=$(now)
        apt-get update -q
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus
        log "prometheus installed in $(($(now) - t)) s"
    else
        log "prometheus is missing and this is not a root Debian shell: its tests will fail"
    fi
fi

# --- Arize Phoenix in its own venv (it pins its own OpenTelemetry) ------------------------------
if [ ! -f "$PHOENIX_STAMP" ]; then
    log "installing arize-phoenix==$PHOENIX_VERSION into ${PHOENIX_VENV#"$ROOT"/}"
    t=$(now)
    rm -rf "$PHOENIX_VENV"
    mkdir -p "$(dirname "$PHOENIX_VENV")"
    "$UV" venv -q --python "${E2E_BASE_PYTHON:-python3}" "$PHOENIX_VENV"
    "$UV" pip install -q --python "$PHOENIX_VENV/bin/python" "arize-phoenix==$PHOENIX_VERSION"
    touch "$PHOENIX_STAMP"
    log "phoenix installed in $(($(now) - t)) s"
else
    log "reusing ${PHOENIX_VENV#"$ROOT"/} (arize-phoenix $PHOENIX_VERSION)"
fi

# --- The workspace itself (oteltest, opentelemetry-instrument and the exporters are dev deps) ---
"$UV" sync --frozen --all-packages -q

export E2E_REQUIRE=1
export E2E_PID_DIR=$PID_DIR
export E2E_PHOENIX_PYTHON=$PHOENIX_VENV/bin/python
E2E_PROMETHEUS_BIN=$(command -v prometheus || true)
export E2E_PROMETHEUS_BIN
log "running pytest -m e2e: starts Phoenix, Prometheus and OTLP sinks on 127.0.0.1 as tests need them"
t=$(now)
"$UV" run --frozen pytest -m e2e tests/e2e -q
log "pytest -m e2e took $(($(now) - t)) s"
