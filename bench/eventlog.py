"""Bench the event log's ``record()``: events/s and per-call latency, synchronous FULL vs NORMAL.

Run from the repository root: ``python bench/eventlog.py [EVENTS] [DIR] [--output PATH]``.
Each mode records EVENTS (default 2,000) typical events into a fresh log in a temporary folder
(or under DIR, to measure a given disk: the figures are mostly the disk's fsync time). Prints and
writes ``bench/results/eventlog.json``.
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository, for bench.*

from bench.harness import environment, parser, write_results
from channels.events import Event, EventKind
from workstation.eventlog import EventLog

MODES: tuple[Literal["FULL", "NORMAL"], ...] = ("FULL", "NORMAL")


def sample_event(i: int) -> Event:
    """Like the supervisor's: a state report with a handful of values, an alarm now and then."""
    kind = EventKind.ALARM if i % 50 == 0 else EventKind.STATE
    return Event(kind, f"channel A state report {i}", channel="ABCD"[i % 4], user=None,
                 data={"rate_ml_h": 2.5, "vtbi_ml": 50.0, "infused_ml": i * 0.01,
                       "pressure_mmhg": 120 + i % 7, "state": "RUNNING"})


def bench(mode: Literal["FULL", "NORMAL"], count: int, folder: Path) -> dict[str, Any]:
    path = folder / f"bench-{mode.lower()}.db"
    latencies: list[float] = []
    with EventLog(path, synchronous=mode) as log:
        log.record(Event(EventKind.SYSTEM, "warm-up"))
        start = time.perf_counter()
        for i in range(count):
            t = time.perf_counter()
            log.record(sample_event(i))
            latencies.append(time.perf_counter() - t)
        total = time.perf_counter() - start
        assert log.stats.errors == 0 and log.last_id() == count + 1
    latencies.sort()
    ms = [x * 1000.0 for x in latencies]
    return {
        "events": count,
        "seconds": round(total, 4),
        "events_per_s": round(count / total, 1),
        "latency_ms": {
            "p50": round(statistics.median(ms), 4),
            "p99": round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 4),
            "max": round(ms[-1], 4),
        },
        "db_bytes": path.stat().st_size,
    }


def main() -> None:
    cli = parser(__doc__, "eventlog")
    cli.add_argument("events", type=int, nargs="?", default=2000, help="per mode (default 2000)")
    cli.add_argument("dir", type=Path, nargs="?", help="where the logs go (default: a temporary "
                     "folder)")
    args = cli.parse_args()
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="eventlog-bench-") as tmp:
        results: dict[str, Any] = {mode: bench(mode, args.events, Path(tmp)) for mode in MODES}
        results["environment"] = {**environment(), "sqlite": sqlite3.sqlite_version,
                                  "folder": str(Path(tmp).parent)}
    for mode in MODES:
        r = results[mode]
        lat = r["latency_ms"]
        print(f"synchronous={mode:<6} {r['events_per_s']:>9,.0f} events/s   "
              f"p50 {lat['p50']:.3f} ms   p99 {lat['p99']:.3f} ms   max {lat['max']:.3f} ms")
    write_results(args.output, results)


if __name__ == "__main__":
    main()
