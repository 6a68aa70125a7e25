"""When the telemetry link deserves an alarm at the bedside: pure decisions, clock passed in.

The central station no longer seeing this bedside is a distributed-alarm-system failure
(IEC 60601-1-8): the nurse must know. A short reconnect is not worth an alarm; a link down for
``link_lost_after_s`` is MEDIUM, undelivered messages older than ``backlog_after_s`` are LOW, and
messages dropped from a full outbox are MEDIUM until the backlog is delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum, auto

LINK_LOST = "TELEMETRY_LINK_LOST"
BACKLOG = "TELEMETRY_BACKLOG"
DROPPING = "TELEMETRY_DROPPING"


class Action(Enum):
    RAISE = auto()
    CLEAR = auto()


@dataclass(frozen=True)
class Decision:
    action: Action
    condition: str
    detail: str = ""


@dataclass
class TelemetryHealth:
    link_lost_after_s: float
    backlog_after_s: float
    down_since: float | None = None  # None while connected
    _raised: set[str] = field(default_factory=set, init=False)

    def started(self, now: float) -> None:
        """Not connected yet: the link-lost delay runs from the start."""
        self.down_since = now

    def update(self, now: float, *, connected: bool, backlog: int,
               oldest_age_s: float | None, dropped: int, broker: str) -> list[Decision]:
        """``dropped``: messages lost since the last update (0 normally)."""
        if connected:
            self.down_since = None
        elif self.down_since is None:
            self.down_since = now
        out: list[Decision] = []
        down_for = None if self.down_since is None else now - self.down_since
        self._want(out, LINK_LOST, down_for is not None and down_for >= self.link_lost_after_s,
                   f"no broker at {broker} for {down_for or 0:.0f} s")
        late = oldest_age_s is not None and oldest_age_s >= self.backlog_after_s
        self._want(out, BACKLOG, late if backlog else False,
                   f"{backlog} messages waiting, oldest {oldest_age_s or 0:.0f} s")
        if dropped:
            self._raised.discard(DROPPING)  # say it again with the new count
        self._want(out, DROPPING, bool(dropped) or (DROPPING in self._raised and backlog > 0),
                   f"{dropped} oldest messages dropped: outbox full")
        return out

    def _want(self, out: list[Decision], condition: str, on: bool, detail: str) -> None:
        if on and condition not in self._raised:
            self._raised.add(condition)
            out.append(Decision(Action.RAISE, condition, detail))
        elif not on and condition in self._raised:
            self._raised.discard(condition)
            out.append(Decision(Action.CLEAR, condition))

    @property
    def active(self) -> frozenset[str]:
        return frozenset(self._raised)
