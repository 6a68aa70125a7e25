"""Which modules are on which bus: discovery from heartbeats, hot-plug and the watchdog.

Pure: ``on_heartbeat``, ``on_status`` and ``tick`` take the time and return what changed. A
module appears with its first heartbeat, is lost when none came for ``timeout_s`` (CiA 425
consumer heartbeat) and returns with the next one.

A reboot is seen from the module's boot identity, whichever frame comes first (H14): the
Heartbeat's 4-bit ``BootCount`` (+1 per power-up) or its low two bits in every Status. A BOOT
heartbeat without a new count (a module that does not count) is a reboot too. One reboot is
reported once, however many frames show it (dbc/README.md, "Boot identity").
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from dbc.frames import ModuleHeartbeat, Status
from dbc.vocabulary import ModuleKind, ModuleState

__all__ = ["ModuleChange", "ModuleEvent", "ModuleInfo", "ModuleRegistry"]


class ModuleChange(Enum):
    APPEARED = "appeared"
    LOST = "lost"
    RETURNED = "returned"
    REBOOTED = "rebooted"
    KIND_CHANGED = "kind changed"  # another module was plugged into the slot
    SAFE_STATE = "entered its safe state"  # internal fault: motor disabled
    DUPLICATE = "answered by two modules"  # two identities alternate in one slot (issue 10)
    IDENTITY_CHANGED = "has another serial than the one remembered for the slot"


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
        if self.change is ModuleChange.DUPLICATE and self.previous is not None:
            return (f"{where}: two modules answer: serial {self.previous.serial} and serial "
                    f"{i.serial} (boot identities alternate)")
        return f"{where}: {what} {self.change.value}"


@dataclass(frozen=True)
class _Boot:
    """A module's boot identity as last seen: the Heartbeat's count (None while only a Status
    has shown a new boot) and the low two bits a Status carries."""

    count: int | None
    low: int


STATUS_BOOT_MASK = 0b11  # Status carries the low two bits of the Heartbeat's BootCount
DUPLICATE_WINDOW_S = 10.0  # an identity seen again within this, after another: two modules
# Two modules answer as long as the slot's heartbeats still alternate between identities; the
# episode ends this long after the last alternation (three heartbeat periods of one identity
# alone, a module's own conflict hold), and the identity heard alone is the slot's module
# again (dbc/README.md, "Boot identity").
DUPLICATE_HOLD_S = 3.0

Identity = tuple[int, int]  # (serial, boot count)


class ModuleRegistry:
    def __init__(self, timeout_s: float = 3.0) -> None:
        self.timeout_s = timeout_s
        self.modules: dict[tuple[str, int], ModuleInfo] = {}
        self._boots: dict[tuple[str, int], _Boot] = {}
        # Issue 10: (serial, boot count) -> last seen, per slot; a slot back to an identity it
        # left within the window has two modules answering.
        self._identities: dict[tuple[str, int], dict[Identity, float]] = {}
        self._previous: dict[tuple[str, int], Identity] = {}  # the last heartbeat's identity
        self._duplicate_at: dict[tuple[str, int], float] = {}  # last alternation
        self._episode: dict[tuple[str, int], set[Identity]] = {}  # identities of a duplicate
        self._remembered: dict[tuple[str, int], int] = {}  # slot -> serial, from the event log

    def remember_serial(self, bus: str, node: int, serial: int) -> None:
        """The serial last seen in a slot before this workstation started (event log)."""
        self._remembered[(bus, node)] = serial

    def duplicate(self, bus: str, node: int, now: float) -> bool:
        """Whether two modules answered in this slot: its heartbeats alternated between two
        identities within the last ``DUPLICATE_HOLD_S``."""
        at = self._duplicate_at.get((bus, node))
        return at is not None and now - at <= DUPLICATE_HOLD_S

    def _alternates(self, key: tuple[str, int], ident: Identity, now: float) -> bool:
        """This heartbeat returns to an identity the slot left within the window."""
        seen = {i: t for i, t in self._identities.get(key, {}).items()
                if now - t <= DUPLICATE_WINDOW_S}
        last = max(seen, key=seen.__getitem__) if seen else None
        back = last is not None and last != ident and ident in seen
        seen[ident] = now
        self._identities[key] = seen
        return back

    def _rebooted(self, key: tuple[str, int], beat: ModuleHeartbeat) -> bool:
        """Whether this heartbeat shows a reboot not yet reported."""
        boot = self._boots.get(key)
        self._boots[key] = _Boot(beat.boot_count, beat.boot_count & STATUS_BOOT_MASK)
        if boot is None:
            return beat.state is ModuleState.BOOT
        if boot.count is None:  # a Status already reported this boot; another since?
            return beat.boot_count & STATUS_BOOT_MASK != boot.low
        return beat.boot_count != boot.count or beat.state is ModuleState.BOOT

    def on_heartbeat(self, bus: str, beat: ModuleHeartbeat, now: float) -> list[ModuleEvent]:
        key = (bus, beat.node)
        known = self.modules.get(key)
        ident = (beat.serial, beat.boot_count)
        alternates = self._alternates(key, ident, now)
        previous = self._previous.get(key)
        self._previous[key] = ident
        if known is not None and (alternates or self.duplicate(bus, beat.node, now)):
            # Two modules: keep the slot's identity, stay present, report it once. Only an
            # alternation keeps the episode on: once one identity alone is heard, it ends.
            first = not self.duplicate(bus, beat.node, now)
            if alternates or ident != previous:
                self._duplicate_at[key] = now
                self._episode.setdefault(key, set()).update(
                    {ident} if previous is None else {ident, previous})
            self.modules[key] = replace(known, last_seen=now, online=True)
            twin = replace(known, serial=beat.serial, last_seen=now)
            return [ModuleEvent(ModuleChange.DUPLICATE, twin, known)] if first else []
        info = ModuleInfo(bus, beat.node, beat.kind, beat.serial, beat.firmware, beat.state,
                          first_seen=known.first_seen if known else now, last_seen=now)
        self.modules[key] = info
        episode = self._episode.pop(key, None)
        if known is not None and episode is not None and ident in episode and \
                beat.state is not ModuleState.BOOT:
            # One module answers again, one the episode heard all along: follow it, and its
            # identity is no reboot (the twin's may have been taken for one).
            self._boots[key] = _Boot(beat.boot_count, beat.boot_count & STATUS_BOOT_MASK)
            if known.kind != beat.kind or known.serial != beat.serial:
                return [ModuleEvent(ModuleChange.KIND_CHANGED, info, known)]
            return [ModuleEvent(ModuleChange.RETURNED, info, known)] if not known.online else []
        rebooted = self._rebooted(key, beat)
        if known is None:
            remembered = self._remembered.pop(key, None)
            if remembered is not None and remembered != beat.serial:
                old = replace(info, serial=remembered)
                return [ModuleEvent(ModuleChange.APPEARED, info),
                        ModuleEvent(ModuleChange.IDENTITY_CHANGED, info, old)]
            return [ModuleEvent(ModuleChange.APPEARED, info)]
        events = []
        if known.kind != beat.kind or known.serial != beat.serial:
            events.append(ModuleEvent(ModuleChange.KIND_CHANGED, info, known))
        elif rebooted:
            events.append(ModuleEvent(ModuleChange.REBOOTED, info, known))
        elif beat.state is ModuleState.SAFE_STATE and known.state is not ModuleState.SAFE_STATE:
            events.append(ModuleEvent(ModuleChange.SAFE_STATE, info, known))
        if not known.online:
            events.append(ModuleEvent(ModuleChange.RETURNED, info, known))
        return events

    def on_status(self, bus: str, status: Status, now: float) -> list[ModuleEvent]:
        """A Status whose boot bits changed is a reboot, even before the BOOT heartbeat.

        Presence stays the heartbeat's business: a Status neither makes a module appear nor
        keeps it online. Deliver the events before the Status itself, so whoever handles it
        knows the module rebooted before seeing its stopped state."""
        key = (bus, status.node)
        known, boot = self.modules.get(key), self._boots.get(key)
        if known is None or boot is None or status.boot_count == boot.low or \
                self.duplicate(bus, status.node, now):
            return []
        episode = self._episode.get(key)
        if episode is not None and any(status.boot_count == count & STATUS_BOOT_MASK
                                       for _, count in episode):
            return []  # a duplicate just ended: the next heartbeat says which module stayed
        self._boots[key] = _Boot(None, status.boot_count)
        return [ModuleEvent(ModuleChange.REBOOTED, replace(known, state=ModuleState.BOOT),
                            known)]

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
