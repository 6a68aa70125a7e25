"""The records the monitor's model keeps and hands out: workstations and alarm rows."""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime

from workstation.telemetry.payloads import AlarmInfo, ObservationPayload, StatusPayload

RANK = {"HIGH": 3, "MEDIUM": 2, "LOW": 1, "INFO": 0}
MARKER = {"HIGH": "***", "MEDIUM": "**", "LOW": "*", "INFO": "i"}
_NUMBERS = re.compile(r"\d+|\D+")


def ws_key(unit: str, bed: str, workstation: str) -> str:
    return f"ws:{unit}/{bed}/{workstation}"


@dataclass(eq=False)
class WorkstationState:
    """One workstation as last heard. Owned by the model: read it, do not change it."""

    key: str
    unit: str
    bed: str
    workstation: str
    first_heard: float
    last_heard: float = 0.0
    status: StatusPayload | None = None
    state: str = "unknown"  # online / offline / unknown (no status yet)
    state_since: float = 0.0  # receive time: a last will's own ``time`` is its connect time
    channels: dict[str, ObservationPayload] = field(default_factory=dict)
    alarms: dict[str, AlarmInfo] = field(default_factory=dict)  # by ref
    list_time: datetime | None = None  # ``time`` of the last alarms/active applied
    audio: str | None = None
    last_seq: int = 0
    seq_gaps: int = 0  # events/alarm messages never received (from ``seq``)
    messages: int = 0

    @property
    def offline(self) -> bool:
        return self.state == "offline"

    def sorted_channels(self) -> list[ObservationPayload]:
        # A before Z before AA: shorter letters first, like the nurse's screen.
        return [self.channels[k] for k in sorted(self.channels, key=lambda c: (len(c), c))]


@dataclass(frozen=True)
class AlarmRow:
    """One active alarm of one workstation, as the central list shows it."""

    ws_key: str
    unit: str
    bed: str
    workstation: str
    source: str  # channel letter or WS
    channel: str | None
    priority: str
    text: str
    raised_at: float  # epoch seconds
    acknowledged: bool
    active: bool
    latching: bool
    ref: str
    age_s: float = 0.0
    ws_condition: str = "ONLINE"  # ONLINE / STALE / OFFLINE: the row may be out of date

    @property
    def marker(self) -> str:
        return MARKER.get(self.priority, "?")

    @classmethod
    def of(cls, ws: WorkstationState, a: AlarmInfo) -> AlarmRow:
        return cls(ws.key, ws.unit, ws.bed, ws.workstation, a.source, a.channel, a.priority,
                   a.text, a.raised_at.timestamp(), a.acknowledged, a.active, a.latching, a.ref)


class IdWindow:
    """The last ``size`` message ids seen: O(1) lookup, the oldest forgotten first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def seen(self, message_id: str) -> bool:
        """True when already seen; otherwise remembers it."""
        if message_id in self._ids:
            return True
        self._ids[message_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return False

    def __len__(self) -> int:
        return len(self._ids)


def natural(text: str) -> tuple[tuple[int, int | str], ...]:
    """bed-2 before bed-10."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _NUMBERS.findall(text))
