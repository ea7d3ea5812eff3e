#!/usr/bin/env bash
# Install the Prometheus server and promtool (Debian package) if they are missing.
# Idempotent: does nothing when /usr/bin/prometheus and /usr/bin/promtool exist.
# Used by scripts/test.sh before the Prometheus tests (tests/core/test_prometheus.py).
set -euo pipefail

if [[ -x /usr/bin/prometheus && -x /usr/bin/promtool ]]; then
    exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "error: Prometheus is missing and this user cannot install packages; run as root: apt-get install -y prometheus" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The package's own service is not needed: the tests start their own server on a free port.
$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet prometheus 2>/dev/null; then
    $SUDO systemctl stop prometheus || true
fi
/usr/bin/prometheus --version | head -1
