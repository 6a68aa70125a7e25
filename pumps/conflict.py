"""Another sender on a module's own identifiers: a duplicate node or an attacker (issue 10, B4).

Only this module sends its Status, Delivery, Alarm, Ack, Heartbeat... identifiers, and a CAN
controller does not receive its own frames. A frame on one of them from the bus therefore comes
from someone else. Pure: the rack reports each such frame with the bus clock, the firmware asks
whether the conflict is still on. It ends once no foreign frame came for ``hold_s`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["ConflictWatch"]

CONFLICT_HOLD_S = 3.0  # three heartbeat periods of a duplicate node without a frame


@dataclass
class ConflictWatch:
    """Foreign frames on the module's own identifiers, by identifier."""

    hold_s: float = CONFLICT_HOLD_S
    started_s: float | None = None  # when the current conflict began (None: no conflict)
    last_s: float | None = None
    by_id: dict[int, int] = field(default_factory=dict)  # identifier -> foreign frames seen
    total: int = 0

    def foreign(self, arbitration_id: int, now: float) -> bool:
        """One foreign frame on ``arbitration_id``; True if it starts a conflict."""
        starts = not self.active(now)
        if starts:
            self.started_s = now
        self.last_s = now
        self.by_id[arbitration_id] = self.by_id.get(arbitration_id, 0) + 1
        self.total += 1
        return starts

    def active(self, now: float) -> bool:
        return self.last_s is not None and now - self.last_s < self.hold_s

    def ended(self, now: float) -> bool:
        """True once, at the first call after the conflict has been quiet for ``hold_s``."""
        if self.started_s is None or self.active(now):
            return False
        self.started_s = None
        return True

    def describe(self) -> str:
        ids = ", ".join(f"0x{i:03X}: {n}" for i, n in sorted(self.by_id.items()))
        return f"{self.total} foreign frames on own identifiers ({ids})"
