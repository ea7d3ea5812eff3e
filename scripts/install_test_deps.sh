#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine (idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -r requirements-test.txt
# feast pins pandas<3: its own venv beside the app's packages (README, "Feature store")
[ -x .venv/feast/bin/feast ] || { python3 -m venv --system-site-packages .venv/feast && .venv/feast/bin/pip install --quiet --disable-pip-version-check -r requirements-feast.txt; }

need=()
[ -x /usr/bin/chromium ] || need+=(chromium)
[ -x /usr/bin/prometheus ] || need+=(prometheus)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v amtool >/dev/null 2>&1 || need+=(prometheus-alertmanager)
# fonts so that screenshots and exported images have readable text
[ -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)  # the Spark engine (requirements-spark.txt)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
