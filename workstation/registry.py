"""Which modules are on which bus: discovery from heartbeats, hot-plug and the watchdog.

Pure: ``on_heartbeat`` and ``tick`` take the time and return what changed. A module appears with
its first heartbeat, is lost when none came for ``timeout_s`` (CiA 425 consumer heartbeat),
returns with the next one, and announces a reboot with a BOOT heartbeat.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from workstation.frames import ModuleHeartbeat
from workstation.vocabulary import ModuleKind, ModuleState


class ModuleChange(Enum):
    APPEARED = "appeared"
    LOST = "lost"
    RETURNED = "returned"
    REBOOTED = "rebooted"
    KIND_CHANGED = "kind changed"  # another module was plugged into the slot
    SAFE_STATE = "entered its safe state"  # internal fault: motor disabled


@dataclass(frozen=True)
class ModuleInfo:
    bus: str
    node: int
    kind: ModuleKind
    serial: int
    firmware: str
    state: ModuleState
    first_seen: float
    last_seen: float
    online: bool = True


@dataclass(frozen=True)
class ModuleEvent:
    change: ModuleChange
    info: ModuleInfo
    previous: ModuleInfo | None = None

    def describe(self) -> str:
        i = self.info
        what = f"{i.kind.name.lower()} module (serial {i.serial}, fw {i.firmware})"
        where = f"slot {i.node} on {i.bus}"
        if self.change is ModuleChange.KIND_CHANGED and self.previous is not None:
            return (f"{where}: {self.previous.kind.name.lower()} module "
                    f"{self.previous.serial} replaced by {what}")
        return f"{where}: {what} {self.change.value}"


class ModuleRegistry:
    def __init__(self, timeout_s: float = 3.0) -> None:
        self.timeout_s = timeout_s
        self.modules: dict[tuple[str, int], ModuleInfo] = {}

    def on_heartbeat(self, bus: str, beat: ModuleHeartbeat, now: float) -> list[ModuleEvent]:
        key = (bus, beat.node)
        known = self.modules.get(key)
        info = ModuleInfo(bus, beat.node, beat.kind, beat.serial, beat.firmware, beat.state,
                          first_seen=known.first_seen if known else now, last_seen=now)
        self.modules[key] = info
        if known is None:
            return [ModuleEvent(ModuleChange.APPEARED, info)]
        events = []
        if known.kind != beat.kind or known.serial != beat.serial:
            events.append(ModuleEvent(ModuleChange.KIND_CHANGED, info, known))
        elif beat.state is ModuleState.BOOT:
            events.append(ModuleEvent(ModuleChange.REBOOTED, info, known))
        elif beat.state is ModuleState.SAFE_STATE and known.state is not ModuleState.SAFE_STATE:
            events.append(ModuleEvent(ModuleChange.SAFE_STATE, info, known))
        if not known.online:
            events.append(ModuleEvent(ModuleChange.RETURNED, info, known))
        return events

    def tick(self, now: float) -> list[ModuleEvent]:
        events = []
        for key, info in self.modules.items():
            if info.online and now - info.last_seen > self.timeout_s:
                lost = replace(info, online=False)
                self.modules[key] = lost
                events.append(ModuleEvent(ModuleChange.LOST, lost, info))
        return events

    def get(self, bus: str, node: int) -> ModuleInfo | None:
        return self.modules.get((bus, node))
