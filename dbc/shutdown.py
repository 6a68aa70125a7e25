"""Ending cleanly: a command on SIGINT/SIGTERM, and the background tasks of a component."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterable

__all__ = ["cancel_and_wait", "stop_on_signals"]


def stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, so a command can stop cleanly instead of dying."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def cancel_and_wait(tasks: Iterable[asyncio.Task[None] | None]) -> None:
    """Cancel every task, then wait for each to finish unwinding (its ``finally`` blocks and
    ``async with`` exits run before the caller closes what they use)."""
    running = [task for task in tasks if task is not None]
    for task in running:
        task.cancel()
    for task in running:
        with contextlib.suppress(asyncio.CancelledError):
            await task
