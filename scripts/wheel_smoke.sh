#!/usr/bin/env bash
# The wheel works outside the checkout: build it, install it in a fresh venv in a temporary
# directory (dependencies from the package index or pip's cache, as usual), and from an empty
# directory import every module and run `icu-ws check-config`, `icu-ws demo --headless
# --duration 5` and `icu-ws pump --help`. Any non-zero exit fails. CI runs it after the tests.
# WHEEL_SMOKE_KEEP=1 keeps the temporary directory (its path is printed) for a look inside.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The interpreter that builds and makes the venv: the project's .venv (scripts/test.sh made
# it) or python3. The wheel does not depend on it.
PY="$ROOT/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3)"
TMP="$(mktemp -d "${TMPDIR:-/tmp}/icu-ws-wheel.XXXXXX")"
case "$TMP/" in "$ROOT"/*) echo "wheel smoke: $TMP is inside the checkout $ROOT" >&2; exit 2;; esac
if [ "${WHEEL_SMOKE_KEEP:-0}" = 1 ]; then
  trap 'echo "wheel smoke: kept $TMP"' EXIT
else
  trap 'rm -rf "$TMP"' EXIT
fi
START=$SECONDS

step() {  # step NAME COMMAND...: run it, print what and how long; set -e stops on failure
  local t0=$SECONDS
  echo "wheel smoke: $1"
  shift
  "$@"
  echo "wheel smoke:   ok ($((SECONDS - t0)) s)"
}

copy_sources() {
  # Build from a copy of the sources: an in-place build would leave build/ and reuse a stale
  # *.egg-info/SOURCES.txt, which can add files that package-data forgot.
  mkdir -p "$TMP/src"
  if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # tracked and new files, as in the working tree; nothing .gitignore'd (.venv, var/, ...)
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
      | xargs -0 sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh \
      | tar --null -T - -cf -) | tar -xf - -C "$TMP/src"
  else
    tar -C "$ROOT" --exclude=.venv --exclude='*.egg-info' --exclude=build --exclude=var \
      --exclude=__pycache__ -cf - . | tar -xf - -C "$TMP/src"
  fi
}

build_wheel() {
  "$PY" -m pip wheel --quiet --no-deps -w "$TMP/dist" "$TMP/src"
  ls "$TMP"/dist/*.whl
}

make_venv() {
  "$PY" -m venv "$TMP/venv" 2>/dev/null || python3 -m virtualenv --quiet "$TMP/venv"
  "$TMP/venv/bin/python" -m pip install --quiet "$TMP"/dist/*.whl
}

# Every module of every package imports from the wheel (no repository paths at import time).
IMPORT_ALL='
import importlib, os, pkgutil, sys
roots = ["dbc", "channels", "pumps", "workstation", "tui", "icu_ws", "configs"]
names = []
for root in roots:
    pkg = importlib.import_module(root)
    if "site-packages" not in pkg.__file__:
        sys.exit(f"{root} imported from {pkg.__file__}, not from the installed wheel")
    names += [m.name for m in pkgutil.walk_packages(pkg.__path__, root + ".")]
styles = set()
for name in names:
    module = importlib.import_module(name)
    # the headless demo loads no styles: check the CSS_PATH of every screen and app here
    for value in vars(module).values():
        css = getattr(value, "CSS_PATH", None) if isinstance(value, type) else None
        styles.update(map(str, css if isinstance(css, list) else [css] if css else []))
missing = [s for s in sorted(styles) if not os.path.isfile(s)]
if missing:
    sys.exit(f"styles missing from the wheel: {missing}")
print(f"{len(roots)} packages, {len(names)} modules imported, {len(styles)} style files found")
'

check_demo_files() {
  for f in var/demo-events.db var/demo-users.json; do
    [ -s "$f" ] || { echo "wheel smoke: the demo did not write $PWD/$f" >&2; return 1; }
  done
  echo "demo wrote: $(cd var && ls | tr '\n' ' ')"
}

step "copy the sources to $TMP/src" copy_sources
step "build the wheel" build_wheel
step "install it in a fresh venv $TMP/venv" make_venv
mkdir "$TMP/empty"
cd "$TMP/empty"
# Nothing of the checkout may leak in: no PYTHONPATH, the venv's icu-ws, an empty directory.
unset PYTHONPATH
export PATH="$TMP/venv/bin:$PATH"
step "import every module from the wheel" python -c "$IMPORT_ALL"
step "icu-ws check-config (the packaged example and library)" icu-ws check-config
step "icu-ws demo --headless --duration 5 in $PWD" \
  icu-ws demo --headless --duration 5 --status-every 5
step "the demo's var/ files are in the working directory" check_demo_files
step "icu-ws pump --help" icu-ws pump --help
echo "wheel smoke: passed in $((SECONDS - START)) s"
