#!/usr/bin/env bash
# Install everything the tests need (Python packages into .venv; Debian packages when missing)
# and run lint, types and the test suite. Extra arguments go to pytest, e.g. scripts/test.sh -k codec
set -euo pipefail
source "$(dirname "$0")/env.sh" "[test]"
cd "$ROOT"

# Debian packages the tests use, each with the command that shows it is installed (the names
# differ): tmux drives the real terminal UI; user-mode-linux (linux.uml), kmod (modprobe),
# iproute2 (ip) and can-utils (candump, cansend) give tests/crossprocess a real SocketCAN vcan0
# in a User-Mode Linux guest (scripts/vcan/); mosquitto (in /usr/sbin, with mosquitto_passwd) is
# the real MQTT broker of tests/telemetry (tests/mqttlab.py).
declare -A DEB_PACKAGES=(
  [tmux]=tmux
  [linux.uml]=user-mode-linux
  [modprobe]=kmod
  [ip]=iproute2
  [candump]=can-utils
  [mosquitto]=mosquitto
)
missing=()
for cmd in "${!DEB_PACKAGES[@]}"; do
  PATH="$PATH:/usr/sbin:/sbin" command -v "$cmd" >/dev/null 2>&1 || missing+=("${DEB_PACKAGES[$cmd]}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing ${missing[*]} (Debian)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
      --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "note: ${missing[*]} missing and cannot be installed (not root with apt-get): those tests skip" >&2
  fi
fi

python dbc/build_dbc.py --check
ruff check .
mypy
lint-imports --no-cache --no-logo  # one direction of dependencies (pyproject.toml, ~1 s)
# Tests mostly wait (simulated modules, brokers, the UML guest), so three workers on two cores
# roughly halve the wall time; PYTEST_WORKERS=0 runs them in one process.
# The tmux tests type into a real terminal with fixed key gaps, which the other workers' load can
# upset: the full run gives them the machine to themselves, after the rest.
if [ "$#" -eq 0 ]; then
  python -m pytest -q -n "${PYTEST_WORKERS:-3}" --ignore=tests/tui/test_tmux.py
  python -m pytest -q -p no:xdist tests/tui/test_tmux.py
else
  python -m pytest -q -n "${PYTEST_WORKERS:-3}" "$@"
fi
