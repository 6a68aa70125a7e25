"""What a controller decision asks the supervisor to do: frames to send, alarms, log entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from channels.commands import Completion
from channels.conditions import Condition, condition_name
from channels.events import Event, EventKind
from dbc.frames import Frame

__all__ = ["AlarmRaise", "Effects"]


@dataclass(frozen=True)
class AlarmRaise:
    """A condition raised: the workstation's catalogue gives it priority, text and latching."""

    condition: str  # a ChannelCondition or a module AlarmCondition, by name
    detail: str = ""
    infusing: bool = False  # the motor delivers: an open door is then HIGH and stops the flow


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

    def alarm(self, condition: Condition, detail: str = "", *, infusing: bool = False) -> None:
        self.raises.append(AlarmRaise(condition_name(condition), detail, infusing))

    def clear(self, condition: Condition) -> None:
        self.clears.append(condition_name(condition))

    def extend(self, other: Effects) -> None:
        self.frames += other.frames
        self.raises += other.raises
        self.clears += other.clears
        self.events += other.events
        self.completions += other.completions
