#!/usr/bin/env sh
# Installs the Debian packages the tests use as real parts, when missing:
#   redis-server (shared state), chromium (status page in a real browser),
#   prometheus (promtool for generated rules; the server for the e2e suite).
# Only as root on a Debian machine; elsewhere it says what is missing and the tests that need
# it fail with a message naming the binary. Idempotent: runs apt-get only when a binary is absent.
set -eu
missing=""
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "[debian] installing:$missing" >&2
    start=$(date +%s)
    apt-get update -q >/dev/null
    # policy-rc.d: the packages must not start system daemons; tests start their own servers.
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    # shellcheck disable=SC2086
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing >/dev/null
    rm -f /usr/sbin/policy-rc.d
    echo "[debian] installed in $(($(date +%s) - start)) s" >&2
else
    echo "[debian] missing:$missing (not root on Debian: tests that need them will fail)" >&2
fi
