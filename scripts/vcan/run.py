#!/usr/bin/env python3
"""Run a shell command where a real SocketCAN ``vcan0`` is up.

    python scripts/vcan/run.py [--timeout S] [--cwd DIR] -- CMD [ARG...]

- If this host already has ``vcan0`` up (a laptop after ``modprobe vcan && ip link add dev
  vcan0 type vcan && ip link set up vcan0``), the command runs here, with ``/bin/sh``.
- Otherwise it runs inside a User-Mode Linux guest booted by ``scripts/vcan/uml-run.sh`` (about
  2 s to boot; the host's ``/`` is the guest's root, read-write, so files land on the host).
  The host variables that matter (PATH, PYTHONPATH, VIRTUAL_ENV, HOME, ICU_WS_*, PYENV_*,
  LANG/LC_*, TZ, PYTEST_ADDOPTS...) are exported inside the guest command: UML passes none.
- Neither: :class:`VcanUnavailable`, saying which Debian packages to install.

Exit status (CLI) and ``returncode``: the command's, or 124 on timeout, 125 when the guest could
not set up vcan0 (or ``cwd`` is under /dev, /run, /mnt, /proc or /sys, which the guest mounts
afresh), 255 when the guest died; the CLI exits 127 when neither host vcan0 nor UML is there.
Output is stdout and stderr together, with the guest console's ``\\r\\n`` turned into ``\\n``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

HERE = Path(__file__).resolve().parent
UML_RUNNER = HERE / "uml-run.sh"
DEB_PACKAGES = ("user-mode-linux", "kmod", "iproute2", "can-utils")
TIMEOUT_STATUS = 124

# Host variables exported inside the guest command (names, or prefixes ending in "_").
PASSED_NAMES = ("PATH", "PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE",
                "PYTHONHASHSEED", "PYTHONWARNINGS", "PYTHONUNBUFFERED", "VIRTUAL_ENV",
                "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "CI", "NO_COLOR",
                "PYTEST_ADDOPTS")
PASSED_PREFIXES = ("ICU_WS_", "PYENV_", "LC_")


class VcanUnavailable(RuntimeError):
    """Neither a host ``vcan0`` that is up nor User-Mode Linux to boot one."""


def host_vcan_up(name: str = "vcan0") -> bool:
    """True if this kernel has ``name`` and it is administratively up (IFF_UP)."""
    try:
        flags = (Path("/sys/class/net") / name / "flags").read_text()
        return bool(int(flags.strip(), 16) & 0x1)
    except (OSError, ValueError):
        return False


def uml_problem() -> str | None:
    """Why the UML guest cannot be booted here, or None if it can."""
    missing = [tool for tool in ("linux.uml", "modprobe") if shutil.which(tool) is None]
    if not Path("/usr/lib/uml/modules").is_dir() and "linux.uml" not in missing:
        missing.append("/usr/lib/uml/modules")
    if not missing:
        return None
    return (f"no vcan0 on this host and {', '.join(missing)} missing to boot a User-Mode Linux "
            "guest with one: install the Debian packages "
            f"({' '.join(DEB_PACKAGES)}): apt-get install -y --no-install-recommends "
            f"{' '.join(DEB_PACKAGES)} (scripts/test.sh does it as root), or bring up vcan0 "
            "on the host: modprobe vcan && ip link add dev vcan0 type vcan && "
            "ip link set up vcan0")


def where() -> str:
    """``"host"``, ``"uml"``; raises :class:`VcanUnavailable` if neither works."""
    if host_vcan_up():
        return "host"
    problem = uml_problem()
    if problem is not None:
        raise VcanUnavailable(problem)
    return "uml"


def exported_environment(env: Mapping[str, str] | None = None) -> str:
    """``export NAME='value'`` lines for the host variables that matter inside the guest."""
    env = os.environ if env is None else env
    lines = []
    for name in sorted(env):
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            continue
        if name in PASSED_NAMES or name.startswith(PASSED_PREFIXES):
            lines.append(f"export {name}={shlex.quote(env[name])}")
    return "\n".join(lines)


def _collect(stream: TextIO, sink: list[str], echo: TextIO | None) -> None:
    for line in stream:
        line = line.replace("\r\n", "\n").replace("\r", "")
        sink.append(line)
        if echo is not None:
            echo.write(line)
            echo.flush()


def _run(argv: list[str], *, cwd: Path, timeout: float, env: Mapping[str, str] | None,
         echo: TextIO | None) -> tuple[int, str]:
    """Run in a new session; on timeout TERM then KILL its process group. Status 124 then."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            errors="replace", start_new_session=True)
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=_collect, args=(proc.stdout, lines, echo), daemon=True)
    reader.start()
    try:
        code = proc.wait(timeout)
    except subprocess.TimeoutExpired:
        _stop_group(proc)
        lines.append(f"run.py: timeout after {timeout:g} s\n")
        code = TIMEOUT_STATUS
    except BaseException:  # Ctrl+C: never leave a guest behind
        _stop_group(proc)
        raise
    reader.join(5)
    return code, "".join(lines)


def _stop_group(proc: subprocess.Popen[str]) -> None:
    # uml-run.sh kills the guest's own process group on SIGTERM (linux.uml calls setsid()).
    for sig, wait_s in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def run_in_vcan(command: str, *, timeout: float, cwd: Path,
                echo: TextIO | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``command`` (a ``/bin/sh`` command line) in ``cwd`` where ``vcan0`` is up.

    Returns the status (124 on timeout, 125 if the guest could not set up vcan0 or enter
    ``cwd``, 255 if the guest died) and the output, stdout and stderr merged; ``echo`` also
    gets the output as it comes. Raises :class:`VcanUnavailable` when there is neither a host
    vcan0 nor UML.
    """
    cwd = Path(cwd).resolve()
    if where() == "host":
        code, out = _run(["/bin/sh", "-c", command], cwd=cwd, timeout=timeout, env=None,
                         echo=echo)
    else:
        script = f"{exported_environment()}\n{command}\n"
        env = dict(os.environ, UML_TIMEOUT=str(max(1, round(timeout))))
        env.setdefault("UML_MEM", "1G")
        # The runner enforces the timeout itself; ours is the backstop.
        code, out = _run(["/bin/bash", str(UML_RUNNER), script], cwd=cwd, timeout=timeout + 15,
                         env=env, echo=echo)
    return subprocess.CompletedProcess(command, code, stdout=out, stderr="")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Run a command where SocketCAN vcan0 is up: on this host if it has one, "
                    "else in a User-Mode Linux guest.",
        epilog="example: python scripts/vcan/run.py -- candump -n 1 vcan0")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds before the command is killed (status 124; default 600)")
    parser.add_argument("--cwd", type=Path, default=Path.cwd(),
                        help="directory to run in (default: the current one)")
    parser.add_argument("command", nargs="+", help="the command; one argument is a shell line")
    args = parser.parse_args(argv)
    command = args.command[0] if len(args.command) == 1 else shlex.join(args.command)
    try:
        return run_in_vcan(command, timeout=args.timeout, cwd=args.cwd,
                           echo=sys.stdout).returncode
    except VcanUnavailable as exc:
        print(f"run.py: {exc}", file=sys.stderr)
        return 127


if __name__ == "__main__":
    sys.exit(main())
