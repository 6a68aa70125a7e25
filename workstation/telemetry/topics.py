"""The MQTT topic tree: ``{root}/{unit}/{bed}/{workstation}/...``.

One workstation publishes under its own base topic only (the broker's ACL enforces it):

    {base}/status                       retained; periodic; the last will says offline
    {base}/channels/{letter}/observation retained, periodic and on change (PCD-01 like)
    {base}/events                       infusion and workstation events (PCD-10 like)
    {base}/alarms                       alarm raise / update / acknowledge / clear (PCD-04 like)
    {base}/alarms/active                retained list of the active alarms
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_LEVEL = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class Stream(StrEnum):
    STATUS = "status"
    OBSERVATION = "observation"
    EVENTS = "events"
    ALARMS = "alarms"
    ACTIVE_ALARMS = "active_alarms"


@dataclass(frozen=True)
class Topics:
    """The topics of one workstation."""

    root: str
    unit: str
    bed: str
    workstation: str

    def __post_init__(self) -> None:
        for name in ("root", "unit", "bed", "workstation"):
            value = getattr(self, name)
            if not _LEVEL.match(value):
                raise ValueError(f"topic level {name}={value!r}: use 1-32 letters, digits, "
                                 "'-' or '_' (no '/', '+', '#')")

    @property
    def base(self) -> str:
        return f"{self.root}/{self.unit}/{self.bed}/{self.workstation}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"

    def observation(self, letter: str) -> str:
        return f"{self.base}/channels/{letter}/observation"

    @property
    def events(self) -> str:
        return f"{self.base}/events"

    @property
    def alarms(self) -> str:
        return f"{self.base}/alarms"

    @property
    def active_alarms(self) -> str:
        return f"{self.base}/alarms/active"


def subscription(root: str = "icu") -> str:
    """What a central monitor subscribes to: every workstation under ``root``."""
    return f"{root}/#"


@dataclass(frozen=True)
class ParsedTopic:
    unit: str
    bed: str
    workstation: str
    stream: Stream
    channel: str | None = None


def parse_topic(topic: str, root: str = "icu") -> ParsedTopic | None:
    """The workstation and stream of a topic of ours; None for anything else."""
    parts = topic.split("/")
    if len(parts) < 5 or parts[0] != root:
        return None
    unit, bed, ws, rest = parts[1], parts[2], parts[3], parts[4:]
    match rest:
        case ["status"]:
            return ParsedTopic(unit, bed, ws, Stream.STATUS)
        case ["events"]:
            return ParsedTopic(unit, bed, ws, Stream.EVENTS)
        case ["alarms"]:
            return ParsedTopic(unit, bed, ws, Stream.ALARMS)
        case ["alarms", "active"]:
            return ParsedTopic(unit, bed, ws, Stream.ACTIVE_ALARMS)
        case ["channels", letter, "observation"]:
            return ParsedTopic(unit, bed, ws, Stream.OBSERVATION, letter)
    return None
