#!/usr/bin/env bash
# The whole test suite on a fresh machine: install test dependencies, start services, run pytest.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_test_deps.sh
bash scripts/services.sh
export PYTHONDONTWRITEBYTECODE=1
exec python3 -m pytest "$@"
