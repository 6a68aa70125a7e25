"""Another sender on the bus (issue 10, B2/B3/B4): pure detection, the station raises the alarms.

* A frame on an identifier only the workstation sends (``Command``, ``Program``,
  ``WS_Heartbeat``): python-can never hands a bus its own frames, so someone else sent it.
* Signs of a second sender on a module's identifiers, from the decoder's freshness checks
  (``FrameDecoder.on_anomaly``): replayed frames, or two live counter sequences (two modules in
  one slot). One stray frame is a fault the counter already dropped; a few in a window is a
  finding.

Conditions and texts: dbc/README.md, "Intrusion, duplicates and plausibility".
"""

from __future__ import annotations

from dataclasses import dataclass, field

WINDOW_S = 10.0
REPLAY_COUNT = 3  # replayed frames of one node within the window -> REPLAYED_FRAMES
CONFLICT_COUNT = 2  # two-sequence conflicts of one node within the window -> DUPLICATE_MODULE
QUIET_S = 30.0  # a finding ends after this long without a new sign (the HIGH alarm latches)
# Two modules in a slot end sooner: while on, the slot's Status/Delivery/Progress are not taken
# (the view would freeze), so the slot is followed again once one sequence alone has been heard
# for three heartbeat periods (the module's own conflict hold: it accepts commands again then).
DUPLICATE_QUIET_S = 3.0
_QUIET_BY_CONDITION = {"DUPLICATE_MODULE": DUPLICATE_QUIET_S}

_WS_ONLY = {0x100: "Command", 0x200: "Program"}


def workstation_only(frame_id: int) -> str | None:
    """The message name if only the workstation sends on ``frame_id``, else None."""
    if frame_id == 0x100:
        return "WS_Heartbeat"
    base, node = frame_id & 0x780, frame_id & 0x7F
    name = _WS_ONLY.get(base)
    return name if name is not None and 1 <= node <= 31 else None


@dataclass(frozen=True)
class Finding:
    condition: str  # FOREIGN_SENDER, REPLAYED_FRAMES or DUPLICATE_MODULE
    bus: str
    node: int  # 0 for the workstation's own identifiers
    frame_id: int
    detail: str  # for the alarm text and the event


@dataclass
class IntrusionMonitor:
    window_s: float = WINDOW_S
    _signs: dict[tuple[str, str, int], list[float]] = field(default_factory=dict)
    _active: dict[tuple[str, str, int], float] = field(default_factory=dict)  # -> last sign

    def own_identifier(self, bus: str, frame_id: int, now: float) -> Finding | None:
        """A frame on a workstation-only identifier; a Finding the first time (per id) until
        it has been quiet for ``QUIET_S``."""
        name = workstation_only(frame_id)
        if name is None:
            return None
        node = frame_id & 0x7F if name != "WS_Heartbeat" else 0
        where = f", slot {node}" if node else ""
        return self._sign(("FOREIGN_SENDER", bus, frame_id), now, 1, Finding(
            "FOREIGN_SENDER", bus, node, frame_id,
            f"another sender on id 0x{frame_id:03X} ({name}{where}) on {bus}"))

    def anomaly(self, bus: str, node: int, frame_id: int, what: str,
                now: float) -> Finding | None:
        """A sign from the decoder: ``what`` is "replay" or "two-senders"."""
        if workstation_only(frame_id) is not None:
            return self.own_identifier(bus, frame_id, now)
        duplicate = ("DUPLICATE_MODULE", bus, node)
        if what == "replay" and duplicate in self._active:
            # A second module explains the stray frames: it goes on, it is not a replay.
            self._active[duplicate] = now
            return None
        if what == "two-senders":
            self._signs.pop(("REPLAYED_FRAMES", bus, node), None)  # those were the twin's
            return self._sign(("DUPLICATE_MODULE", bus, node), now, CONFLICT_COUNT, Finding(
                "DUPLICATE_MODULE", bus, node, frame_id,
                f"two modules answer in slot {node} on {bus} (two counter sequences on "
                f"0x{frame_id:03X})"))
        return self._sign(("REPLAYED_FRAMES", bus, node), now, REPLAY_COUNT, Finding(
            "REPLAYED_FRAMES", bus, node, frame_id,
            f"replayed frames of slot {node} on {bus} (0x{frame_id:03X})"))

    def active(self, condition: str, bus: str, node: int) -> bool:
        """Whether this finding is still on (signs within ``QUIET_S``)."""
        return (condition, bus, node) in self._active

    def sustain(self, condition: str, bus: str, node: int, now: float) -> None:
        """Another source (the registry: two identities alternate) still sees the condition:
        it is on, and ends only once that source and the counters have both been quiet."""
        self._active[(condition, bus, node)] = now

    def quiet(self, now: float) -> list[tuple[str, str, int]]:
        """Findings without a new sign for ``QUIET_S`` (``DUPLICATE_QUIET_S`` for two modules):
        (condition, bus, node or id) to clear."""
        ended = [key for key, last in self._active.items()
                 if now - last > _QUIET_BY_CONDITION.get(key[0], QUIET_S)]
        for key in ended:
            del self._active[key]
        return ended

    def _sign(self, key: tuple[str, str, int], now: float, count: int,
              finding: Finding) -> Finding | None:
        times = [t for t in self._signs.get(key, []) if now - t < self.window_s] + [now]
        self._signs[key] = times
        if key in self._active:
            self._active[key] = now
            return None
        if len(times) < count:
            return None
        self._active[key] = now
        return finding
