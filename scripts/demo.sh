#!/usr/bin/env bash
# Install the workstation (into .venv) and start the demo: all channels simulated, embedded defaults.
# Extra arguments go to `icu-ws demo`, e.g. scripts/demo.sh --channels 12
set -euo pipefail
source "$(dirname "$0")/env.sh" ""  # "": no pip extras (and not this script's own arguments)
exec icu-ws demo "$@"
