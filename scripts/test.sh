#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs the whole suite.
#  - Debian packages (when run as root and missing): chromium (browser tests), gdal-bin
#    (gdaldem, the independent slope reference), fonts-noto-cjk (Chinese text in the briefing PDF),
#    postgresql and postgresql-postgis (the PostGIS store's tests run against a real server)
#  - a virtual environment .venv with anju and its test extras
# Then the gates, in order: ruff check, ruff format --check, mypy on geo/ and layers/
# (zero errors there), then pytest (arguments are passed to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v gdaldem >/dev/null 2>&1 || need+=(gdal-bin)
fc-list 2>/dev/null | grep -qi "Noto Sans CJK" || need+=(fonts-noto-cjk)
# PostgreSQL + PostGIS (Debian's default major: postgresql-postgis is postgresql-NN-postgis-3):
# tests/pg.py starts a throwaway cluster of its own on a Unix socket in a temp folder
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || need+=(postgresql)
compgen -G "/usr/share/postgresql/*/extension/postgis.control" >/dev/null || need+=(postgresql-postgis)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "installing Debian packages: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "not root: tests needing ${need[*]} will be skipped"
  fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/pip install -q --upgrade pip
.venv/bin/pip install -q -e ".[test]"
echo "gate: ruff check"; .venv/bin/ruff check .
echo "gate: ruff format --check"; .venv/bin/ruff format --check .
echo "gate: mypy geo layers"; .venv/bin/mypy geo layers
exec .venv/bin/python -m pytest "$@"
