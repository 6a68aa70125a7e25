"""Part 3 of ``bench/workstation.py``: CPU of a headless workstation, 8, 32 and 64 channels.

One python-can-remote hub per bus on 127.0.0.1, one ``icu-ws pump`` process per bus, and the
workstation alone in a child process (``bench/workstation.py --child``, which runs
``child_main``), so the CPU time measured is the workstation's own: utime + stime over the
window / wall. Goal: 64 channels under 25 % of one core. Every process is started in its own
session and its process group is killed at the end. Its own module because it is the only part
that manages processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.harness import REPO
from bench.timing import proc_cpu_s, summary_ms, wait_until, yes
from tests.buslab import free_port
from workstation.api import Workstation
from workstation.config import demo_config
from workstation.demo import start_demo_infusions

ENTRY = REPO / "bench" / "workstation.py"  # the child is started through the bench's CLI
CPU_GOAL_PCT = 25.0
CPU_GOAL_CHANNELS = 64
CHILD_READY = "READY "
CHILD_RESULT = "RESULT "


@dataclass
class Proc:
    """A process this part started, and the file its stderr goes to (named in errors)."""

    role: str  # hub, pumps, workstation
    bus: str
    popen: subprocess.Popen[str]
    log: Path


def spawn(role: str, bus: str, argv: list[str], folder: Path, *,
          stdout_pipe: bool = False) -> Proc:
    """Start ``argv`` in its own session (so its whole group can be killed), stderr to a log."""
    log = folder / f"{role}-{bus}.log"
    with log.open("w") as err:
        popen = subprocess.Popen(argv, cwd=REPO, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE if stdout_pipe else subprocess.DEVNULL,
                                 stderr=err, text=True, start_new_session=True)
    return Proc(role, bus, popen, log)


def stop_procs(procs: list[Proc]) -> None:
    """SIGTERM each process group we started (each its own session), then SIGKILL."""
    for p in reversed(procs):
        if p.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.popen.pid, signal.SIGTERM)
    deadline = time.monotonic() + 5.0
    for p in reversed(procs):
        try:
            p.popen.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(p.popen.pid, signal.SIGKILL)
            p.popen.wait(5)
        # The group may hold stragglers even after its leader exited.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(p.popen.pid, signal.SIGKILL)
        if p.popen.stdout is not None:
            p.popen.stdout.close()


def wait_for_port(port: int, proc: Proc, timeout: float = 15.0) -> None:
    """Until the hub accepts connections: the pumps and the workstation connect at once."""
    deadline = time.monotonic() + timeout
    while True:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.popen.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"can_remote hub did not start on port {port}; see {proc.log}")
        time.sleep(0.05)


def read_line(proc: Proc, prefix: str, timeout: float) -> str:
    """The next stdout line of ``proc`` starting with ``prefix`` (the rest of it)."""
    stdout = proc.popen.stdout
    assert stdout is not None
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"{proc.role}: no {prefix.strip()!r} line within "
                                   f"{timeout:g} s; see {proc.log}")
            if not sel.select(left):
                continue
            line = stdout.readline()
            if not line:
                raise RuntimeError(f"{proc.role} exited ({proc.popen.poll()}); see "
                                   f"{proc.log}: {tail(proc.log)}")
            if line.startswith(prefix):
                return line[len(prefix):]


def tail(path: Path, lines: int = 6) -> str:
    """The last lines of a log, on one line, for an error message."""
    try:
        return " | ".join(path.read_text().splitlines()[-lines:])
    except OSError:
        return ""


def run_cpu(channels: int, seconds: float, folder: Path) -> dict[str, Any]:
    """One size: hubs, pump processes and the workstation child; their CPU over the window."""
    config = demo_config(channels)
    procs: list[Proc] = []
    try:
        hubs: dict[str, str] = {}
        ports: list[tuple[int, Proc]] = []
        for bus in config.buses:  # start them all, then wait: python starts in ~0.5 s
            port = free_port()
            hub = spawn("hub", bus.name, [sys.executable, "-m", "can_remote", "-i", "virtual",
                                          "-c", "hub", "-H", "127.0.0.1", "-p", str(port)],
                        folder)
            procs.append(hub)
            ports.append((port, hub))
            hubs[bus.name] = f"ws://127.0.0.1:{port}/"
        for port, hub in ports:
            wait_for_port(port, hub)
        racks: list[Proc] = []
        for bus in config.buses:
            argv = [sys.executable, "-m", "icu_ws.cli", "pump", "--interface", "remote",
                    "--channel", hubs[bus.name], "--speed", "1"]
            for c in config.channels:
                if c.bus == bus.name:
                    argv += ["--node", f"{c.slot}:{c.kind}"]
            racks.append(spawn("pumps", bus.name, argv, folder, stdout_pipe=True))
        procs += racks
        for pumps in racks:
            read_line(pumps, "pumps:", 30.0)
        child = spawn("workstation", "all", [
            sys.executable, str(ENTRY), "--child",
            "--channels", str(channels), "--seconds", str(seconds),
            "--hubs", ",".join(hubs[b.name] for b in config.buses),
            "--event-log", str(folder / f"cpu-{channels}.db")], folder, stdout_pipe=True)
        procs.append(child)
        ready = json.loads(read_line(child, CHILD_READY, 60.0))
        before = {p.popen.pid: proc_cpu_s(p.popen.pid) for p in procs}
        wall0 = time.perf_counter()
        result = json.loads(read_line(child, CHILD_RESULT, seconds + 30.0))
        wall = time.perf_counter() - wall0
        after = {p.popen.pid: proc_cpu_s(p.popen.pid) for p in procs if p is not child}
        after[child.popen.pid] = result["proc_cpu_s_at_end"]
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.popen.wait(10.0)  # let the workstation shut down by itself
    finally:
        stop_procs(procs)
    per_role: dict[str, float] = {}
    for p in procs:
        pct = (after[p.popen.pid] - before[p.popen.pid]) / wall * 100.0
        per_role[p.role] = per_role.get(p.role, 0.0) + pct
    ws_pct = result["cpu_pct"]
    return {
        "channels": channels, "buses": len(config.buses), "seconds": seconds,
        "setup": ready,
        "workstation_cpu_pct": round(ws_pct, 2),
        "workstation_cpu_pct_proc_stat": round(per_role["workstation"], 2),
        "workstation_cpu_ms_per_channel_s": round(ws_pct * 10.0 / channels, 3),
        "workstation": result,
        "pumps_cpu_pct": round(per_role["pumps"], 2),
        "hubs_cpu_pct": round(per_role["hub"], 2),
        "goal_pct": CPU_GOAL_PCT if channels == CPU_GOAL_CHANNELS else None,
        "goal_met": ws_pct < CPU_GOAL_PCT if channels == CPU_GOAL_CHANNELS else None,
    }


async def child_main(channels: int, hubs: list[str], seconds: float, event_log: Path) -> int:
    """The workstation alone in this process, on the hubs' buses: program every channel,
    report READY, then measure this process's CPU over ``seconds`` and report RESULT."""
    config = demo_config(channels, event_log=event_log)
    if len(hubs) != len(config.buses):
        raise SystemExit(f"--hubs: {len(config.buses)} needed for {channels} channels")
    buses = [b.model_copy(update={"interface": "remote", "channel": url})
             for b, url in zip(config.buses, hubs, strict=True)]
    config = config.model_copy(update={"buses": buses})
    async with Workstation(config, event_log_path=event_log) as ws:
        sup = ws.supervisor
        controllers = list(sup.controllers.values())
        await wait_until(lambda: all(c.online for c in controllers), 15.0, "modules online",
                         0.05)
        t = time.perf_counter()
        problems = await start_demo_infusions(ws)
        program_s = time.perf_counter() - t
        with contextlib.suppress(TimeoutError):
            await wait_until(lambda: all(c.infusing for c in controllers), 5.0,
                             "channels infusing", 0.05)
        await asyncio.sleep(0.5)  # settle: the last acknowledgements, state logs
        print(CHILD_READY + json.dumps({
            "online": sum(c.online for c in controllers),
            "infusing": sum(c.infusing for c in controllers),
            "problems": problems, "program_all_s": round(program_s, 2)}), flush=True)

        links = list(sup.links.values())
        rx0 = sum(link.stats.rx.accepted for link in links)
        tx0 = sum(link.stats.tx.frames for link in links)
        err0 = sum(link.stats.rx.rejected for link in links)
        events0 = sup.event_log.last_id()
        lags: list[float] = []
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        wall0 = time.perf_counter()
        end = wall0 + seconds
        while True:  # also samples the event loop's lateness, 10 times a second
            left = end - time.perf_counter()
            if left <= 0:
                break
            step = min(0.1, left)
            t = time.perf_counter()
            await asyncio.sleep(step)
            lags.append(time.perf_counter() - t - step)
        wall = time.perf_counter() - wall0
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        rx = sum(link.stats.rx.accepted for link in links) - rx0
        print(CHILD_RESULT + json.dumps({
            "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "cpu_pct": cpu / wall * 100.0,
            "user_s": round(ru1.ru_utime - ru0.ru_utime, 3),
            "system_s": round(ru1.ru_stime - ru0.ru_stime, 3),
            "rx_frames_per_s": round(rx / wall, 1),
            "tx_frames_per_s": round((sum(link.stats.tx.frames for link in links) - tx0)
                                     / wall, 1),
            "rx_rejected": sum(link.stats.rx.rejected for link in links) - err0,
            "cpu_us_per_rx_frame": round(cpu / rx * 1e6, 1) if rx else None,
            "events_logged": sup.event_log.last_id() - events0,
            "infusing_at_end": sum(c.infusing for c in controllers),
            "alarms_at_end": [f"{a.key}" for a in ws.active_alarms()],
            "loop_lag_ms": summary_ms(lags),
            "proc_cpu_s_at_end": proc_cpu_s(os.getpid()),
        }), flush=True)
    return 0


def print_cpu(results: list[dict[str, Any]]) -> None:
    """Part 3's table, one row per size, from its results (as written to the JSON)."""
    print("\n3. CPU of a headless workstation (own process; pumps and hubs in others), "
          "all channels infusing, speed 1")
    print(f"   {'channels':>8} {'buses':>5} {'ws % core':>9} {'(/proc)':>8} {'rx fr/s':>8} "
          f"{'us/frame':>8} {'lag p99':>8} {'pumps %':>8} {'hubs %':>7} {'infusing':>8} "
          f"{'goal':>7}")
    for r in results:
        w = r["workstation"]
        print(f"   {r['channels']:>8} {r['buses']:>5} {r['workstation_cpu_pct']:>9.1f} "
              f"{r['workstation_cpu_pct_proc_stat']:>8.1f} {w['rx_frames_per_s']:>8.0f} "
              f"{w['cpu_us_per_rx_frame'] or 0:>8.0f} {w['loop_lag_ms'].get('p99', 0):>7.1f}ms "
              f"{r['pumps_cpu_pct']:>8.1f} {r['hubs_cpu_pct']:>7.1f} "
              f"{w['infusing_at_end']:>4}/{r['channels']:<3} {yes(r['goal_met']):>7}")
        if r["setup"]["problems"] or w["alarms_at_end"]:
            print(f"   {'':8} problems {r['setup']['problems']}, alarms {w['alarms_at_end']}")
    print(f"   goal: {CPU_GOAL_CHANNELS} channels < {CPU_GOAL_PCT:g} % of one core "
          "(utime+stime / wall of the workstation process; '/proc' is the same from outside)")
