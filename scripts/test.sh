#!/usr/bin/env bash
# Install everything the tests need (into .venv) and run lint, types and the test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh -k codec
set -euo pipefail
source "$(dirname "$0")/env.sh" "[test]"
cd "$ROOT"
python dbc/build_dbc.py --check
ruff check .
mypy
python -m pytest -q "$@"
