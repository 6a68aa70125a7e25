"""H6: a background task that dies is reported at once and restarted, with back-off."""

from __future__ import annotations

import asyncio

from dbc.shutdown import cancel_and_wait
from workstation.watchdog import watched


async def until(predicate: object, what: str, timeout: float = 5.0) -> None:
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, f"timed out waiting for: {what}"
        await asyncio.sleep(0.005)


async def test_a_dying_task_is_reported_restarted_and_recovers() -> None:
    runs: list[int] = []
    failures: list[tuple[str, str]] = []
    recovered: list[str] = []
    forever = asyncio.Event()

    async def tick() -> None:
        runs.append(len(runs))
        if len(runs) <= 2:
            raise RuntimeError(f"bug in run {len(runs)}")
        if len(runs) == 3:
            return  # a forever task that returns has died as well
        await forever.wait()

    task = asyncio.create_task(watched(
        "tick", tick, on_failure=lambda name, exc: failures.append((name, repr(exc))),
        on_recovered=recovered.append, backoff_s=0.01, max_backoff_s=0.02, stable_s=0.05))
    try:
        await until(lambda: recovered, "the fourth run stays up")
        assert failures == [("tick", "RuntimeError('bug in run 1')"),
                            ("tick", "RuntimeError('bug in run 2')"), ("tick", "None")]
        assert recovered == ["tick"] and len(runs) == 4
    finally:
        await cancel_and_wait([task])
    assert task.cancelled()


async def test_cancelling_the_watcher_cancels_the_task() -> None:
    started, stopped = asyncio.Event(), asyncio.Event()

    async def loop() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.set()

    task = asyncio.create_task(watched("loop", loop, on_failure=lambda *_: None,
                                       on_recovered=lambda _: None))
    await started.wait()
    await cancel_and_wait([task])
    assert stopped.is_set()
