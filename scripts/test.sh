#!/usr/bin/env bash
# Set up the project in .venv and run every check CI runs: ruff, mypy, the whole pytest suite.
# Extra arguments go to pytest (e.g. scripts/test.sh -k scorer -x).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "error: Spillover needs Python 3.11 or newer; set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[dev]'

# Integration tests talk to a real Mosquitto broker on 127.0.0.1:1883 and start their own
# brokers from the `mosquitto` binary when they need to stop one.
scripts/ensure-mosquitto.sh

.venv/bin/ruff check engine strategies backtests spillover tests bench examples
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
code=$?
set -e
if [ "$code" -eq 5 ]; then
  echo "error: pytest collected no tests" >&2
  exit 1
fi
exit "$code"
