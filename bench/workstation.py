"""Workstation benchmarks: receive path, alarm latency, CPU of a headless workstation.

    python bench/workstation.py [--quick] [--only receive|alarm|cpu] [--profile] [--output PATH]

Prints a table per measurement with its goal and writes ``bench/results/workstation.json``
(figures, versions, machine, timestamp); ``--only`` updates just those parts of it. Timings are
reported, never asserted. Just under 5 minutes by default, 1.5 with ``--quick``: most is the
alarm trials (each waits for the module's ticks and its 250 ms Status) and part 3's windows.

1. Receive path, frames/s on one core: a ``Workstation`` (``Supervisor``) with
   ``demo_config(8)`` and an open event log in a temporary folder adopts eight infusing modules
   (heartbeat, read-back of the running program), then takes a pre-encoded stream of what those
   modules send (Status, Delivery, Progress every 250 ms, Heartbeat, Power and Syringe every
   second, consecutive alive counters) through ``CanLink._receive`` called in the event loop's
   thread, the call the Notifier makes: decode, E2E check, dispatch, controller update, delivery
   supervision, alarms, listeners. The same stream is then sent through a python-can ``virtual``
   bus by a sender thread (virtual bus -> Notifier thread -> ``call_soon_threadsafe`` -> link),
   flat out and paced at the goal rate. Goal: >= 2 x a saturated 1 Mbit/s classical CAN bus,
   2 x 9,009 = 18,018 frames/s (111-bit frames, see ``bench/codec.py``).
2. Alarm latency: ``demo_workstation(channels=2, speed=1)``, an infusion running on the
   volumetric channel A; each trial opens the module's door (``Fault.DOOR``) at a random moment
   and times until the supervisor's listeners get the RAISED change of (A, DOOR_OPEN); then the
   door closes, the latched alarm is acknowledged and the infusion restarted. The module
   evaluates conditions on its rack tick (0.05 s), so the figure is repeated with racks ticking
   every 5 ms. A probe on the rack's link splits each latency into the condition delay (door
   opened -> the module sends its Alarm frame) and the workstation path (frame sent -> bus ->
   decode -> controller -> alarm system -> event log -> listener). Goal: p99 < 20 ms.
3. CPU of a headless workstation with 8, 32 and 64 channels, all infusing (``start_demo_infusions``,
   speed 1): the simulated pumps run in their own processes (``icu-ws pump``), one per bus, on
   python-can-remote hubs on 127.0.0.1 (one hub per bus), and the workstation runs in a child
   process (``--child``), so its CPU time is its own. utime + stime over the window / wall.
   Goal: 64 channels under 25 % of one core. The pumps' and hubs' CPU is reported for
   information.

Each part is its own module: ``bench/ws_receive.py`` (with its traffic in
``bench/ws_traffic.py``), ``bench/ws_alarm.py`` and ``bench/ws_cpu.py``; the timing and
statistics helpers are ``bench/timing.py``. This file is the command line and the results file.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# This file is named like the ``workstation`` package: the repository goes first on the import
# path however the script is started (python bench/..., -m cProfile, ...), and bench.harness
# takes bench/ off it. The parts are imported from the repository as ``bench.ws_*``.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness import environment, parser, read_results, write_results
from bench.ws_alarm import bench_alarm, print_alarm
from bench.ws_cpu import child_main, print_cpu, run_cpu
from bench.ws_receive import bench_receive, print_receive


@dataclass(frozen=True)
class Plan:
    """How long each part runs."""

    rx_seconds: float  # direct receive path: total over the slices
    rx_virtual_frames: int  # frames sent flat out through the virtual bus
    rx_paced_s: float  # seconds of traffic offered at the goal rate through the virtual bus
    alarm_trials: int
    alarm_trials_fast_tick: int
    cpu_channels: tuple[int, ...]
    cpu_seconds: float


FULL = Plan(rx_seconds=6.0, rx_virtual_frames=40_000, rx_paced_s=2.0, alarm_trials=1000,
            alarm_trials_fast_tick=1000, cpu_channels=(8, 32, 64), cpu_seconds=20.0)
QUICK = Plan(rx_seconds=2.5, rx_virtual_frames=15_000, rx_paced_s=1.0, alarm_trials=200,
             alarm_trials_fast_tick=200, cpu_channels=(8, 32, 64), cpu_seconds=8.0)


def main(argv: list[str] | None = None) -> int:
    cli = parser(__doc__, "workstation")
    cli.add_argument("--quick", action="store_true", help="short run (under a minute)")
    cli.add_argument("--profile", action="store_true",
                     help="also cProfile the receive path and print its top entries")
    cli.add_argument("--only", choices=["receive", "alarm", "cpu"], action="append",
                     help="run only these parts (repeatable); results file is still written")
    # The workstation process of part 3 (internal).
    cli.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    cli.add_argument("--channels", type=int, default=8, help=argparse.SUPPRESS)
    cli.add_argument("--hubs", default="", help=argparse.SUPPRESS)
    cli.add_argument("--seconds", type=float, default=20.0, help=argparse.SUPPRESS)
    cli.add_argument("--event-log", type=Path, default=None, help=argparse.SUPPRESS)
    args = cli.parse_args(argv)
    if args.child:
        log = args.event_log or Path(tempfile.mkdtemp(prefix="ws-bench-")) / "events.db"
        return asyncio.run(child_main(args.channels, args.hubs.split(","), args.seconds, log))

    plan = QUICK if args.quick else FULL
    parts = set(args.only or ["receive", "alarm", "cpu"])
    # --only: update those parts of the last results.
    report: dict[str, Any] = read_results(args.output) if args.only else {}
    report.update({**environment("python-can", "python-can-remote", "cantools", "pydantic"),
                   "quick": args.quick, "plan": plan.__dict__, "parts_run": sorted(parts)})
    started = time.perf_counter()
    print(f"workstation bench{' (quick)' if args.quick else ''}: Python {report['python']}, "
          f"python-can {report['python_can']}, cantools {report['cantools']}, pydantic "
          f"{report['pydantic']}, {report['cpu_count']} CPUs")
    with tempfile.TemporaryDirectory(prefix="ws-bench-") as tmp:
        folder = Path(tmp)
        if "receive" in parts:
            report["receive"] = asyncio.run(bench_receive(
                folder, seconds=plan.rx_seconds, virtual_frames=plan.rx_virtual_frames,
                paced_s=plan.rx_paced_s, profile=args.profile))
            print_receive(report["receive"])
        if "alarm" in parts:
            async def alarms() -> list[dict[str, Any]]:
                return [await bench_alarm(plan.alarm_trials, None, folder),
                        await bench_alarm(plan.alarm_trials_fast_tick, 0.005, folder)]
            report["alarm_latency"] = asyncio.run(alarms())
            print_alarm(report["alarm_latency"])
        if "cpu" in parts:
            report["cpu"] = [run_cpu(n, plan.cpu_seconds, folder) for n in plan.cpu_channels]
            print_cpu(report["cpu"])
    report["wall_s"] = round(time.perf_counter() - started, 1)
    write_results(args.output, report, before=f"\n{report['wall_s']:.0f} s; ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
