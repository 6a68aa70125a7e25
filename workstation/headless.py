"""Headless operation: a status line per channel every few seconds, every alarm as it happens."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable
from typing import TextIO

from workstation.alarms import ChangeKind
from workstation.api import Workstation
from workstation.supervisor import Notice

SHOWN_CHANGES = {ChangeKind.RAISED, ChangeKind.ESCALATED, ChangeKind.ACKNOWLEDGED,
                 ChangeKind.CONDITION_CLEARED, ChangeKind.REMOVED}


def _clock() -> str:
    return time.strftime("%H:%M:%S")


def alarm_printer(out: TextIO) -> Callable[[Notice], None]:
    def on_notice(notice: Notice) -> None:
        for change in notice.alarm_changes:
            a = change.alarm
            if a is None:
                print(f"{_clock()} audio {change.kind.value.replace('_', ' ')}", file=out,
                      flush=True)
            elif change.kind in SHOWN_CHANGES:
                print(f"{_clock()} {a.priority.marker or '-':<3} {a.key.source}: {a.text} "
                      f"[{change.kind.value.replace('_', ' ')}]", file=out, flush=True)
    return on_notice


def print_status(ws: Workstation, out: TextIO) -> None:
    ind = ws.indicator()
    alarm = f"{ind.priority.marker} {ind.text} (+{ind.total - 1} more)" if ind.priority \
        is not None else "no alarms"
    audio = f"audio {ind.audio.value}" + (f" {ind.pause_left_s:.0f} s" if ind.pause_left_s
                                          else "")
    print(f"--- {_clock()} {ws.config.name} bed {ws.config.bed} | {alarm} | {audio}", file=out)
    for snap in ws.channels():
        print(snap.status_line(), file=out)
    monitor = ws.supervisor.bus_monitor  # B8: the bus's own figures, after the channels
    for bus in monitor.health:
        print(f"   bus {bus}: {monitor.line(bus)}", file=out)
    out.flush()


async def run_headless(ws: Workstation, stop: asyncio.Event, *, duration: float | None = None,
                       status_every_s: float = 5.0, out: TextIO = sys.stdout) -> None:
    """Print until ``stop`` is set or ``duration`` seconds have passed."""
    ws.subscribe(alarm_printer(out))
    loop = asyncio.get_running_loop()
    end = loop.time() + duration if duration else None
    while not stop.is_set():
        print_status(ws, out)
        wait = status_every_s if end is None else min(status_every_s, end - loop.time())
        if wait <= 0:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
    print_status(ws, out)
