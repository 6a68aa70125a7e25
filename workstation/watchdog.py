"""Watched background tasks: a task that dies is reported and restarted, with back-off.

A supervisor's tick or heartbeat task that dies silently stops retries, lost-module detection
and alarm re-arming on every channel (H6). ``watched`` runs the task's coroutine again after
each failure (or unexpected return), waiting ``backoff_s`` doubling up to ``max_backoff_s``;
``on_failure`` is told at once, ``on_recovered`` once the restarted task has run ``stable_s``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

Run = Callable[[], Coroutine[Any, Any, None]]


async def watched(name: str, run: Run, *,
                  on_failure: Callable[[str, BaseException | None], None],
                  on_recovered: Callable[[str], None], backoff_s: float = 0.5,
                  max_backoff_s: float = 10.0, stable_s: float = 10.0) -> None:
    """Run ``run()`` for ever (until cancelled), restarting it whenever it ends."""
    delay, failing = backoff_s, False
    while True:
        task = asyncio.create_task(run(), name=name)
        try:
            if failing:
                done, _ = await asyncio.wait({task}, timeout=stable_s)
                if not done:
                    failing, delay = False, backoff_s
                    on_recovered(name)
            await asyncio.wait({task})
        except asyncio.CancelledError:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise
        # Ended on its own: an exception, or (as bad for a forever task) a plain return.
        error = None if task.cancelled() else task.exception()
        failing = True
        on_failure(name, error)
        await asyncio.sleep(delay)
        delay = min(delay * 2, max_backoff_s)
