"""An asyncio event loop whose clock is module time: waiting advances the simulation.

The public ``Workstation`` API is async: it sends, then awaits acknowledgements with timeouts.
Run on this loop, every wait (``asyncio.wait_for``, ``asyncio.sleep``) steps the coupled
simulation instead of sleeping, so the real API code runs unchanged, without a bus and without
wall-clock time. Steps stop as soon as a callback became ready (an acknowledgement arrived).
"""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Callable
from typing import Any


class _SimSelector(selectors.DefaultSelector):
    """Select never blocks: the time it would wait is spent stepping the simulation."""

    def __init__(self, advance: Callable[[float | None], None]) -> None:
        super().__init__()
        self._advance = advance

    def select(self, timeout: float | None = None) -> list[tuple[Any, int]]:
        if timeout is None or timeout > 0:
            self._advance(timeout)
        result: list[tuple[Any, int]] = super().select(0)
        return result


class SimLoop(asyncio.SelectorEventLoop):
    """``time()`` is ``clock()``; a blocking wait calls ``step()`` until something is ready or
    the wait's timeout has passed in module time."""

    def __init__(self, clock: Callable[[], float], step: Callable[[], None],
                 quantum_s: float) -> None:
        self._clock = clock
        self._step = step
        self._quantum_s = quantum_s
        super().__init__(_SimSelector(self._advance))

    def time(self) -> float:
        return self._clock()

    def _advance(self, timeout: float | None) -> None:
        start = self._clock()
        budget = self._quantum_s if timeout is None else timeout
        while True:
            self._step()
            if self._ready or self._clock() - start >= budget - 1e-9:  # type: ignore[attr-defined]
                return
