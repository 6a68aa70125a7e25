"""Timing and statistics helpers shared by the bench scripts (and a table's verdict word).

One copy, so that scripts which report the same kind of figure compute it the same way: a
frames/s rate as the median of timed slices (``bench/codec.py``, the workstation's receive
path), a latency summary in ms, a process's CPU seconds from ``/proc/PID/stat``. Scripts whose
statistics are defined differently keep their own (``transport.py`` interpolates with
``statistics.quantiles``, ``monitor_capacity.py`` takes index ``int(q * (n - 1))``,
``telemetry_latency.py`` takes rank ``ceil(q * n)``): merging them would change their figures.

Imported as ``bench.timing``, with the repository on ``sys.path`` (every script puts it first).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from collections.abc import Callable, Iterable
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


# -- statistics -----------------------------------------------------------------------------------
def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list.

    The rank is ``round(q / 100 * n + 0.5)``: Python's round-half-to-even makes it one higher
    than ``ceil(q / 100 * n)`` where ``q / 100 * n`` is an odd whole number. Kept as it is so
    that ``bench/results/workstation.json`` stays comparable with earlier runs."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q / 100.0 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def summary_ms(seconds: Iterable[float]) -> dict[str, float]:
    """n, min, p50, p90, p99, max and mean in ms (3 decimals) of durations in seconds; only
    ``n`` when there are none, so a report can tell "nothing measured" from a zero."""
    ms = sorted(s * 1000.0 for s in seconds)
    if not ms:
        return {"n": 0}
    return {"n": len(ms), "min": round(ms[0], 3), "p50": round(percentile(ms, 50), 3),
            "p90": round(percentile(ms, 90), 3), "p99": round(percentile(ms, 99), 3),
            "max": round(ms[-1], 3), "mean": round(statistics.fmean(ms), 3)}


# -- throughput -----------------------------------------------------------------------------------
def slice_rate(batch: Callable[[], int], seconds: float) -> float:
    """Items per second of ``batch`` (which returns how many it did) called back to back for
    ``seconds``. The clock is read once per batch, not per item, so a batch should take well
    under the slice: its own cost then dominates what is measured."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        done += batch()
        now = time.perf_counter()
        if now >= deadline:
            break
    return done / (now - start)


def rate_summary(rates: list[float]) -> dict[str, float]:
    """The median slice rate as the figure, best and worst beside it: the median shrugs off a
    slice hit by a timer, a garbage collection or another process, the spread shows them."""
    return {"frames_per_s": statistics.median(rates), "best": max(rates), "worst": min(rates)}


def pin_to_one_cpu() -> tuple[set[int] | None, int | None]:
    """Pin this process to its lowest allowed CPU, so a single-core figure is one core's.

    Returns the affinity before (to restore with ``os.sched_setaffinity``) and the CPU; both
    None where the OS has no affinity call."""
    if not hasattr(os, "sched_setaffinity"):
        return None, None
    before = os.sched_getaffinity(0)
    cpu = min(before)
    os.sched_setaffinity(0, {cpu})
    return before, cpu


# -- processes ------------------------------------------------------------------------------------
def proc_cpu_s(pid: int) -> float:
    """utime + stime of a process (all its threads), from /proc/PID/stat: readable from outside
    the process, so a bench can measure children it did not write."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()  # after "pid (comm) ": state is fields[0]
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat(5)


# -- waiting --------------------------------------------------------------------------------------
async def wait_until(predicate: Callable[[], bool], timeout: float, what: str,
                     poll_s: float = 0.002) -> None:
    """Poll ``predicate`` in the event loop until it holds; TimeoutError naming ``what`` if it
    does not within ``timeout``. Polling, because the states benches wait for (online,
    infusing, connected) are attributes, not events."""
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:g} s")
        await asyncio.sleep(poll_s)


# -- report ---------------------------------------------------------------------------------------
def yes(met: bool | None) -> str:
    """A goal's verdict for a table: "-" where a row has no goal."""
    return "-" if met is None else ("met" if met else "MISSED")
