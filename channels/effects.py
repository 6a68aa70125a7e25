"""What a controller decision asks the supervisor to do: frames to send, alarms, log entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.commands import Completion
from workstation.alarm_catalog import ConditionInfo, condition_info
from workstation.eventlog import Event, EventKind
from workstation.frames import Frame


@dataclass(frozen=True)
class AlarmRaise:
    info: ConditionInfo
    detail: str = ""


@dataclass
class Effects:
    channel: str
    frames: list[Frame] = field(default_factory=list)
    raises: list[AlarmRaise] = field(default_factory=list)
    clears: list[str] = field(default_factory=list)  # conditions gone
    events: list[Event] = field(default_factory=list)
    completions: list[Completion] = field(default_factory=list)

    def log(self, kind: EventKind, message: str, *, user: str | None = None,
            **data: object) -> None:
        self.events.append(Event(kind, f"{self.channel}: {message}", channel=self.channel,
                                 user=user, data=data))

    def alarm(self, condition: str, detail: str = "", *, infusing: bool = False) -> None:
        self.raises.append(AlarmRaise(condition_info(condition, infusing=infusing), detail))

    def clear(self, condition: str) -> None:
        self.clears.append(condition)

    def extend(self, other: Effects) -> None:
        self.frames += other.frames
        self.raises += other.raises
        self.clears += other.clears
        self.events += other.events
        self.completions += other.completions
