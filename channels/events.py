"""What a channel reports happened: the event records the workstation's event log stores.

Defined here, beside the controllers that make most of them, so the per-channel logic needs
nothing of the workstation; ``workstation.eventlog`` stores and reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

__all__ = ["Event", "EventKind", "LogRow", "kind_text"]


class EventKind(StrEnum):
    PROGRAM = "program"
    CONFIRMATION = "confirmation"
    OVERRIDE = "override"
    COMMAND = "command"
    ACK = "ack"
    STATE = "state"
    MODULE = "module"
    ALARM = "alarm"
    USER = "user"
    SYSTEM = "system"
    BUS = "bus"


@dataclass(frozen=True)
class Event:
    """What happened. ``data`` values should be JSON-serialisable; others are stored as str()."""

    kind: EventKind
    message: str
    channel: str | None = None
    user: str | None = None
    data: Mapping[str, object] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class LogRow:
    id: int
    wall_time: datetime  # aware, UTC
    monotonic: float
    kind: EventKind
    channel: str | None
    user: str | None
    message: str
    data: dict[str, object]


def kind_text(row: LogRow) -> str:
    """The kind, and for an alarm its priority: 'alarm HIGH'."""
    priority = row.data.get("priority") if row.kind is EventKind.ALARM else None
    return f"{row.kind.value} {priority}" if isinstance(priority, str) else row.kind.value
