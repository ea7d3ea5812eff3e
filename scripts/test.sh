#!/usr/bin/env bash
# The whole test suite on a fresh machine: install test dependencies, start services, run pytest.
# Usage: bash scripts/test.sh [pytest args...]
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install_test_deps.sh
bash scripts/services.sh
export PYTHONDONTWRITEBYTECODE=1
python3 -m pytest "$@"
# the Feast tests again in the feast venv, where the real feast runs (pandas<3)
exec .venv/feast/bin/python -m pytest -q -p no:cacheprovider tests/core/test_features_feast.py
