#!/bin/sh
# Print the path of a usable `uv`, installing it from PyPI into .tools/ when the machine has none.
# Needs only python3 (3.10+) with pip or venv; never needs root.
set -eu
if command -v uv >/dev/null 2>&1; then command -v uv; exit 0; fi
here=$(cd "$(dirname "$0")/.." && pwd)
tools="$here/.tools/uv"
if [ ! -x "$tools/bin/uv" ]; then
    # stdout is the path Make reads; progress goes to stderr.
    echo "uv not found: installing it from PyPI into .tools/uv (first run only)" >&2
    if python3 -m pip --version >/dev/null 2>&1; then
        python3 -m pip install --quiet --disable-pip-version-check --target "$tools" uv >&2
    else
        # Debian's python3 may lack pip: a throwaway venv brings its own.
        python3 -m venv "$here/.tools/venv" >&2
        "$here/.tools/venv/bin/pip" install --quiet --target "$tools" uv >&2
    fi
fi
echo "$tools/bin/uv"
