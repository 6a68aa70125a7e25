#!/usr/bin/env bash
# Install everything the tests need (Python packages into .venv; Debian packages when missing)
# and run lint, types and the test suite. Extra arguments go to pytest, e.g. scripts/test.sh -k codec
set -euo pipefail
source "$(dirname "$0")/env.sh" "[test]"
cd "$ROOT"

# Debian packages the tests use: tmux drives the real terminal UI.
DEB_PACKAGES=(tmux)
missing=()
for pkg in "${DEB_PACKAGES[@]}"; do
  command -v "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (Debian)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "note: ${missing[*]} missing and cannot be installed (not root with apt-get): those tests skip" >&2
  fi
fi

python dbc/build_dbc.py --check
ruff check .
mypy
python -m pytest -q "$@"
