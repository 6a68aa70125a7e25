"""Per-channel fault isolation bookkeeping: when a channel's software failure is logged and
when its CHANNEL_FAULT condition is over. Pure: inputs are the failure and the time.

A controller that raises on every tick (10 Hz) must raise one alarm and a few log entries,
not a flood; and a fault that stopped recurring clears its condition (the alarm latches
until acknowledged, so the nurse still learns of it).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass

FAULT_QUIET_S = 10.0  # no failure on a channel for this long: its CHANNEL_FAULT condition ends
FAULT_LOG_EVERY_S = 60.0  # the same failure is logged again at most this often


@dataclass
class _Fault:
    signature: str
    last_at: float
    logged_at: float
    count: int = 1


def describe(exc: BaseException) -> str:
    """``RuntimeError: message`` (the exception's own text, or its type alone)."""
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def summary(exc: BaseException, limit: int = 6) -> list[str]:
    """The last frames of the traceback and the exception, one line each, for the log."""
    frames = traceback.extract_tb(exc.__traceback__)[-limit:]
    lines = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno} in {f.name}" for f in frames]
    return [*lines, describe(exc)]


class ChannelFaults:
    def __init__(self) -> None:
        self._faults: dict[str, _Fault] = {}

    def failed(self, letter: str, where: str, exc: BaseException, now: float) -> bool:
        """Note a failure; True if it should be logged (new, different, or not logged for
        ``FAULT_LOG_EVERY_S``)."""
        signature = f"{where}: {describe(exc)}"
        fault = self._faults.get(letter)
        if fault is None or fault.signature != signature or \
                now - fault.logged_at >= FAULT_LOG_EVERY_S:
            self._faults[letter] = _Fault(signature, now, now,
                                          1 if fault is None else fault.count + 1)
            return True
        fault.last_at, fault.count = now, fault.count + 1
        return False

    def quiet(self, now: float) -> list[str]:
        """Channels whose faults stopped ``FAULT_QUIET_S`` ago: their condition is over."""
        over = [letter for letter, f in self._faults.items() if now - f.last_at >= FAULT_QUIET_S]
        for letter in over:
            del self._faults[letter]
        return over

    def count_all(self) -> int:
        return sum(f.count for f in self._faults.values())

    def count(self, letter: str) -> int:
        fault = self._faults.get(letter)
        return 0 if fault is None else fault.count
