# Sourced by scripts/demo.sh and scripts/test.sh: make .venv with the project installed.
# Argument 1: pip extras, e.g. "[test]". Always pass it (even ""): a sourced script without
# arguments sees its caller's.
# Works on a fresh Debian machine with only python3 and pip: falls back to apt's python3-venv
# (when root) or to pip's virtualenv when the venv module is missing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
EXTRAS="${1:-}"

make_venv() {
  if python3 -m venv "$VENV" 2>/dev/null; then return 0; fi
  rm -rf "$VENV"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    python3 -m venv "$VENV" && return 0
  fi
  python3 -m pip install --quiet --user --break-system-packages virtualenv 2>/dev/null \
    || python3 -m pip install --quiet --user virtualenv
  python3 -m virtualenv --quiet "$VENV"
}

[ -x "$VENV/bin/python" ] || make_venv
STAMP="$VENV/.installed-$(cat "$ROOT/pyproject.toml" | cksum | cut -d' ' -f1)$EXTRAS"
if [ ! -e "$STAMP" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -e "$ROOT$EXTRAS"
  touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
