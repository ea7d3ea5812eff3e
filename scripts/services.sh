#!/usr/bin/env bash
# Start the local services the tests need, if they are down: PostgreSQL (team store tests).
# MLflow and Prometheus servers are started by the test fixtures themselves.
set -euo pipefail

if command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -h 127.0.0.1 -p 5432 -q; then
    echo "starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
    for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
  fi
  pg_isready -h 127.0.0.1 -p 5432
else
  echo "warning: PostgreSQL client tools not found; the PostgreSQL tests will fail" >&2
fi
