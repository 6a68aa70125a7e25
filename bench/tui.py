"""Bench the terminal UI's cost: whole-process CPU of ``icu-ws demo`` with every channel infusing.

Run from the repository root: ``python bench/tui.py [--quick] [--output PATH]``. For 8 and 32
channels, the demo runs in a private tmux server (160x50 terminal), UI and ``--headless``; once
every channel is infusing (read from its event log) and after a warm-up, the demo process's
utime+stime from /proc/PID/stat is sampled over 20 s (``--quick``: 8 s) and given as % of one
core. Goal: the UI with 32 channels under 30 % of one core. Prints a table; writes
``bench/results/tui.json``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.*

from bench.harness import REPO, environment, parser, write_results
from bench.timing import proc_cpu_s
from channels.events import EventKind
from workstation.eventlog import EventLog, EventLogError

CHANNELS = (8, 32)
GOAL_CHANNELS, GOAL_PERCENT = 32, 30.0
SIZE = ("160", "50")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def infusing_channels(log_path: Path) -> int:
    """Channels whose module reported INFUSING, from the demo's event log (read-only)."""
    if not log_path.exists():
        return 0
    try:
        with EventLog(log_path, read_only=True) as log:
            rows = log.query(kinds=[EventKind.STATE], text="-> INFUSING")
    except EventLogError:
        return 0
    return len({r.channel for r in rows if r.channel})


class Tmux:
    """One private tmux server (its own socket) with one session."""

    def __init__(self) -> None:
        self.tmux = shutil.which("tmux") or sys.exit("bench/tui.py needs tmux on PATH")
        self.name = f"icu-bench-{os.getpid()}-{uuid.uuid4().hex[:8]}"

    def run(self, *args: str, check: bool = True) -> str:
        return subprocess.run([self.tmux, "-L", self.name, *args], capture_output=True,
                              text=True, timeout=10, check=check).stdout

    def start(self, command: str) -> int:
        self.run("new-session", "-d", "-s", self.name, "-x", SIZE[0], "-y", SIZE[1],
                 "-c", str(REPO), command)
        return int(self.run("display-message", "-p", "-t", self.name, "#{pane_pid}").strip())

    def forget_socket(self) -> None:
        """kill-server leaves the socket file behind: remove ours."""
        folder = Path(os.environ.get("TMUX_TMPDIR") or "/tmp") / f"tmux-{os.getuid()}"
        (folder / self.name).unlink(missing_ok=True)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", self.name, check=False)

    def stop(self) -> None:
        self.run("kill-server", check=False)
        self.forget_socket()


def measure(channels: int, headless: bool, seconds: float, warmup: float, folder: Path
            ) -> dict[str, Any]:
    log = folder / f"bench-{channels}-{'headless' if headless else 'ui'}.db"
    args = ["demo", "--channels", str(channels), "--no-bell", "--event-log", str(log)]
    if headless:
        args += ["--headless", "--status-every", "5"]
    # exec: the pane's process IS the demo, so its pid is the pane's pid
    command = "exec " + shlex.join([sys.executable, "-m", "icu_ws.cli", *args])
    term = Tmux()
    pid = 0
    try:
        pid = term.start(command)
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        assert b"icu_ws.cli" in cmdline, f"pane pid {pid} is not the demo"
        started = time.monotonic()
        while infusing_channels(log) < channels:
            if time.monotonic() - started > 90:
                raise RuntimeError(f"{channels} channels not all infusing after 90 s:\n"
                                   + term.screen())
            time.sleep(0.5)
        ready_s = time.monotonic() - started
        time.sleep(warmup)
        cpu0, t0 = proc_cpu_s(pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = proc_cpu_s(pid), time.monotonic()
        screen = term.screen()
        if not headless:
            shown = screen.count("INFUSING")
            assert shown >= channels, f"only {shown} INFUSING cards on screen:\n{screen}"
        return {"channels": channels, "mode": "headless" if headless else "ui",
                "cpu_percent": round(100.0 * (cpu1 - cpu0) / (t1 - t0), 1),
                "seconds": round(t1 - t0, 2), "cpu_seconds": round(cpu1 - cpu0, 3),
                "rss_mb": round(rss_mb(pid), 1), "ready_after_s": round(ready_s, 1)}
    finally:
        term.stop()
        time.sleep(0.3)
        if pid and Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)  # our demo, by its pid


def table(runs: list[dict[str, Any]]) -> str:
    by = {(r["channels"], r["mode"]): r for r in runs}
    lines = [f"{'channels':>8}  {'UI % core':>9}  {'headless %':>10}  {'UI - headless':>13}  "
             f"{'goal':<28}  met"]
    for n in sorted({r["channels"] for r in runs}):
        ui, hl = by[(n, "ui")]["cpu_percent"], by[(n, "headless")]["cpu_percent"]
        goal = f"UI < {GOAL_PERCENT:g} % of a core" if n == GOAL_CHANNELS else "-"
        met = ("yes" if ui < GOAL_PERCENT else "NO") if n == GOAL_CHANNELS else "-"
        lines.append(f"{n:>8}  {ui:>9.1f}  {hl:>10.1f}  {ui - hl:>13.1f}  {goal:<28}  {met}")
    return "\n".join(lines)


def main() -> int:
    cli = parser(__doc__, "tui")
    cli.add_argument("--quick", action="store_true", help="measure 8 s instead of 20 s")
    cli.add_argument("--channels", type=int, nargs="+", default=list(CHANNELS),
                     help=f"channel counts (default {' '.join(map(str, CHANNELS))})")
    args = cli.parse_args()
    seconds, warmup = (8.0, 3.0) if args.quick else (20.0, 5.0)
    runs = []
    with tempfile.TemporaryDirectory(prefix="icu-bench-tui-") as tmp:
        for channels in args.channels:
            for headless in (False, True):
                run = measure(channels, headless, seconds, warmup, Path(tmp))
                print(f"  {channels} channels {run['mode']}: {run['cpu_percent']} % "
                      f"({run['rss_mb']} MB RSS)", flush=True)
                runs.append(run)
    ui32 = next((r for r in runs if r["channels"] == GOAL_CHANNELS and r["mode"] == "ui"), None)
    result = {
        "runs": runs,
        "goal": {"channels": GOAL_CHANNELS, "mode": "ui", "max_cpu_percent": GOAL_PERCENT,
                 "met": None if ui32 is None else ui32["cpu_percent"] < GOAL_PERCENT},
        "method": {"terminal": "tmux " + "x".join(SIZE), "measure_s": seconds,
                   "warmup_s": warmup, "speed": 1.0,
                   "cpu": "utime+stime of the demo process from /proc/PID/stat"},
        "environment": {**environment("textual"), "quick": args.quick},
    }
    print(table(runs))
    write_results(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
